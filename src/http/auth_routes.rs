//! `POST /api/v1/auth/challenge` and `POST /api/v1/auth/verify` (protocol §4): sign-in with an
//! SSH key, answered in the envelope. Both run on a blocking thread (they read the
//! `authorized_keys` file and write the store). Every sign-in failure is the same 401
//! `unauthorized`. Both are limited per client address (`crate::client_addr`, so behind
//! `server.trusted_proxies` the forwarded one), challenges also per key.

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
    /// A shorter life for the token than `auth.token_ttl_s`, in seconds.
    #[serde(default)]
    ttl_s: Option<u64>,
}

/// `POST /api/v1/auth/challenge` → `{challenge_id, nonce, namespace, expires_at}`.
pub async fn challenge(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ChallengeBody>,
) -> HttpResponse {
    let client = client_of(&req, &state);
    // Challenges are limited per client address: how often, and how many unanswered at once.
    if let Err(error) = state.limits.check_challenge(client) {
        return crate::http::envelope::error(&req, &error);
    }
    let auth = state.auth.clone();
    let ChallengeBody { public_key } = body.into_inner();
    let result = run(move || auth.challenge(&public_key, client)).await;
    respond(&req, StatusCode::OK, result)
}

/// `POST /api/v1/auth/verify` → `{token, user, expires_at, device_id?}`, or 401 `unauthorized`.
pub async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<VerifyBody>,
) -> HttpResponse {
    let auth = state.auth.clone();
    let VerifyBody {
        challenge_id,
        signature,
        ttl_s,
    } = body.into_inner();
    let client = client_of(&req, &state);
    // Sign-in attempts are limited per client address, so keys cannot be guessed at speed.
    if let Err(error) = state.limits.check_sign_in(client) {
        return crate::http::envelope::error(&req, &error);
    }
    let result = run(move || auth.verify(&challenge_id, &signature, client, ttl_s)).await;
    no_store(respond(&req, StatusCode::OK, result))
}

/// Marks `response` `Cache-Control: no-store`: a token or a device list must not be kept by a
/// cache on the way.
pub(super) fn no_store(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    response
}

/// The client's address: the peer's, or behind `server.trusted_proxies` the forwarded one.
pub(super) fn client_of(req: &HttpRequest, state: &AppState) -> Option<std::net::IpAddr> {
    crate::client_addr::client_ip(
        req.peer_addr().map(|addr| addr.ip()),
        req.headers(),
        &state.config.server.trusted_proxies,
    )
}

/// Runs `work` on a blocking thread and turns its answer into the envelope's data or error.
pub(super) async fn run<T, F>(work: F) -> Result<serde_json::Value, RelayError>
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
