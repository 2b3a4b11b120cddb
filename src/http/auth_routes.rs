//! `POST /api/v1/auth/challenge` and `POST /api/v1/auth/verify` (protocol §4): sign-in with an
//! SSH key, answered in the envelope. A challenge is made in memory; a verify checks the
//! signature on a blocking thread and writes the token on the store's thread. Every sign-in
//! failure is the same 401 `unauthorized`. Both are limited per client address (`crate::client_addr`, so behind
//! `server.trusted_proxies` the forwarded one), challenges also per key.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use serde::Deserialize;

use super::envelope::{Answer, ApiError};
use crate::server::AppState;

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
) -> Result<Answer, ApiError> {
    let client = client_of(&req, &state);
    // Challenges are limited per client address: how often, and how many unanswered at once.
    state.limits.check_challenge(client)?;
    let challenge = state.auth.challenge(&body.public_key, client)?;
    Answer::serialize(StatusCode::OK, &challenge)
}

/// `POST /api/v1/auth/verify` → `{token, user, expires_at, device_id?}`, or 401 `unauthorized`.
pub async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<VerifyBody>,
) -> Result<Answer, ApiError> {
    let client = client_of(&req, &state);
    // Sign-in attempts are limited per client address, so keys cannot be guessed at speed.
    state.limits.check_sign_in(client)?;
    let issued = state
        .auth
        .verify(&body.challenge_id, &body.signature, client, body.ttl_s)
        .await?;
    Ok(Answer::serialize(StatusCode::OK, &issued)?.no_store())
}

/// The client's address: the peer's, or behind `server.trusted_proxies` the forwarded one.
pub(super) fn client_of(req: &HttpRequest, state: &AppState) -> Option<std::net::IpAddr> {
    crate::client_addr::client_ip(
        req.peer_addr().map(|addr| addr.ip()),
        req.headers(),
        &state.config.server.trusted_proxies,
    )
}
