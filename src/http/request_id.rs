//! `X-Request-Id`: every response carries one (the client's, when it sent a sensible one, else a
//! new one), and the request's log line names it.

use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};

use super::envelope::ApiError;

/// The header's name.
pub const HEADER: &str = "x-request-id";

/// The request's id, kept in the request's extensions.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id of `req` (set by [`middleware`]; a fresh one if it somehow is not).
    pub fn of(req: &HttpRequest) -> String {
        req.extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }
}

/// A client's id is echoed when it is 1–128 visible ASCII characters.
fn acceptable(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The client's id when acceptable, else a new one.
pub fn assign(headers: &HeaderMap) -> String {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Assigns the id, adds the header to the response (and to the body of a handler's
/// [`ApiError`]), and logs one line per request.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = assign(req.headers());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.path().to_string();
    let state = req
        .app_data::<actix_web::web::Data<crate::server::AppState>>()
        .cloned();
    let trusted = state
        .as_ref()
        .map_or(&[][..], |s| &s.config.server.trusted_proxies[..]);
    let peer =
        crate::client_addr::client_ip(req.peer_addr().map(|a| a.ip()), req.headers(), trusted);
    let response = next.call(req).await?;
    // A handler's error was answered without the request at hand: its body gets the id now.
    let named = response
        .response()
        .error()
        .and_then(|error| error.as_error::<ApiError>())
        .map(|error| error.body(&id));
    let mut response = match named {
        Some(body) => response.map_body(|_, _| EitherBody::right(body)),
        None => response.map_body(|_, body| EitherBody::left(body)),
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(HEADER), value);
    }
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    Answered {
        peer,
        method: &method,
        path: &path,
        route,
        status: response.status().as_u16(),
        started,
        id: &id,
    }
    .record(state.as_ref().map(|state| state.metrics.as_ref()));
    Ok(response)
}

/// A request that got its answer: counted under its route and logged in one line, for the app's
/// routes (by [`middleware`]) and for the WebSocket upgrade alike.
pub struct Answered<'a> {
    /// The client's address ([`crate::client_addr::client_ip`]).
    pub peer: Option<std::net::IpAddr>,
    pub method: &'a actix_web::http::Method,
    pub path: &'a str,
    pub route: String,
    pub status: u16,
    pub started: Instant,
    pub id: &'a str,
}

impl Answered<'_> {
    /// Counts it in `http_requests_total` (when the metrics are at hand) and logs it.
    pub fn record(self, metrics: Option<&actors::metrics::RelayMetrics>) {
        let status = self.status;
        if let Some(metrics) = metrics {
            let label = actors::metrics::HttpLabel {
                route: self.route,
                status,
            };
            metrics.http_requests.get_or_create(&label).inc();
        }
        let peer = self.peer.map(|ip| ip.to_string()).unwrap_or_default();
        log::info!(
            "{peer} {} {} {status} {}ms request_id={}",
            self.method,
            self.path,
            self.started.elapsed().as_millis(),
            self.id
        );
    }
}
