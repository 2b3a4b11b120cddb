//! A browser's push subscription, as `pushManager.subscribe` makes it: a P-256 key pair and a
//! 16-byte auth secret. It decrypts what the fake push service received with the test's own
//! RFC 8291 / RFC 8188 code over primitives (p256 ECDH, HKDF-SHA256, AES-128-GCM; nothing of the
//! server's encryption crate), and checks the request's VAPID header per RFC 8292.

use std::time::{SystemTime, UNIX_EPOCH};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{json, Value};
use sha2::Sha256;
use test_support::receiver::Received;

/// One browser's subscription to a push service endpoint.
pub struct Browser {
    secret: p256::SecretKey,
    auth: [u8; 16],
    pub endpoint: String,
}

impl Browser {
    /// A subscription at `endpoint` with fresh keys.
    pub fn new(endpoint: String) -> Browser {
        let secret = loop {
            let mut bytes = [0u8; 32];
            getrandom::getrandom(&mut bytes).expect("randomness");
            if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
                break secret;
            }
        };
        let mut auth = [0u8; 16];
        getrandom::getrandom(&mut auth).expect("randomness");
        Browser {
            secret,
            auth,
            endpoint,
        }
    }

    /// The endpoint's path (what the fake push service records).
    pub fn path(&self) -> String {
        let rest = self.endpoint.split_once("://").map_or("", |(_, rest)| rest);
        rest.find('/')
            .map_or_else(|| "/".to_string(), |at| rest[at..].to_string())
    }

    /// The public key as the browser shows it: 65 bytes, uncompressed.
    fn public(&self) -> Vec<u8> {
        self.secret
            .public_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    /// `PushSubscription.toJSON()`.
    pub fn subscription_json(&self) -> Value {
        json!({
            "endpoint": self.endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(self.public()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            }
        })
    }

    /// The payload of a push request, decrypted (RFC 8291 §3.4 key derivation, RFC 8188 record).
    pub fn decrypt(&self, request: &Received) -> Value {
        assert_eq!(request.method, "POST");
        assert_eq!(request.header("content-encoding"), Some("aes128gcm"));
        let body = &request.body;
        // RFC 8188 §2.1: salt (16) | rs (4) | idlen (1) | keyid (idlen) | records.
        assert!(body.len() > 21, "a push body too short for its header");
        let salt = &body[..16];
        let rs = u32::from_be_bytes(body[16..20].try_into().expect("4 bytes")) as usize;
        let idlen = body[20] as usize;
        let keyid = &body[21..21 + idlen];
        let ciphertext = &body[21 + idlen..];
        assert_eq!(
            idlen, 65,
            "RFC 8291 §4: the keyid is the sender's public key"
        );
        assert!(
            rs >= 18 && ciphertext.len() <= rs,
            "one record of at most rs bytes"
        );
        let sender = p256::PublicKey::from_sec1_bytes(keyid).expect("the sender's key");
        let shared =
            p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), sender.as_affine());
        // RFC 8291 §3.3/3.4: IKM = HKDF(salt = auth, ikm = ecdh, info = "WebPush: info\0" ua as, 32).
        let mut key_info = b"WebPush: info\0".to_vec();
        key_info.extend_from_slice(&self.public());
        key_info.extend_from_slice(keyid);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes().as_slice())
            .expand(&key_info, &mut ikm)
            .expect("32 bytes");
        // RFC 8188 §2.2/2.3: CEK and NONCE from HKDF(salt, IKM).
        let content = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut cek = [0u8; 16];
        content
            .expand(b"Content-Encoding: aes128gcm\0", &mut cek)
            .expect("16 bytes");
        let mut nonce = [0u8; 12];
        content
            .expand(b"Content-Encoding: nonce\0", &mut nonce)
            .expect("12 bytes");
        // The first (and only) record: sequence number 0, so the nonce as derived.
        let plain = Aes128Gcm::new_from_slice(&cek)
            .expect("a 16-byte key")
            .decrypt(Nonce::from_slice(&nonce), ciphertext)
            .expect("the record decrypts and authenticates");
        // The last record ends with the delimiter 0x02, then zero padding.
        let end = plain.iter().rposition(|b| *b != 0).expect("a delimiter");
        assert_eq!(plain[end], 2, "the last record's delimiter");
        serde_json::from_slice(&plain[..end]).expect("the payload is JSON")
    }
}

/// Checks the request's `Authorization: vapid t=<JWT>, k=<key>` (RFC 8292): `k` is the relay's
/// public key (`vapid_key`, from `GET /api/v1/push/vapid`), the JWT is ES256-signed by it, its
/// `aud` is `origin`, its `exp` is in the future and at most 24 h away, and its `sub` is a
/// `mailto:` or `https:` contact. Answers the claims.
pub fn check_vapid(request: &Received, vapid_key: &str, origin: &str) -> Value {
    let header = request
        .header("authorization")
        .expect("an Authorization header");
    let rest = header.strip_prefix("vapid ").expect("the vapid scheme");
    let mut token = None;
    let mut key = None;
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=').expect("name=value");
        match name {
            "t" => token = Some(value),
            "k" => key = Some(value),
            _ => {}
        }
    }
    let (token, key) = (token.expect("t="), key.expect("k="));
    assert_eq!(key, vapid_key, "k is the key of GET /api/v1/push/vapid");
    let public = URL_SAFE_NO_PAD.decode(key).expect("k is base64url");
    let verifying = VerifyingKey::from_sec1_bytes(&public).expect("k is a P-256 point");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS compact serialization");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
    assert_eq!(header["alg"], "ES256");
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("b64");
    assert_eq!(signature.len(), 64, "ES256 signatures are r || s");
    let signature = Signature::from_slice(&signature).expect("r || s");
    verifying
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("the JWT's signature verifies with the VAPID key");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    assert_eq!(claims["aud"], origin, "aud is the push endpoint's origin");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let exp = claims["exp"].as_u64().expect("a numeric exp");
    assert!(
        exp > now && exp <= now + 24 * 3600,
        "exp {exp} within 24 h of {now}"
    );
    let sub = claims["sub"].as_str().expect("a sub");
    assert!(
        sub.starts_with("mailto:") || sub.starts_with("https:"),
        "sub {sub}"
    );
    claims
}
