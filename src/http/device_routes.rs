//! Pairing and devices (issue 16): `GET /api/v1/auth/info` and `POST /api/v1/auth/pair` (no
//! token), `GET /api/v1/devices` and `DELETE /api/v1/devices/{id}` (the caller's own devices
//! only: another user's device does not exist for them). Store work runs on a blocking thread.
//! Pairing attempts are limited per client address like sign-in; a pairing code is never
//! logged.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth_routes::{client_of, no_store, run};
use super::caller::HttpCaller;
use super::envelope::respond;
use crate::server::AppState;
use crate::store::devices::DeviceRecord;

/// The body of `POST /api/v1/auth/pair`.
#[derive(Deserialize)]
pub struct PairBody {
    /// The one-time code of the pairing link (`#pair=<code>`).
    code: String,
    /// The device's OpenSSH public key line (`ecdsa-sha2-nistp256 AAAA…` or `ssh-ed25519 AAAA…`).
    public_key: String,
    /// What the device is called in the devices list.
    device_name: String,
}

/// The answer to `GET /api/v1/auth/info`.
#[derive(Serialize)]
struct Info {
    auth_enabled: bool,
    namespace: String,
    /// The caller's live devices; only when the caller is known (a valid token, or auth off).
    #[serde(skip_serializing_if = "Option::is_none")]
    paired_devices: Option<u64>,
}

/// A device as `GET /api/v1/devices` shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DeviceView {
    pub id: String,
    pub name: String,
    pub user: String,
    pub created_at: String,
    pub last_seen_at: Option<String>,
    /// Whether it is the device of the token that asked.
    pub current: bool,
}

impl DeviceView {
    /// `record` as shown to the holder of a token of device `current` (if any).
    pub fn new(record: DeviceRecord, current: Option<&str>) -> DeviceView {
        DeviceView {
            current: current == Some(record.id.as_str()),
            id: record.id,
            name: record.name,
            user: record.user,
            created_at: record.created_at,
            last_seen_at: record.last_seen_at,
        }
    }
}

/// `GET /api/v1/auth/info` → `{auth_enabled, namespace, paired_devices?}`; needs no token.
pub async fn info(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let auth = state.auth.clone();
    let auth_enabled = state.config.auth.enabled;
    // A missing or bad token is no error here: the answer just leaves out what is the caller's.
    let caller = crate::http::caller::identify(&req, &state).ok();
    let result = run(move || {
        let paired_devices = match caller {
            Some((user, _)) => Some(auth.devices().count_live(Some(user.as_str()))?),
            None => None,
        };
        Ok(Info {
            auth_enabled,
            namespace: auth.namespace().to_string(),
            paired_devices,
        })
    })
    .await;
    respond(&req, StatusCode::OK, result)
}

/// `POST /api/v1/auth/pair` → 201 `{device_id, user}`; 401 `unauthorized` for any code that is
/// unknown, used, expired or malformed; 429 beyond the per-address limit.
pub async fn pair(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<PairBody>,
) -> HttpResponse {
    let client = client_of(&req, &state);
    if let Err(error) = state.limits.check_pairing(client) {
        return crate::http::envelope::error(&req, &error);
    }
    let auth = state.auth.clone();
    let PairBody {
        code,
        public_key,
        device_name,
    } = body.into_inner();
    let result = run(move || auth.pair(&code, &public_key, &device_name, client)).await;
    respond(&req, StatusCode::CREATED, result)
}

/// `GET /api/v1/devices` → `{devices: [{id, name, user, created_at, last_seen_at, current}]}`:
/// the caller's live devices, oldest first.
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
) -> HttpResponse {
    let auth = state.auth.clone();
    let HttpCaller(caller, bearer) = caller;
    let current = bearer.and_then(|b| b.device_id);
    let result = run(move || {
        let devices: Vec<DeviceView> = auth
            .devices()
            .list(Some(caller.user.as_str()), false)?
            .into_iter()
            .map(|record| DeviceView::new(record, current.as_deref()))
            .collect();
        Ok(json!({ "devices": devices }))
    })
    .await;
    no_store(respond(&req, StatusCode::OK, result))
}

/// `DELETE /api/v1/devices/{id}` → `{device_id, revoked_at}`: revokes one of the caller's
/// devices and its tokens (its live connections close within a second, WebSocket 4003).
/// Another user's device, an unknown or an already revoked one: `not_found`.
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> HttpResponse {
    let auth = state.auth.clone();
    let user = caller.0.user;
    let id = id.into_inner();
    let result = run(move || {
        let now = Utc::now();
        auth.devices().revoke(&id, Some(user.as_str()), now)?;
        log::info!("auth: user {user} revoked device {id}");
        Ok(json!({
            "device_id": id,
            "revoked_at": crate::auth::tokens::timestamp(now),
        }))
    })
    .await;
    respond(&req, StatusCode::OK, result)
}
