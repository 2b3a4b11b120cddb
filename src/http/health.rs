//! `GET /health`: liveness, cheap enough to poll every second; no auth, no envelope.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::server::AppState;

/// `{status: "ok", version, uptime_s}`.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs(),
    }))
}
