//! Who is calling an HTTP route. Until sign-in arrives every client is the user `local`
//! (protocol §5); this extractor is the one place that will check a token. It also counts the
//! request against the caller's rate limit.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use actors::command::Caller;
use actors::ids::UserId;

use super::envelope::ApiError;
use crate::server::AppState;

/// The caller of an HTTP request.
pub struct HttpCaller(pub Caller);

impl FromRequest for HttpCaller {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = Caller {
            user: UserId::new("local"),
            connection: None,
        };
        let limited = req
            .app_data::<web::Data<AppState>>()
            .map(|state| state.limits.check(&caller.user))
            .unwrap_or(Ok(()));
        ready(match limited {
            Ok(()) => Ok(HttpCaller(caller)),
            Err(error) => Err(ApiError::new(req, error).into()),
        })
    }
}
