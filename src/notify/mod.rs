//! Notifications (issue 18, protocol §13): Web Push to the app's service worker, ntfy topics and
//! signed webhooks, for permission requests, finished and failed prompts and crashes.
//!
//! [`Notify`] is what the routes and WebSocket requests reach: the VAPID key, the push
//! subscriptions and the notification levels (on the `store-notify` thread's own connection),
//! and who is viewing which session ([`presence::Presence`]). The [`notifier::Notifier`] actor
//! hears committed events through `actors::watch::Watchers` (so a phone is never asked about a
//! request the relay could still lose), decides with plain rule types ([`rules`], [`coalesce`],
//! [`payload`]) and delivers through [`delivery`], each delivery in its own task with a timeout,
//! so a dead or slow endpoint delays nothing else.
//!
//! Must never: put a tool, command, prompt or output in a notification unless
//! `notify.include_content`; log an endpoint's path, a key, a token or a secret.

pub mod coalesce;
pub mod config;
pub mod delivery;
pub mod metrics;
pub mod notifier;
pub mod payload;
pub mod presence;
pub mod requests;
pub mod rules;
pub mod vapid;
pub mod webpush;

use std::collections::BTreeMap;
use std::path::Path;

use actors::error::RelayError;
use actors::store::StoreError;
use chrono::Utc;
use rusqlite::Connection;
use serde::Serialize;

use crate::store::push::{self, SubscriptionRecord};
use crate::store::thread::StoreThread;
use presence::Presence;
use rules::Level;
use vapid::VapidKey;
use webpush::{PushTarget, SubscriptionJson};

/// Why a notification operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The one mapping to the protocol's errors.
impl From<NotifyError> for RelayError {
    fn from(error: NotifyError) -> RelayError {
        match error {
            NotifyError::BadRequest(message) => RelayError::BadRequest(message),
            NotifyError::NotFound(message) => RelayError::NotFound(message),
            NotifyError::Store(error) => RelayError::StoreUnavailable(error),
            NotifyError::Internal(message) => RelayError::Internal(message),
        }
    }
}

/// A push subscription as the API shows it (never its endpoint's path or keys).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SubscriptionView {
    pub id: String,
    pub endpoint_host: String,
    pub device_id: Option<String>,
    pub created_at: String,
}

impl From<&SubscriptionRecord> for SubscriptionView {
    fn from(record: &SubscriptionRecord) -> Self {
        SubscriptionView {
            id: record.id.clone(),
            endpoint_host: host_of(&record.endpoint),
            device_id: record.device_id.clone(),
            created_at: record.created_at.clone(),
        }
    }
}

/// A user's notification settings: their level and the sessions that have their own.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Settings {
    pub level: Level,
    pub sessions: BTreeMap<String, Level>,
}

impl Settings {
    /// The level that applies to `session`.
    pub fn for_session(&self, session: &str) -> Level {
        self.sessions.get(session).copied().unwrap_or(self.level)
    }
}

/// The notification state one server shares between its routes and its notifier.
pub struct Notify {
    db: StoreThread<Connection>,
    vapid: VapidKey,
    presence: Presence,
}

impl Notify {
    /// Starts the `store-notify` thread on the store at `store_path` and loads the VAPID key,
    /// making and storing one at the first start. `subject` is the VAPID `sub`.
    pub fn open(store_path: &Path, subject: String) -> Result<Notify, NotifyError> {
        let path = store_path.to_path_buf();
        let fresh = vapid::new_private_key()?;
        let now = crate::auth::tokens::timestamp(Utc::now());
        let (key_tx, key_rx) = std::sync::mpsc::sync_channel(1);
        // Opening (and migrating) the file and reading the key run on the thread: a start-up
        // step this waits for.
        let db = StoreThread::start("store-notify", move || {
            let conn = crate::store::open_connection(&path)?;
            let _ = key_tx.send(push::vapid_key(&conn, fresh, &now)?);
            Ok::<_, NotifyError>(conn)
        })?;
        let stored = key_rx
            .recv()
            .map_err(|_| NotifyError::Internal("the VAPID key was not read".into()))?;
        let vapid = VapidKey::from_stored(&stored, subject)?;
        log::info!("notify: VAPID public key {}", vapid.public_key());
        Ok(Notify {
            db,
            vapid,
            presence: Presence::default(),
        })
    }

    /// The VAPID key pair.
    pub fn vapid(&self) -> &VapidKey {
        &self.vapid
    }

    /// Who views which session.
    pub fn presence(&self) -> &Presence {
        &self.presence
    }

    /// Registers (or replaces, by endpoint) a subscription of `user`'s `device`. Answers it and
    /// whether it is new.
    pub async fn subscribe(
        &self,
        user: &str,
        device: Option<&str>,
        json: SubscriptionJson,
    ) -> Result<(SubscriptionView, bool), NotifyError> {
        PushTarget::parse(&json.endpoint, &json.keys.p256dh, &json.keys.auth)?;
        let record = SubscriptionRecord {
            id: crate::auth::tokens::hex(&random::<8>()?),
            user: user.to_string(),
            device_id: device.map(str::to_string),
            endpoint: json.endpoint,
            p256dh: json.keys.p256dh,
            auth: json.keys.auth,
            created_at: crate::auth::tokens::timestamp(Utc::now()),
        };
        let (stored, created) = self
            .db
            .run(move |conn| push::upsert(conn, &record))
            .await??;
        Ok((SubscriptionView::from(&stored), created))
    }

    /// `user`'s subscriptions, oldest first.
    pub async fn subscriptions(&self, user: &str) -> Result<Vec<SubscriptionView>, NotifyError> {
        Ok(self
            .subscription_records(user)
            .await?
            .iter()
            .map(SubscriptionView::from)
            .collect())
    }

    /// `user`'s subscriptions as stored.
    pub(crate) async fn subscription_records(
        &self,
        user: &str,
    ) -> Result<Vec<SubscriptionRecord>, NotifyError> {
        let user = user.to_string();
        Ok(self
            .db
            .run(move |conn| push::of_user(conn, &user))
            .await??)
    }

    /// Deletes `user`'s subscription `id`; another user's, or none, is `not_found`.
    pub async fn unsubscribe(&self, user: &str, id: &str) -> Result<(), NotifyError> {
        let (user, id) = (user.to_string(), id.to_string());
        let missing = NotifyError::NotFound(format!("no push subscription {id}"));
        match self
            .db
            .run(move |conn| push::delete(conn, &id, Some(&user)))
            .await??
        {
            true => Ok(()),
            false => Err(missing),
        }
    }

    /// Whether subscription `id` still exists (its device may have been revoked meanwhile, by
    /// this server or by `pocket-relay devices revoke`).
    pub(crate) async fn subscription_exists(&self, id: &str) -> Result<bool, NotifyError> {
        let id = id.to_string();
        Ok(self.db.run(move |conn| push::exists(conn, &id)).await??)
    }

    /// Deletes subscription `id`, whoever's (its endpoint said it is gone).
    pub(crate) async fn remove(&self, id: &str) -> Result<bool, NotifyError> {
        let id = id.to_string();
        Ok(self
            .db
            .run(move |conn| push::delete(conn, &id, None))
            .await??)
    }

    /// `user`'s settings.
    pub async fn settings(&self, user: &str) -> Result<Settings, NotifyError> {
        let user = user.to_string();
        let rows = self.db.run(move |conn| push::levels(conn, &user)).await??;
        let mut settings = Settings {
            level: Level::All,
            sessions: BTreeMap::new(),
        };
        for (session, level) in rows {
            let Some(level) = Level::parse(&level) else {
                continue;
            };
            if session.is_empty() {
                settings.level = level;
            } else {
                settings.sessions.insert(session, level);
            }
        }
        Ok(settings)
    }

    /// Sets `user`'s own level (`session` `None`) or a session's (`level` `None`: the user's
    /// applies again); answers the settings after.
    pub async fn set_level(
        &self,
        user: &str,
        session: Option<&str>,
        level: Option<Level>,
    ) -> Result<Settings, NotifyError> {
        let (owner, session) = (user.to_string(), session.unwrap_or("").to_string());
        self.db
            .run(move |conn| push::set_level(conn, &owner, &session, level.map(Level::as_str)))
            .await??;
        self.settings(user).await
    }
}

/// Opens the notification state of the store `config.storage.path` and starts the notifier,
/// registering its metrics in `registry`. Must run inside an actix system.
pub fn start(
    config: &crate::config::Config,
    registry: &mut prometheus_client::registry::Registry,
) -> Result<(std::sync::Arc<Notify>, actix::Addr<notifier::Notifier>), NotifyError> {
    use actix::Actor;
    let public_url = config.server.public_url.clone();
    let subject = config.notify.subject(public_url.as_deref());
    let notify = std::sync::Arc::new(Notify::open(&config.storage.path, subject)?);
    let metrics = std::sync::Arc::new(metrics::NotifyMetrics::register(registry));
    let notifier =
        notifier::Notifier::new(notify.clone(), config.notify.clone(), metrics, public_url).start();
    Ok((notify, notifier))
}

/// An URL's host (and port, when not the scheme's default): the only part of an endpoint that
/// logs and the API show.
pub fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => "-".to_string(),
        },
        Err(_) => "-".to_string(),
    }
}

fn random<const N: usize>() -> Result<[u8; N], NotifyError> {
    crate::auth::tokens::random::<N>().map_err(|e| NotifyError::Internal(e.to_string()))
}
