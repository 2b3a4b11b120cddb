//! Browsers do not apply CORS to WebSockets, so the upgrade checks `Origin` itself: absent, the
//! server's own, or listed in `cors.allowed_origins`; anything else is refused with 403.

use actix_web::http::header::{self, HeaderMap};

/// `Some(origin)` when the request comes from a page of a foreign origin. `scheme` is the one
/// this server serves (`http` or `https`).
pub fn foreign_origin(headers: &HeaderMap, scheme: &str, allowed: &[String]) -> Option<String> {
    let origin = headers.get(header::ORIGIN)?.to_str().unwrap_or("");
    let own = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(|host| format!("{scheme}://{host}"));
    let trimmed = origin.trim_end_matches('/');
    if own.as_deref() == Some(trimmed) || allowed.iter().any(|a| a.trim_end_matches('/') == trimmed)
    {
        return None;
    }
    Some(origin.to_string())
}
