//! Delivering one notification to one target: the request each channel sends (Web Push, ntfy,
//! webhook), tries with backoff on 5xx, 429 and network errors, removal of a push subscription
//! its endpoint answers 404 or 410 for, a timeout on every request, and the metrics. Each
//! delivery runs in its own task on the notifier's arbiter and at most `notify.max_in_flight`
//! at once, so a dead or slow endpoint holds only its own deliveries. A failure is logged once,
//! naming the endpoint's host only.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::config::{NotifyConfig, NtfyTarget, WebhookTarget};
use super::metrics::NotifyMetrics;
use super::payload::Payload;
use super::rules::Kind;
use super::webpush::{topic, PushTarget};
use super::{host_of, Notify};

/// Where one notification goes.
#[derive(Clone, Debug)]
pub enum Channel {
    /// A subscription of the app's service worker.
    WebPush {
        subscription_id: String,
        target: PushTarget,
    },
    Ntfy(Arc<NtfyTarget>),
    Webhook(Arc<WebhookTarget>),
}

impl Channel {
    /// The `channel` label.
    pub fn name(&self) -> &'static str {
        match self {
            Channel::WebPush { .. } => "webpush",
            Channel::Ntfy(_) => "ntfy",
            Channel::Webhook(_) => "webhook",
        }
    }

    fn host(&self) -> String {
        match self {
            Channel::WebPush { target, .. } => target.host(),
            Channel::Ntfy(target) => host_of(&target.url),
            Channel::Webhook(target) => host_of(&target.url),
        }
    }
}

/// One notification for one target.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub channel: Channel,
    pub payload: Payload,
    /// The user it is for (the webhook body's `user`).
    pub user: String,
    /// When the event it is about was committed (for the latency metric).
    pub committed_at: Option<Instant>,
    /// Whether it was held for the end of a coalescing window (its target is checked again).
    pub held: bool,
}

/// What an attempt's outcome calls for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Sent,
    /// A 5xx, 429 or a network error: try again after a while, if tries are left.
    Retry,
    /// The push subscription is gone (404/410): forget it.
    Remove,
    /// Any other answer: trying again would not help.
    Fail,
}

/// The verdict on an attempt answered `status` (`None`: no answer, a network error or timeout).
pub fn verdict(status: Option<u16>, web_push: bool) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Sent,
        Some(404 | 410) if web_push => Verdict::Remove,
        Some(429 | 500..=599) | None => Verdict::Retry,
        Some(_) => Verdict::Fail,
    }
}

/// The wait before retry number `retry` (0-based): `base`, then four times longer each time.
pub fn backoff(base: Duration, retry: u32) -> Duration {
    base.saturating_mul(4u32.saturating_pow(retry))
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    format!(
        "sha256={}",
        crate::auth::tokens::hex(&mac.finalize().into_bytes())
    )
}

/// A request ready to send (and to send again).
struct Prepared {
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

/// Sends deliveries; one per notifier, on its arbiter.
pub struct Deliverer {
    client: awc::Client,
    notify: Arc<Notify>,
    metrics: Arc<NotifyMetrics>,
    timeout: Duration,
    retries: u32,
    retry_base: Duration,
    max_in_flight: usize,
    in_flight: Cell<usize>,
    /// `server.public_url`, to make ntfy's `Click` an absolute link.
    public_url: Option<String>,
}

impl Deliverer {
    pub fn new(
        config: &NotifyConfig,
        notify: Arc<Notify>,
        metrics: Arc<NotifyMetrics>,
        public_url: Option<String>,
    ) -> Deliverer {
        let timeout = Duration::from_secs(config.timeout_s.max(1));
        let connector = awc::Connector::new().timeout(timeout).limit(0);
        let client = awc::Client::builder()
            .connector(connector)
            .timeout(timeout)
            .disable_redirects()
            .finish();
        Deliverer {
            client,
            notify,
            metrics,
            timeout,
            retries: config.retries,
            retry_base: Duration::from_millis(config.retry_base_ms),
            max_in_flight: config.max_in_flight.max(1),
            in_flight: Cell::new(0),
            public_url,
        }
    }

    /// Starts `delivery` in a task of its own; when too many are in flight it is dropped.
    pub fn deliver(self: &Rc<Self>, delivery: Delivery) {
        let channel = delivery.channel.name();
        if self.in_flight.get() >= self.max_in_flight {
            self.metrics.failed(channel);
            log::warn!(
                "notify: {channel} notification {} to {} dropped: {} deliveries in flight",
                delivery.payload.id,
                delivery.channel.host(),
                self.max_in_flight
            );
            return;
        }
        self.in_flight.set(self.in_flight.get() + 1);
        let this = self.clone();
        actix::spawn(async move {
            this.run(delivery).await;
            this.in_flight.set(this.in_flight.get().saturating_sub(1));
        });
    }

    /// Whether a push's subscription is gone (revoked or removed while the delivery was held
    /// or waiting to retry): then nothing more is sent to it.
    async fn gone(&self, delivery: &Delivery) -> bool {
        let Channel::WebPush {
            subscription_id, ..
        } = &delivery.channel
        else {
            return false;
        };
        matches!(
            self.notify.subscription_exists(subscription_id).await,
            Ok(false)
        )
    }

    async fn run(&self, delivery: Delivery) {
        let channel = delivery.channel.name();
        let host = delivery.channel.host();
        let id = delivery.payload.id.clone();
        let prepared = match self.prepare(&delivery).await {
            Ok(prepared) => prepared,
            Err(why) => {
                self.metrics.failed(channel);
                log::warn!("notify: {channel} notification {id} to {host} not sent: {why}");
                return;
            }
        };
        let web_push = matches!(delivery.channel, Channel::WebPush { .. });
        let mut tries = 0;
        loop {
            if (tries > 0 || delivery.held) && self.gone(&delivery).await {
                log::debug!("notify: notification {id} dropped: its subscription is gone");
                return;
            }
            tries += 1;
            let started = Instant::now();
            let answer = self.send(&prepared).await;
            let status = answer.as_ref().ok().copied();
            match verdict(status, web_push) {
                Verdict::Sent => {
                    let since = delivery.committed_at.unwrap_or(started);
                    self.metrics.sent(channel, since.elapsed().as_secs_f64());
                    log::debug!("notify: {channel} notification {id} to {host} sent");
                    return;
                }
                Verdict::Remove => {
                    if let Channel::WebPush {
                        subscription_id, ..
                    } = &delivery.channel
                    {
                        self.remove(subscription_id, &host, status).await;
                    }
                    return;
                }
                verdict => {
                    self.metrics.failed(channel);
                    let why = match answer {
                        Ok(status) => format!("HTTP {status}"),
                        Err(why) => why.to_string(),
                    };
                    if verdict == Verdict::Retry && tries <= self.retries {
                        log::debug!(
                            "notify: {channel} notification {id} to {host}: {why}, retrying"
                        );
                        actix_rt::time::sleep(backoff(self.retry_base, tries - 1)).await;
                        continue;
                    }
                    log::warn!(
                        "notify: {channel} notification {id} to {host} failed after {tries} \
                         tries: {why}"
                    );
                    return;
                }
            }
        }
    }

    async fn remove(&self, subscription_id: &str, host: &str, status: Option<u16>) {
        self.metrics.removed.inc();
        match self.notify.remove(subscription_id).await {
            Ok(_) => log::info!(
                "notify: push subscription {subscription_id} removed: {host} answered {}",
                status.unwrap_or_default()
            ),
            Err(error) => {
                log::warn!("notify: cannot remove push subscription {subscription_id}: {error}")
            }
        }
    }

    /// Sends one attempt: the answer's status, or why there was none (never naming the URL).
    async fn send(&self, prepared: &Prepared) -> Result<u16, &'static str> {
        let mut request = self.client.post(&prepared.url).timeout(self.timeout);
        for (name, value) in &prepared.headers {
            request = request.insert_header((*name, value.as_str()));
        }
        let mut response = request
            .send_body(prepared.body.clone())
            .await
            .map_err(|error| {
                use awc::error::SendRequestError as E;
                match error {
                    E::Timeout => "no answer in time",
                    E::Connect(_) => "cannot connect",
                    E::Send(_) | E::Body(_) => "sending failed",
                    E::Response(_) => "a malformed answer",
                    _ => "the request failed",
                }
            })?;
        let status = response.status().as_u16();
        // Read (a bounded part of) the answer so the connection can be reused.
        let _ = actix_rt::time::timeout(self.timeout, response.body().limit(64 * 1024)).await;
        Ok(status)
    }

    /// The request of `delivery`'s channel. A push is encrypted on a blocking thread.
    async fn prepare(&self, delivery: &Delivery) -> Result<Prepared, String> {
        let payload = &delivery.payload;
        match &delivery.channel {
            Channel::WebPush { target, .. } => {
                let json = payload.to_json().to_string();
                let target = target.clone();
                let origin = target.origin();
                let url = target.endpoint.to_string();
                let body = tokio::task::spawn_blocking(move || target.encrypt(json.as_bytes()))
                    .await
                    .map_err(|_| "the encryption did not finish".to_string())?
                    .map_err(|e| e.to_string())?;
                let approval = payload.notice.kind == Kind::Approval;
                let headers = vec![
                    ("TTL", if approval { "86400" } else { "3600" }.to_string()),
                    (
                        "Urgency",
                        if approval { "high" } else { "normal" }.to_string(),
                    ),
                    ("Topic", topic(&payload.notice.tag())),
                    ("Content-Encoding", "aes128gcm".to_string()),
                    ("Content-Type", "application/octet-stream".to_string()),
                    ("Authorization", self.notify.vapid().authorization(&origin)),
                ];
                Ok(Prepared {
                    url,
                    headers,
                    body: Bytes::from(body),
                })
            }
            Channel::Ntfy(target) => {
                let mut headers = vec![
                    ("Title", payload.title().to_string()),
                    ("Tags", ntfy_tag(payload.notice.kind).to_string()),
                    (
                        "Priority",
                        if payload.notice.kind == Kind::Approval {
                            "high"
                        } else {
                            "default"
                        }
                        .to_string(),
                    ),
                    ("X-Pocket-Relay-Id", payload.id.clone()),
                    ("Content-Type", "text/plain; charset=utf-8".to_string()),
                ];
                if let Some(base) = &self.public_url {
                    headers.push((
                        "Click",
                        format!("{}{}", base.trim_end_matches('/'), payload.url()),
                    ));
                }
                if let Some(token) = &target.token {
                    headers.push(("Authorization", format!("Bearer {token}")));
                }
                Ok(Prepared {
                    url: target.url.clone(),
                    headers,
                    body: Bytes::from(payload.body()),
                })
            }
            Channel::Webhook(target) => {
                let mut json = payload.to_json();
                json["user"] = serde_json::Value::String(delivery.user.clone());
                let body = Bytes::from(json.to_string());
                let headers = vec![
                    ("Content-Type", "application/json".to_string()),
                    ("X-Pocket-Relay-Id", payload.id.clone()),
                    ("X-Pocket-Relay-Signature", signature(&target.secret, &body)),
                ];
                Ok(Prepared {
                    url: target.url.clone(),
                    headers,
                    body,
                })
            }
        }
    }
}

/// ntfy's `Tags` (emoji short codes) per kind.
fn ntfy_tag(kind: Kind) -> &'static str {
    match kind {
        Kind::Approval => "bell",
        Kind::Completed => "white_check_mark",
        Kind::Failed => "x",
        Kind::Crashed => "warning",
        Kind::Resolved => "ballot_box_with_check",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_each_answer_calls_for() {
        assert_eq!(verdict(Some(201), true), Verdict::Sent);
        assert_eq!(verdict(Some(410), true), Verdict::Remove);
        assert_eq!(verdict(Some(404), true), Verdict::Remove);
        assert_eq!(verdict(Some(404), false), Verdict::Fail);
        assert_eq!(verdict(Some(500), true), Verdict::Retry);
        assert_eq!(verdict(Some(503), false), Verdict::Retry);
        assert_eq!(verdict(Some(429), true), Verdict::Retry);
        assert_eq!(verdict(None, true), Verdict::Retry);
        assert_eq!(verdict(Some(400), true), Verdict::Fail);
        assert_eq!(verdict(Some(413), false), Verdict::Fail);
    }

    #[test]
    fn backoff_grows_fourfold() {
        let base = Duration::from_millis(500);
        assert_eq!(backoff(base, 0), Duration::from_millis(500));
        assert_eq!(backoff(base, 1), Duration::from_secs(2));
        assert_eq!(backoff(base, 2), Duration::from_secs(8));
        assert!(backoff(base, 40) > Duration::from_secs(365 * 24 * 3600));
    }

    #[test]
    fn the_signature_is_the_hex_hmac_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
