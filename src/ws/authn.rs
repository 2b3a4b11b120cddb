//! A WebSocket connection's standing with sign-in (protocol §3): the token comes in the upgrade
//! request (`Authorization: Bearer`, or `?token=` for browsers) or in `hello.token`; without a
//! valid one in time the connection closes with 4001, and a token revoked or expired while it is
//! open closes it with 4003.

use std::sync::Arc;

use actix_web::http::header::HeaderMap;
use actors::error::RelayError;
use actors::ids::UserId;

use crate::auth::Auth;
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
    /// Signed in with `token`.
    SignedIn {
        auth: Arc<Auth>,
        token: String,
        user: UserId,
    },
}

impl WsAuth {
    /// Reads the upgrade request's token, if any.
    pub fn at_upgrade(headers: &HeaderMap, query: &str, state: &AppState) -> WsAuth {
        if !state.config.auth.enabled {
            return WsAuth::Off;
        }
        match token_in(headers, query) {
            None => WsAuth::Pending(state.auth.clone()),
            Some(token) => match state.auth.authenticate(&token) {
                Ok(user) => WsAuth::SignedIn {
                    auth: state.auth.clone(),
                    token,
                    user,
                },
                Err(_) => WsAuth::Failed,
            },
        }
    }

    /// Whether this connection must sign in (and be watched for revocation).
    pub fn required(&self) -> bool {
        !matches!(self, WsAuth::Off)
    }

    /// Settles sign-in at `hello`: the user, or `unauthorized`.
    pub fn on_hello(&mut self, hello_token: Option<&str>) -> Result<UserId, RelayError> {
        let denied = || RelayError::Unauthorized(crate::auth::UNAUTHORIZED_MESSAGE.into());
        match self {
            WsAuth::Off => Ok(UserId::new("local")),
            WsAuth::SignedIn { user, .. } => Ok(user.clone()),
            WsAuth::Failed => Err(denied()),
            WsAuth::Pending(auth) => {
                let auth = auth.clone();
                let token = hello_token.ok_or_else(denied)?.to_string();
                let user = auth.authenticate(&token).map_err(|_| denied())?;
                *self = WsAuth::SignedIn {
                    auth,
                    token,
                    user: user.clone(),
                };
                Ok(user)
            }
        }
    }

    /// False once a signed-in connection's token was revoked or expired.
    pub fn still_valid(&self) -> bool {
        match self {
            WsAuth::SignedIn { auth, token, .. } => auth.token_still_valid(token),
            _ => true,
        }
    }

    /// Whether the upgrade already carried a bad token.
    pub fn failed(&self) -> bool {
        matches!(self, WsAuth::Failed)
    }
}
