//! VAPID (RFC 8292): the server's P-256 key pair, made at first start and kept in the store, and
//! the `Authorization: vapid t=<JWT>, k=<public key>` header of each push. The JWT is ES256 (RFC
//! 7515/7518) signed with p256's ECDSA; its claims are `aud` (the push endpoint's origin), `exp`
//! (12 h ahead, within the 24 h RFC 8292 allows) and `sub` (`notify.vapid_subject`). One token per
//! origin is reused for an hour, so a burst to many subscriptions of one push service signs once.
//!
//! Must never: log or serve the private key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::SecretKey;

use super::NotifyError;

/// How long a signed token is valid.
const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// How long one signed token is reused for an origin.
const TOKEN_REUSE: Duration = Duration::from_secs(3600);

/// The server's VAPID identity.
pub struct VapidKey {
    signing: SigningKey,
    /// base64url (no padding) of the 65-byte uncompressed public point.
    public_key: String,
    subject: String,
    /// Signed tokens by origin, with when they were made.
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// A new private key, as the store keeps it (base64url of the 32-byte scalar).
pub fn new_private_key() -> Result<String, NotifyError> {
    loop {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| NotifyError::Internal(format!("no randomness: {e}")))?;
        // Fails only for 0 or a value ≥ the group order: draw again.
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return Ok(URL_SAFE_NO_PAD.encode(key.to_bytes()));
        }
    }
}

impl VapidKey {
    /// The key pair of the stored private key, signing with `subject` as `sub`.
    pub fn from_stored(private_key: &str, subject: String) -> Result<VapidKey, NotifyError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(private_key.trim())
            .map_err(|_| NotifyError::Internal("the stored VAPID key is not base64url".into()))?;
        let secret = SecretKey::from_slice(&bytes)
            .map_err(|_| NotifyError::Internal("the stored VAPID key is not a P-256 key".into()))?;
        let point = secret.public_key().to_encoded_point(false);
        Ok(VapidKey {
            signing: SigningKey::from(secret),
            public_key: URL_SAFE_NO_PAD.encode(point.as_bytes()),
            subject,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// The `applicationServerKey` of `pushManager.subscribe`.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The `Authorization` header value for a push to an endpoint of `origin`.
    pub fn authorization(&self, origin: &str) -> String {
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let fresh = tokens
            .get(origin)
            .filter(|(_, made)| made.elapsed() < TOKEN_REUSE)
            .map(|(token, _)| token.clone());
        let token = fresh.unwrap_or_else(|| {
            let token = self.sign(origin, unix_now() + TOKEN_LIFETIME.as_secs());
            tokens.insert(origin.to_string(), (token.clone(), Instant::now()));
            token
        });
        format!("vapid t={token}, k={}", self.public_key)
    }

    /// An ES256 JWT for `aud`, expiring at `exp` (seconds since the epoch).
    fn sign(&self, aud: &str, exp: u64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": aud, "exp": exp, "sub": self.subject });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{claims}");
        let signature: Signature = self.signing.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::VerifyingKey;

    #[test]
    fn the_token_verifies_with_the_public_key_and_names_the_origin() {
        let key = VapidKey::from_stored(
            &new_private_key().expect("a key"),
            "mailto:me@example.com".into(),
        )
        .expect("loads");
        let header = key.authorization("https://push.example.net");
        let rest = header.strip_prefix("vapid t=").expect("vapid scheme");
        let (token, k) = rest.split_once(", k=").expect("k");
        assert_eq!(k, key.public_key());
        let public = URL_SAFE_NO_PAD.decode(k).expect("b64");
        assert_eq!(public.len(), 65);
        let verifying = VerifyingKey::from_sec1_bytes(&public).expect("a point");
        let (input, signature) = token.rsplit_once('.').expect("three parts");
        let signature =
            Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).expect("b64")).expect("r||s");
        verifying
            .verify(input.as_bytes(), &signature)
            .expect("verifies");
        let claims = input.split('.').nth(1).expect("claims");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("b64")).expect("json");
        assert_eq!(claims["aud"], "https://push.example.net");
        assert_eq!(claims["sub"], "mailto:me@example.com");
        let exp = claims["exp"].as_u64().expect("exp");
        assert!(exp > unix_now() && exp <= unix_now() + 24 * 3600);
        // Reused for the same origin, not for another.
        assert_eq!(key.authorization("https://push.example.net"), header);
        assert_ne!(key.authorization("https://other.example"), header);
        assert!(!format!("{key:?}").contains("signing"));
    }
}
