//! A phone's key pair as the app makes it in the browser with WebCrypto (ECDSA P-256 or
//! Ed25519, here with the `ssh-key` crate), and the SSHSIG it signs a challenge's nonce with.

use ssh_key::rand_core::{CryptoRng, RngCore};
use ssh_key::{Algorithm, EcdsaCurve, HashAlg, LineEnding, PrivateKey};

/// The operating system's randomness, for making keys.
struct OsRandom;

impl RngCore for OsRandom {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }
    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        getrandom::getrandom(dest).expect("randomness");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), ssh_key::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for OsRandom {}

/// A phone's key pair, as the app makes it in the browser.
pub struct Phone {
    key: PrivateKey,
    pub name: &'static str,
}

impl Phone {
    /// An ECDSA P-256 key (WebCrypto's `ECDSA`, `namedCurve: "P-256"`).
    pub fn p256(name: &'static str) -> Phone {
        let curve = EcdsaCurve::NistP256;
        let key = PrivateKey::random(&mut OsRandom, Algorithm::Ecdsa { curve }).expect("a key");
        Phone { key, name }
    }

    /// An Ed25519 key.
    pub fn ed25519(name: &'static str) -> Phone {
        let key = PrivateKey::random(&mut OsRandom, Algorithm::Ed25519).expect("a key");
        Phone { key, name }
    }

    /// The OpenSSH public key line the app sends.
    pub fn public_key(&self) -> String {
        let mut public = self.key.public_key().clone();
        public.set_comment(self.name);
        public.to_openssh().expect("an OpenSSH line")
    }

    /// What `printf %s "$nonce" | ssh-keygen -Y sign -n pocket-relay` makes.
    pub fn sign(&self, nonce: &str) -> String {
        self.key
            .sign("pocket-relay", HashAlg::Sha512, nonce.as_bytes())
            .expect("a signature")
            .to_pem(LineEnding::LF)
            .expect("armored")
    }
}
