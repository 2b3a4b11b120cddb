//! `GET /ready`: readiness. 200 only when the store answers a query and `claude.binary` resolves
//! to an executable; otherwise 503 naming the failing check. No auth, no envelope.

use std::path::{Path, PathBuf};

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::server::AppState;

/// `{ready, checks: {store, claude_binary}}`.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let store = match state.store.check().await {
        Ok(()) => "ok".to_string(),
        Err(error) => error.to_string(),
    };
    let claude = match resolve_executable(&state.config.claude.binary) {
        Some(_) => "ok".to_string(),
        None => format!(
            "{} is not an executable file (nor found in PATH)",
            state.config.claude.binary
        ),
    };
    let ready = store == "ok" && claude == "ok";
    let body = json!({"ready": ready, "checks": {"store": store, "claude_binary": claude}});
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// The executable `binary` names: a path, or a name looked up in `PATH`.
pub fn resolve_executable(binary: &str) -> Option<PathBuf> {
    if binary.contains('/') {
        let path = actors::config::expand_home(binary);
        return is_executable(&path).then_some(path);
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(binary))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
