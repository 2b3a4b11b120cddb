//! `GET /metrics`: the relay's metrics in the Prometheus text format.
//!
//! Who sees what: the whole registry goes to an operator (a user named in `auth.operators`),
//! to everyone when auth is off (every client is `local`), and to anyone when `metrics.public`
//! is set. Any other signed-in user sees only figures that are theirs: `relay_sessions{status}`
//! counted over their own sessions and `relay_clients{transport}` over their own connections,
//! read from the registry at the time of the request. Must never: show a non-operator another
//! user's sessions or clients, or any server-wide figure.

use std::collections::BTreeMap;
use std::fmt::Write;

use actix_web::{web, HttpRequest, HttpResponse};
use actors::command::{Caller, Command, Reply};
use actors::error::RelayError;
use actors::ids::UserId;
use actors::registry::ListClients;

use super::envelope::ApiError;
use crate::server::AppState;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The Prometheus exposition: every registered metric, or the caller's own figures.
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !state.config.metrics.public && state.config.auth.enabled {
        let user = super::caller::authenticate(&req, &state).await?;
        if !state
            .config
            .auth
            .operators
            .iter()
            .any(|op| op == user.as_str())
        {
            let text = own_figures(&state, user).await?;
            return Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(text));
        }
    }
    let mut text = String::new();
    Ok(
        match prometheus_client::encoding::text::encode(&mut text, &state.metrics_registry) {
            Ok(()) => HttpResponse::Ok().content_type(CONTENT_TYPE).body(text),
            Err(error) => {
                log::error!("cannot encode the metrics: {error}");
                HttpResponse::InternalServerError().finish()
            }
        },
    )
}

/// `user`'s sessions by status and connections by transport, in the registry's metric names.
async fn own_figures(state: &AppState, user: UserId) -> Result<String, RelayError> {
    let caller = Caller {
        user: user.clone(),
        connection: None,
    };
    let Reply::Sessions(sessions) = super::call(state, caller, Command::List).await? else {
        return Err(RelayError::Internal("list answered something else".into()));
    };
    let clients = state
        .registry
        .send(ListClients(user))
        .await
        .map_err(|_| RelayError::Unavailable("the server is shutting down".into()))?;
    let mut by_status = BTreeMap::new();
    for session in &sessions {
        let status = serde_json::to_value(session.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "unknown".into());
        *by_status.entry(status).or_insert(0u64) += 1;
    }
    let mut by_transport = BTreeMap::new();
    for client in &clients {
        *by_transport
            .entry(client.transport.to_string())
            .or_insert(0u64) += 1;
    }
    Ok(render(&by_status, &by_transport))
}

/// Two gauge families in the OpenMetrics text format.
fn render(by_status: &BTreeMap<String, u64>, by_transport: &BTreeMap<String, u64>) -> String {
    let mut text = String::new();
    let family =
        |text: &mut String, name: &str, help: &str, label: &str, values: &BTreeMap<String, u64>| {
            let _ = writeln!(text, "# HELP {name} {help}");
            let _ = writeln!(text, "# TYPE {name} gauge");
            for (value, count) in values {
                let _ = writeln!(text, "{name}{{{label}=\"{value}\"}} {count}");
            }
        };
    family(
        &mut text,
        "relay_clients",
        "Your connected clients by transport",
        "transport",
        by_transport,
    );
    family(
        &mut text,
        "relay_sessions",
        "Your sessions by status",
        "status",
        by_status,
    );
    text.push_str("# EOF\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_figures_are_two_gauge_families() {
        let status = BTreeMap::from([("idle".to_string(), 2), ("running".to_string(), 1)]);
        let transport = BTreeMap::from([("sse".to_string(), 1)]);
        let text = render(&status, &transport);
        assert!(
            text.contains("relay_sessions{status=\"idle\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("relay_clients{transport=\"sse\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE relay_sessions gauge\n"));
        assert!(text.ends_with("# EOF\n"));
    }
}
