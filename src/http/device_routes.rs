//! Pairing and devices (issue 16): `GET /api/v1/auth/info` and `POST /api/v1/auth/pair` (no
//! token), `GET /api/v1/devices` and `DELETE /api/v1/devices/{id}` (the caller's own devices
//! only: another user's device does not exist for them). Store work runs on the store's thread.
//! Pairing attempts are limited per client address like sign-in; a pairing code is never
//! logged.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth_routes::client_of;
use super::caller::HttpCaller;
use super::envelope::{Answer, ApiError};
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
pub async fn info(req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, ApiError> {
    // A missing or bad token is no error here: the answer just leaves out what is the caller's.
    let paired_devices = match crate::http::caller::identify(&req, &state).await {
        Ok((user, _)) => Some(state.auth.count_devices(&user).await?),
        Err(_) => None,
    };
    let info = Info {
        auth_enabled: state.config.auth.enabled,
        namespace: state.auth.namespace().to_string(),
        paired_devices,
    };
    Answer::serialize(StatusCode::OK, &info)
}

/// `POST /api/v1/auth/pair` → 201 `{device_id, user}`; 401 `unauthorized` for any code that is
/// unknown, used, expired or malformed; 429 beyond the per-address limit.
pub async fn pair(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<PairBody>,
) -> Result<Answer, ApiError> {
    let client = client_of(&req, &state);
    state.limits.check_pairing(client)?;
    let paired = state
        .auth
        .pair(&body.code, &body.public_key, &body.device_name, client)
        .await?;
    Answer::serialize(StatusCode::CREATED, &paired)
}

/// `GET /api/v1/devices` → `{devices: [{id, name, user, created_at, last_seen_at, current}]}`:
/// the caller's live devices, oldest first.
pub async fn list(
    state: web::Data<AppState>,
    HttpCaller(caller, bearer): HttpCaller,
) -> Result<Answer, ApiError> {
    let current = bearer.and_then(|b| b.device_id);
    let devices: Vec<DeviceView> = state
        .auth
        .devices_of(&caller.user)
        .await?
        .into_iter()
        .map(|record| DeviceView::new(record, current.as_deref()))
        .collect();
    Ok(Answer::ok(json!({ "devices": devices })).no_store())
}

/// `DELETE /api/v1/devices/{id}` → `{device_id, revoked_at}`: revokes one of the caller's
/// devices and its tokens (its live connections close at once, WebSocket 4003).
/// Another user's device, an unknown or an already revoked one: `not_found`.
pub async fn revoke(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> Result<Answer, ApiError> {
    let user = caller.0.user;
    let id = id.into_inner();
    let now = Utc::now();
    state.auth.revoke_device(&id, &user, now).await?;
    log::info!("auth: user {user} revoked device {id}");
    Ok(Answer::ok(json!({
        "device_id": id,
        "revoked_at": crate::auth::tokens::timestamp(now),
    })))
}
