//! Notifications over REST (protocol §13): the VAPID key, the caller's Web Push subscriptions
//! (owned by the token's device, else by the user alone) and the notification levels. The
//! settings routes share their implementation with the WebSocket requests
//! ([`crate::notify::requests`]). An endpoint's path and keys are never answered or logged.

use actix_web::http::StatusCode;
use actix_web::web;
use serde_json::json;

use super::caller::HttpCaller;
use super::envelope::{Answer, ApiError};
use crate::notify::requests::{self, LevelBody, SessionLevelBody};
use crate::notify::webpush::SubscriptionJson;
use crate::server::AppState;

/// `GET /api/v1/push/vapid` → `{public_key}`: the `applicationServerKey` for
/// `pushManager.subscribe`.
pub async fn vapid(state: web::Data<AppState>, _caller: HttpCaller) -> Result<Answer, ApiError> {
    Ok(Answer::ok(
        json!({ "public_key": state.notify.vapid().public_key() }),
    ))
}

/// `POST /api/v1/push/subscriptions` with `PushSubscription.toJSON()` → 201 `{subscription}`
/// (200 when the endpoint was registered by the same device already: its keys are replaced).
pub async fn subscribe(
    state: web::Data<AppState>,
    HttpCaller(caller, bearer): HttpCaller,
    body: web::Json<SubscriptionJson>,
) -> Result<Answer, ApiError> {
    let device = bearer.and_then(|b| b.device_id);
    let (subscription, created) = state
        .notify
        .subscribe(caller.user.as_str(), device.as_deref(), body.into_inner())
        .await?;
    log::info!(
        "notify: user {} registered push subscription {} at {}{}",
        caller.user,
        subscription.id,
        subscription.endpoint_host,
        device
            .as_deref()
            .map_or_else(String::new, |d| format!(" for device {d}"))
    );
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(Answer::with_status(
        status,
        json!({ "subscription": subscription }),
    ))
}

/// `GET /api/v1/push/subscriptions` → `{subscriptions}`: the caller's.
pub async fn list(state: web::Data<AppState>, caller: HttpCaller) -> Result<Answer, ApiError> {
    let subscriptions = state.notify.subscriptions(caller.0.user.as_str()).await?;
    Ok(Answer::ok(json!({ "subscriptions": subscriptions })).no_store())
}

/// `DELETE /api/v1/push/subscriptions/{id}` → `{}`; not the caller's: `not_found`.
pub async fn unsubscribe(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
) -> Result<Answer, ApiError> {
    state
        .notify
        .unsubscribe(caller.0.user.as_str(), &id)
        .await?;
    Ok(Answer::ok(json!({})))
}

/// `GET /api/v1/notifications/settings` → `{level, sessions}`.
pub async fn settings(state: web::Data<AppState>, caller: HttpCaller) -> Result<Answer, ApiError> {
    let data = requests::settings(&state.notify, &caller.0).await?;
    Ok(Answer::ok(data).no_store())
}

/// `PUT /api/v1/notifications/settings` `{level}` → the settings.
pub async fn set_level(
    state: web::Data<AppState>,
    caller: HttpCaller,
    body: web::Json<LevelBody>,
) -> Result<Answer, ApiError> {
    let data = requests::set_level(&state.notify, &caller.0, body.into_inner()).await?;
    Ok(Answer::ok(data))
}

/// `PUT /api/v1/sessions/{id}/notifications` `{level | null}` → the settings.
pub async fn set_session_level(
    state: web::Data<AppState>,
    caller: HttpCaller,
    id: web::Path<String>,
    body: web::Json<SessionLevelBody>,
) -> Result<Answer, ApiError> {
    let data = requests::set_session_level(
        &state.notify,
        &state.router,
        caller.0,
        id.into_inner(),
        body.into_inner(),
    )
    .await?;
    Ok(Answer::ok(data))
}
