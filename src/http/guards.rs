//! What every HTTP request passes before a route runs: the [`Perimeter`] (a foreign `Host`, or a
//! state change from a foreign origin, is refused), a declared body over the limit (413 before a
//! byte of it is read), and a deadline for the body (`server.body_timeout_s`), so a client that
//! sends headers and then nothing cannot hold a connection.
//!
//! [`Perimeter`]: crate::perimeter::Perimeter

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web;
use actix_web::HttpMessage;
use actors::error::RelayError;
use bytes::Bytes;
use futures_util::Stream;

use super::envelope;
use crate::server::AppState;

/// The message of a body that did not arrive in time.
pub const BODY_TIMEOUT: &str = "the request body did not arrive within server.body_timeout_s";

/// Refuses what must not reach a route, and puts a deadline on the body of what may.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let refusal = state
        .perimeter
        .check_request(req.method(), req.headers())
        .err()
        .or_else(|| declared_too_large(&req, body_limit(&req, &state)));
    if let Some(error) = refusal {
        let response = envelope::error(req.request(), &error);
        return Ok(req.into_response(response).map_into_right_body());
    }
    if has_body(&req) {
        let within = Duration::from_secs(state.config.server.body_timeout_s);
        let body = req.take_payload();
        req.set_payload(Payload::Stream {
            payload: Box::pin(DeadlineBody {
                inner: body,
                deadline: Box::pin(tokio::time::sleep(within)),
            }),
        });
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The most a request's body may hold: a prompt's may carry images, every other body is small,
/// so no other route (the sign-in routes above all) can be made to read megabytes.
fn body_limit(req: &ServiceRequest, state: &AppState) -> usize {
    let is_prompt = req.method() == actix_web::http::Method::POST
        && req.match_pattern().as_deref() == Some(super::prompts::ROUTE);
    if is_prompt {
        state.prompt_body_limit
    } else {
        state.body_limit
    }
}

/// `too_large` when `Content-Length` announces more than the server reads.
fn declared_too_large(req: &ServiceRequest, limit: usize) -> Option<RelayError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    (declared > limit as u64).then(|| {
        log::info!("refused a body of {declared} bytes (limit {limit})");
        RelayError::TooLarge(format!("the body is over the limit of {limit} bytes"))
    })
}

fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// A request body that ends in an error once its deadline has passed.
struct DeadlineBody {
    inner: Payload,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl Stream for DeadlineBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                BODY_TIMEOUT,
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }
}
