//! Browsers do not apply CORS to WebSockets, so the upgrade checks `Origin` itself: absent, the
//! server's own, or listed in `cors.allowed_origins`; anything else is refused with 403.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

/// `Some(403 answer)` when the request comes from a page of a foreign origin.
pub fn refuse_foreign_origin(req: &HttpRequest, allowed: &[String]) -> Option<HttpResponse> {
    let origin = req.headers().get(header::ORIGIN)?.to_str().unwrap_or("");
    let own = req
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(|host| format!("{}://{host}", req.connection_info().scheme()));
    let trimmed = origin.trim_end_matches('/');
    if own.as_deref() == Some(trimmed) || allowed.iter().any(|a| a.trim_end_matches('/') == trimmed)
    {
        return None;
    }
    log::warn!("refused a WebSocket upgrade from origin {origin:?}");
    Some(HttpResponse::Forbidden().json(serde_json::json!({
        "success": false,
        "error": {"code": "forbidden", "message": format!("origin {origin} is not allowed")},
    })))
}
