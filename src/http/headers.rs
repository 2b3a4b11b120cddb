//! What a browser-facing API sends besides its data: CORS from `cors.allowed_origins`, and the
//! security headers (`nosniff`, `Referrer-Policy`, a restrictive CSP on anything that is not JSON
//! and has no policy of its own, HSTS over TLS).

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;

/// CORS for the configured origins (none by default: same-origin only).
pub fn cors(allowed: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "DELETE", "OPTIONS"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([header::HeaderName::from_static("x-request-id")])
        .max_age(600);
    for origin in allowed {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Adds the security headers to every response.
pub async fn security(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let https = req
        .app_data::<actix_web::web::Data<crate::server::AppState>>()
        .is_some_and(|state| state.config.tls.enabled());
    let mut response = next.call(req).await?;
    add_security_headers(response.headers_mut(), https);
    Ok(response)
}

/// The security headers, for the app's responses and for the WebSocket upgrade's own.
pub fn add_security_headers(headers: &mut HeaderMap, https: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // A route with its own policy (the app's files: `crate::http::app::APP_CSP`) keeps it.
    if !is_json && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
        );
    }
}
