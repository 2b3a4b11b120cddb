//! Pending sign-in challenges: single-use, bound to one public key, expiring, kept in memory.
//!
//! Every method takes the current time from its caller, so expiry is tested with a made-up
//! clock. Must never: hand out a challenge twice, hand out an expired one, or grow without
//! bound (a flood of challenge requests meets [`Challenges::capacity`]).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use ssh_key::public::KeyData;

/// How many challenges may be pending at once, by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// One challenge the server handed out and has not seen answered.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The key the challenge was asked for; only a signature by this key answers it.
    pub key: KeyData,
    /// The text the client must sign, exactly.
    pub nonce: String,
    pub expires_at: DateTime<Utc>,
}

/// The table is full of unexpired challenges.
#[derive(Debug, PartialEq, Eq)]
pub struct Full {
    /// Seconds until the oldest pending challenge expires (at least 1).
    pub retry_after_s: u64,
}

/// The pending challenges, by challenge id.
pub struct Challenges {
    pending: Mutex<HashMap<String, Pending>>,
    capacity: usize,
}

impl Challenges {
    /// An empty table holding at most `capacity` challenges.
    pub fn new(capacity: usize) -> Challenges {
        Challenges {
            pending: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The most challenges it holds at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Stores `challenge` under `id`. Expired challenges are dropped first; when the table is
    /// still full, the new one is refused.
    pub fn insert(&self, id: String, challenge: Pending, now: DateTime<Utc>) -> Result<(), Full> {
        let mut pending = self.lock();
        if pending.len() >= self.capacity {
            pending.retain(|_, c| c.expires_at > now);
        }
        if pending.len() >= self.capacity {
            let oldest = pending.values().map(|c| c.expires_at).min().unwrap_or(now);
            let wait = (oldest - now).num_seconds().max(0) as u64 + 1;
            return Err(Full {
                retry_after_s: wait,
            });
        }
        pending.insert(id, challenge);
        Ok(())
    }

    /// Removes the challenge `id` and returns it if it has not expired. Whatever the outcome,
    /// the id cannot be used again.
    pub fn take(&self, id: &str, now: DateTime<Utc>) -> Option<Pending> {
        let mut pending = self.lock();
        let taken = pending.remove(id)?;
        (taken.expires_at > now).then_some(taken)
    }

    /// How many challenges are stored (expired ones included until the next prune).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every expired challenge.
    pub fn prune(&self, now: DateTime<Utc>) {
        self.lock().retain(|_, c| c.expires_at > now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        // A panic elsewhere while holding the lock leaves a map that is still consistent.
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn key() -> KeyData {
        let line =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti test";
        ssh_key::PublicKey::from_openssh(line)
            .expect("a valid key")
            .key_data()
            .clone()
    }

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0)
            .single()
            .expect("a valid time")
    }

    fn challenge(expires: i64) -> Pending {
        Pending {
            key: key(),
            nonce: "n".into(),
            expires_at: t(expires),
        }
    }

    #[test]
    fn a_challenge_is_single_use() {
        let table = Challenges::new(10);
        table
            .insert("a".into(), challenge(60), t(0))
            .expect("insert");
        assert!(table.take("a", t(1)).is_some());
        assert!(table.take("a", t(2)).is_none(), "a replay must fail");
        assert!(table.take("never", t(2)).is_none());
    }

    #[test]
    fn an_expired_challenge_is_refused_and_removed() {
        let table = Challenges::new(10);
        table
            .insert("a".into(), challenge(60), t(0))
            .expect("insert");
        table
            .insert("b".into(), challenge(60), t(0))
            .expect("insert");
        assert!(
            table.take("a", t(60)).is_none(),
            "expired at its expiry time"
        );
        assert!(
            table.take("a", t(30)).is_none(),
            "removed even though it had expired"
        );
        assert!(
            table.take("b", t(59)).is_some(),
            "still valid a second before"
        );
        assert!(table.is_empty());
    }

    #[test]
    fn a_flood_is_capped_and_expired_ones_make_room() {
        let table = Challenges::new(3);
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            table
                .insert(id.into(), challenge(60 + i as i64), t(0))
                .expect("insert");
        }
        let full = table
            .insert("d".into(), challenge(60), t(10))
            .expect_err("full");
        assert_eq!(full.retry_after_s, 51);
        assert_eq!(table.len(), 3);
        // Once the first has expired, it makes room for a new one.
        table
            .insert(
                "d".into(),
                challenge(200),
                t(60) + Duration::milliseconds(1),
            )
            .expect("room after expiry");
        assert_eq!(table.len(), 3);
        assert!(table.take("a", t(61)).is_none());
        table.prune(t(100));
        assert_eq!(table.len(), 1);
        assert_eq!(table.capacity(), 3);
    }
}
