//! Who is calling an HTTP route: the one place an HTTP request is authenticated. With
//! `auth.enabled` the token comes in `Authorization: Bearer …` or `?token=…` (browsers'
//! EventSource sends no headers); without it every client is the user `local` (protocol §5).
//! It also counts the request against the caller's rate limit.

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{web, FromRequest, HttpRequest};
use actors::command::Caller;
use actors::error::RelayError;
use actors::ids::UserId;
use futures_util::future::LocalBoxFuture;

use super::envelope::ApiError;
use crate::auth::{Bearer, TokenWatch};
use crate::server::AppState;

/// The caller of an HTTP request, and with auth on the token it came with (its id and expiry).
pub struct HttpCaller(pub Caller, pub Option<Bearer>);

impl HttpCaller {
    /// For a route that keeps streaming: a watch that ends when the caller's token is revoked
    /// or expires (`None` without auth).
    pub fn watch(&self, state: &AppState) -> Option<TokenWatch> {
        self.1.as_ref().map(|bearer| state.auth.watch(bearer))
    }
}

/// The token a request carries, from the `Authorization` header or the `token` query parameter.
pub fn request_token(req: &HttpRequest) -> Option<String> {
    token_in(req.headers(), req.query_string())
}

/// The token in `Authorization: Bearer …`, else in the query's `token`.
pub fn token_in(headers: &HeaderMap, query: &str) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    bearer.or_else(|| {
        web::Query::<std::collections::HashMap<String, String>>::from_query(query)
            .ok()
            .and_then(|q| q.get("token").cloned())
    })
}

/// The user a request acts for: `local` without auth, else the owner of its valid token.
pub async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<UserId, RelayError> {
    identify(req, state).await.map(|(user, _)| user)
}

/// [`authenticate`], with the token's id and expiry when auth is on. The token is looked up on
/// the store's thread; this only waits.
pub async fn identify(
    req: &HttpRequest,
    state: &AppState,
) -> Result<(UserId, Option<Bearer>), RelayError> {
    if !state.config.auth.enabled {
        return Ok((UserId::new("local"), None));
    }
    let token = request_token(req).ok_or_else(|| {
        RelayError::Unauthorized("a token is required (Authorization: Bearer …)".into())
    })?;
    let bearer = state.auth.bearer(&token).await?;
    Ok((bearer.user.clone(), Some(bearer)))
}

impl FromRequest for HttpCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Some(state) = req.app_data::<web::Data<AppState>>() else {
                return Err(RelayError::Internal("the server state is missing".into()).into());
            };
            let (user, bearer) = identify(&req, state).await?;
            state.limits.check(&user)?;
            let caller = Caller {
                user,
                connection: None,
            };
            Ok(HttpCaller(caller, bearer))
        })
    }
}
