//! `GET /metrics`: the relay's metrics in the Prometheus text format, from the server's own
//! registry.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::server::AppState;

/// The Prometheus exposition of every registered metric. With auth on it needs a token, unless
/// `metrics.public` is set.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !state.config.metrics.public {
        if let Err(error) = super::caller::authenticate(&req, &state) {
            return super::envelope::error(&req, &error);
        }
    }
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
