//! `GET /metrics`: the relay's metrics in the Prometheus text format, from the server's own
//! registry.

use actix_web::{web, HttpResponse};

use crate::server::AppState;

/// The Prometheus exposition of every registered metric.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &state.metrics_registry) {
        Ok(()) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Err(error) => {
            log::error!("cannot encode the metrics: {error}");
            HttpResponse::InternalServerError().finish()
        }
    }
}
