//! Who is calling an HTTP route. Until sign-in arrives every client is the user `local`
//! (protocol §5); this extractor is the one place that will check a token.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use actors::command::Caller;
use actors::ids::UserId;

/// The caller of an HTTP request.
pub struct HttpCaller(pub Caller);

impl FromRequest for HttpCaller {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(HttpCaller(Caller {
            user: UserId::new("local"),
            connection: None,
        })))
    }
}
