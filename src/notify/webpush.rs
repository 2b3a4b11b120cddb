//! Web Push (RFC 8030) requests: a subscription as the app sends it (`PushSubscription.toJSON()`)
//! checked once, and each payload encrypted for it per RFC 8291 (`aes128gcm`, by the
//! web-push-native crate: ECDH on P-256 with a fresh key, HKDF-SHA256, AES-128-GCM).

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::NotifyError;

/// The longest endpoint accepted.
const MAX_ENDPOINT: usize = 2048;

/// `PushSubscription.toJSON()`.
#[derive(Deserialize)]
pub struct SubscriptionJson {
    pub endpoint: String,
    #[serde(default, rename = "expirationTime")]
    pub _expiration_time: Option<serde_json::Value>,
    pub keys: SubscriptionKeys,
}

/// `keys` of a subscription, base64url.
#[derive(Deserialize)]
pub struct SubscriptionKeys {
    pub p256dh: String,
    pub auth: String,
}

/// A subscription that can be pushed to: its endpoint parsed and its keys decoded.
#[derive(Clone)]
pub struct PushTarget {
    pub endpoint: url::Url,
    public: p256::PublicKey,
    auth: [u8; 16],
}

impl std::fmt::Debug for PushTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushTarget")
            .field("host", &self.host())
            .finish_non_exhaustive()
    }
}

impl PushTarget {
    /// Checks a subscription: an https endpoint (http only for a loopback host), a P-256 public
    /// key of 65 bytes and a 16-byte auth secret (base64url, padded or not).
    pub fn parse(endpoint: &str, p256dh: &str, auth: &str) -> Result<PushTarget, NotifyError> {
        let bad = |why: &str| NotifyError::BadRequest(why.to_string());
        if endpoint.len() > MAX_ENDPOINT {
            return Err(bad("endpoint is too long"));
        }
        let url = url::Url::parse(endpoint).map_err(|_| bad("endpoint is not a URL"))?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name == "localhost",
            None => false,
        };
        match url.scheme() {
            "https" if url.host().is_some() => {}
            "http" if loopback => {}
            _ => return Err(bad("endpoint must be an https URL")),
        }
        let p256dh = decode(p256dh).ok_or_else(|| bad("keys.p256dh is not base64url"))?;
        if p256dh.len() != 65 {
            return Err(bad("keys.p256dh must be a 65-byte P-256 point"));
        }
        let public = p256::PublicKey::from_sec1_bytes(&p256dh)
            .map_err(|_| bad("keys.p256dh is not a P-256 point"))?;
        let auth: [u8; 16] = decode(auth)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| bad("keys.auth must be 16 bytes of base64url"))?;
        Ok(PushTarget {
            endpoint: url,
            public,
            auth,
        })
    }

    /// The endpoint's host (what logs and the API may show).
    pub fn host(&self) -> String {
        super::host_of(self.endpoint.as_str())
    }

    /// The endpoint's origin: the VAPID `aud`.
    pub fn origin(&self) -> String {
        self.endpoint.origin().ascii_serialization()
    }

    /// `payload` encrypted for this subscription (RFC 8291, one aes128gcm record).
    pub fn encrypt(&self, payload: &[u8]) -> Result<Vec<u8>, NotifyError> {
        let auth = web_push_native::Auth::clone_from_slice(&self.auth);
        web_push_native::encrypt(payload.to_vec(), &self.public, &auth)
            .map_err(|e| NotifyError::Internal(format!("cannot encrypt a push: {e}")))
    }
}

/// The `Topic` header for `tag` (RFC 8030 §5.4: at most 32 base64url characters): a push service
/// keeps only the newest undelivered message of a topic, as the phone keeps one per tag.
pub fn topic(tag: &str) -> String {
    let digest = Sha256::digest(tag.as_bytes());
    URL_SAFE_NO_PAD.encode(digest)[..32].to_string()
}

fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::sec1::ToEncodedPoint;

    fn keys() -> (String, String) {
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).expect("a key");
        let point = secret.public_key().to_encoded_point(false);
        (
            URL_SAFE_NO_PAD.encode(point.as_bytes()),
            URL_SAFE_NO_PAD.encode([1u8; 16]),
        )
    }

    #[test]
    fn subscriptions_are_checked() {
        let (p256dh, auth) = keys();
        let ok = PushTarget::parse("https://fcm.example.com/wp/abc", &p256dh, &auth).expect("ok");
        assert_eq!(ok.host(), "fcm.example.com");
        assert_eq!(ok.origin(), "https://fcm.example.com");
        assert!(!format!("{ok:?}").contains("abc"));
        let local = PushTarget::parse("http://127.0.0.1:9000/push/1", &p256dh, &auth).expect("ok");
        assert_eq!(local.origin(), "http://127.0.0.1:9000");
        for (endpoint, p, a) in [
            ("http://push.example.com/x", p256dh.as_str(), auth.as_str()),
            ("not a url", &p256dh, &auth),
            ("https://push.example.com/x", "AAAA", &auth),
            ("https://push.example.com/x", &p256dh, "AAAA"),
            ("https://push.example.com/x", &p256dh[..80], &auth),
        ] {
            assert!(
                matches!(
                    PushTarget::parse(endpoint, p, a),
                    Err(NotifyError::BadRequest(_))
                ),
                "{endpoint} {p} {a}"
            );
        }
        let body = ok.encrypt(b"hello").expect("encrypted");
        // salt 16, rs 4, idlen 1, keyid 65, then the record (payload, delimiter, 16-byte tag).
        assert_eq!(body.len(), 16 + 4 + 1 + 65 + 5 + 1 + 16);
        assert_eq!(topic("pocket-relay:s:approval").len(), 32);
    }
}
