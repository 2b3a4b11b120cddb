//! `POST /api/v1/auth/challenge` and `POST /api/v1/auth/verify` (protocol §4): sign-in with an
//! SSH key, answered in the envelope. Both run on a blocking thread (they read the
//! `authorized_keys` file and write the store). Every sign-in failure is the same 401
//! `unauthorized`.

use crate::server::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use actors::error::RelayError;
use serde::Deserialize;

use super::envelope::respond;
use crate::auth::AuthError;

/// The body of `POST /api/v1/auth/challenge`.
#[derive(Deserialize)]
pub struct ChallengeBody {
    /// An OpenSSH public key line (`ssh-ed25519 AAAA… comment`).
    public_key: String,
}

/// The body of `POST /api/v1/auth/verify`.
#[derive(Deserialize)]
pub struct VerifyBody {
    challenge_id: String,
    /// The armored SSHSIG of the challenge's nonce.
    signature: String,
}

/// `POST /api/v1/auth/challenge` → `{challenge_id, nonce, namespace, expires_at}`.
pub async fn challenge(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ChallengeBody>,
) -> HttpResponse {
    let auth = state.auth.clone();
    let ChallengeBody { public_key } = body.into_inner();
    let result = run(move || auth.challenge(&public_key)).await;
    respond(&req, StatusCode::OK, result)
}

/// `POST /api/v1/auth/verify` → `{token, user, expires_at}`, or 401 `unauthorized`.
pub async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<VerifyBody>,
) -> HttpResponse {
    let auth = state.auth.clone();
    let VerifyBody {
        challenge_id,
        signature,
    } = body.into_inner();
    let peer = req.peer_addr().map(|addr| addr.ip());
    // Sign-in attempts are limited per client address, so keys cannot be guessed at speed.
    if let Err(error) = state.limits.check_sign_in(peer) {
        return crate::http::envelope::error(&req, &error);
    }
    let result = run(move || auth.verify(&challenge_id, &signature, peer)).await;
    let mut response = respond(&req, StatusCode::OK, result);
    // A token must not be kept by a cache on the way.
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    response
}

/// Runs `work` on a blocking thread and turns its answer into the envelope's data or error.
async fn run<T, F>(work: F) -> Result<serde_json::Value, RelayError>
where
    T: serde::Serialize,
    F: FnOnce() -> Result<T, AuthError> + Send + 'static,
    T: Send + 'static,
{
    match web::block(work).await {
        Ok(Ok(answer)) => serde_json::to_value(answer)
            .map_err(|e| RelayError::Internal(format!("cannot encode the answer: {e}"))),
        Ok(Err(error)) => Err(error.to_relay()),
        Err(_) => Err(RelayError::Unavailable(
            "the server is shutting down".into(),
        )),
    }
}
