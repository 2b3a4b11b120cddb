//! A WebSocket connection's standing with sign-in (protocol §3): the token comes in the upgrade
//! request (`Authorization: Bearer`, or `?token=` for browsers) or in `hello.token`; without a
//! valid one in time the connection closes with 4001, and a token revoked or expired while it is
//! open closes it with 4003 (pushed through the [`TokenWatch`] it holds once signed in).

use std::sync::Arc;

use actix_web::http::header::HeaderMap;
use actors::error::RelayError;
use actors::ids::UserId;

use crate::auth::{Auth, Bearer, TokenWatch};
use crate::http::caller::token_in;
use crate::server::AppState;

/// How a connection stands with sign-in.
pub enum WsAuth {
    /// `auth.enabled = false`: every client is `local`.
    Off,
    /// No token yet; `hello.token` may bring one.
    Pending(Arc<Auth>),
    /// The upgrade request carried a token that did not authenticate.
    Failed,
    /// Signed in with the token `bearer` (its id and expiry; never its text).
    SignedIn { auth: Arc<Auth>, bearer: Bearer },
}

impl WsAuth {
    /// Reads the upgrade request's token, if any, and checks it (on the store's thread).
    pub async fn at_upgrade(headers: &HeaderMap, query: &str, state: &AppState) -> WsAuth {
        if !state.config.auth.enabled {
            return WsAuth::Off;
        }
        match token_in(headers, query) {
            None => WsAuth::Pending(state.auth.clone()),
            Some(token) => match state.auth.bearer(&token).await {
                Ok(bearer) => WsAuth::SignedIn {
                    auth: state.auth.clone(),
                    bearer,
                },
                Err(_) => WsAuth::Failed,
            },
        }
    }

    /// Whether this connection must sign in (and be watched for revocation).
    pub fn required(&self) -> bool {
        !matches!(self, WsAuth::Off)
    }

    /// Settles sign-in at `hello`: the standing after it, and the user or `unauthorized`. A
    /// token in `hello` is checked on the store's thread; this only waits.
    pub async fn on_hello(
        self,
        hello_token: Option<String>,
    ) -> (WsAuth, Result<UserId, RelayError>) {
        let denied = || RelayError::Unauthorized(crate::auth::UNAUTHORIZED_MESSAGE.into());
        match self {
            WsAuth::Off => (WsAuth::Off, Ok(UserId::new("local"))),
            WsAuth::SignedIn { auth, bearer } => {
                let user = bearer.user.clone();
                (WsAuth::SignedIn { auth, bearer }, Ok(user))
            }
            WsAuth::Failed => (WsAuth::Failed, Err(denied())),
            WsAuth::Pending(auth) => {
                let Some(token) = hello_token else {
                    return (WsAuth::Pending(auth), Err(denied()));
                };
                match auth.bearer(&token).await {
                    Ok(bearer) => {
                        let user = bearer.user.clone();
                        (WsAuth::SignedIn { auth, bearer }, Ok(user))
                    }
                    Err(_) => (WsAuth::Pending(auth), Err(denied())),
                }
            }
        }
    }

    /// For a signed-in connection, the watch that ends when its token is revoked or expires.
    pub fn watch(&self) -> Option<TokenWatch> {
        match self {
            WsAuth::SignedIn { auth, bearer } => Some(auth.watch(bearer)),
            _ => None,
        }
    }

    /// The paired device of the signed-in token, if it was issued to one.
    pub fn device_id(&self) -> Option<&str> {
        match self {
            WsAuth::SignedIn { bearer, .. } => bearer.device_id.as_deref(),
            _ => None,
        }
    }

    /// Whether the upgrade already carried a bad token.
    pub fn failed(&self) -> bool {
        matches!(self, WsAuth::Failed)
    }
}
