//! `notify.*`: what notifications may say, how they are delivered, and the ntfy topics and
//! webhooks besides the Web Push subscriptions the app registers (protocol §13).

use serde::{Deserialize, Serialize};

/// `[notify]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Whether a notification carries the tool and a short summary of the request or the
    /// answer. Off: only "Claude needs your approval in <session>" and the like.
    pub include_content: bool,
    /// The VAPID `sub` claim (RFC 8292 §2.1): a `mailto:` or `https:` contact for the push
    /// services. Empty: `server.public_url` when it is https, else `mailto:pocket-relay@localhost`.
    pub vapid_subject: String,
    /// Seconds one delivery request may take (connect, send, answer) before it counts as failed.
    pub timeout_s: u64,
    /// Further tries after a failed one (5xx, 429 or a network error); 0 tries once.
    pub retries: u32,
    /// The wait before the first retry, in milliseconds; each later wait is four times longer.
    pub retry_base_ms: u64,
    /// Notifications with the same tag within this many milliseconds of the first are held and
    /// sent as one update at the end of the window.
    pub coalesce_ms: u64,
    /// Deliveries in flight at once over all channels; beyond it a notification is dropped (and
    /// counted failed) rather than queued behind endpoints that do not answer.
    pub max_in_flight: usize,
    pub ntfy: Vec<NtfyTarget>,
    pub webhook: Vec<WebhookTarget>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            include_content: false,
            vapid_subject: String::new(),
            timeout_s: 10,
            retries: 3,
            retry_base_ms: 500,
            coalesce_ms: 1000,
            max_in_flight: 1024,
            ntfy: Vec::new(),
            webhook: Vec::new(),
        }
    }
}

/// `[[notify.ntfy]]`: an ntfy topic.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NtfyTarget {
    /// The topic's URL, e.g. `https://ntfy.sh/my-secret-topic`.
    pub url: String,
    /// An access token, sent as `Authorization: Bearer <token>`.
    #[serde(default)]
    pub token: Option<String>,
    /// Only this relay user's notifications; every user's when missing.
    #[serde(default)]
    pub user: Option<String>,
}

/// `[[notify.webhook]]`: a URL that gets each notification as a signed JSON POST.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTarget {
    pub url: String,
    /// The HMAC-SHA256 key of `X-Pocket-Relay-Signature`.
    pub secret: String,
    /// Only this relay user's notifications; every user's when missing.
    #[serde(default)]
    pub user: Option<String>,
}

// The URLs and secrets of targets must never reach a log line through `{:?}`.
impl std::fmt::Debug for NtfyTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtfyTarget")
            .field("host", &super::host_of(&self.url))
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("host", &super::host_of(&self.url))
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl NotifyConfig {
    /// Refuses targets that cannot work, naming the key (never the secret parts).
    pub fn validate(&self) -> Result<(), String> {
        if self.timeout_s == 0 {
            return Err("notify.timeout_s must be at least 1".into());
        }
        if self.max_in_flight == 0 {
            return Err("notify.max_in_flight must be at least 1".into());
        }
        let subject = self.vapid_subject.trim();
        if !subject.is_empty() && !subject.starts_with("mailto:") && !subject.starts_with("https:")
        {
            return Err("notify.vapid_subject must be a mailto: or https: URL".into());
        }
        for (at, target) in self.ntfy.iter().enumerate() {
            check_url(&target.url).map_err(|why| format!("notify.ntfy[{at}].url {why}"))?;
        }
        for (at, target) in self.webhook.iter().enumerate() {
            check_url(&target.url).map_err(|why| format!("notify.webhook[{at}].url {why}"))?;
            if target.secret.is_empty() {
                return Err(format!("notify.webhook[{at}].secret must not be empty"));
            }
        }
        Ok(())
    }

    /// The VAPID `sub` claim to send.
    pub fn subject(&self, public_url: Option<&str>) -> String {
        let subject = self.vapid_subject.trim();
        if !subject.is_empty() {
            return subject.to_string();
        }
        match public_url {
            Some(url) if url.starts_with("https://") => url.trim_end_matches('/').to_string(),
            _ => "mailto:pocket-relay@localhost".to_string(),
        }
    }
}

/// An http(s) URL with a host.
fn check_url(text: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(text).map_err(|_| "is not a URL")?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http or https URL with a host");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_checked_and_never_shown_whole() {
        let mut config = NotifyConfig::default();
        assert!(config.validate().is_ok());
        config.webhook.push(WebhookTarget {
            url: "https://hooks.example/secret-path".into(),
            secret: "s3cret".into(),
            user: None,
        });
        config.ntfy.push(NtfyTarget {
            url: "https://ntfy.example/topic-xyz".into(),
            token: Some("tk_abc".into()),
            user: None,
        });
        assert!(config.validate().is_ok());
        let shown = format!("{config:?}");
        for secret in ["secret-path", "s3cret", "topic-xyz", "tk_abc"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        config.webhook[0].secret.clear();
        assert!(config.validate().is_err());
        config.webhook[0].secret = "x".into();
        config.ntfy[0].url = "ftp://x/y".into();
        assert!(config.validate().is_err());
    }

    #[test]
    fn the_subject_defaults_to_the_public_url_or_a_mailto() {
        let mut config = NotifyConfig::default();
        assert_eq!(
            config.subject(Some("https://relay.example.ts.net/")),
            "https://relay.example.ts.net"
        );
        assert_eq!(
            config.subject(Some("http://10.0.0.2:8787")),
            "mailto:pocket-relay@localhost"
        );
        config.vapid_subject = "mailto:me@example.com".into();
        assert_eq!(config.subject(None), "mailto:me@example.com");
        config.vapid_subject = "me@example.com".into();
        assert!(config.validate().is_err());
    }
}
