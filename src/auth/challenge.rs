//! Pending sign-in challenges: single-use, bound to one public key, expiring, kept in memory.
//!
//! Every method takes the current time from its caller, so expiry is tested with a made-up
//! clock. Must never: hand out a challenge twice, hand out an expired one, or grow without
//! bound. A flood from one address meets its own limit ([`Caps::per_client`] pending at once)
//! long before the table's [`Caps::capacity`], so it does not lock out anyone else; a flood of
//! one key (public keys are public) only ever replaces that key's oldest challenges
//! ([`Caps::per_key`]).

use std::collections::HashMap;
use std::net::IpAddr;
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
    /// The client address it was asked from, as limits count it (`None`: unknown).
    pub client: Option<IpAddr>,
    /// The key's SHA-256 fingerprint, as limits count it.
    pub fingerprint: String,
}

/// How many challenges may be pending: in all, per client address, per key.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    pub capacity: usize,
    pub per_client: usize,
    pub per_key: usize,
}

/// Why a challenge was refused; either way the client may retry after `retry_after_s`.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The table is full of unexpired challenges.
    Full { retry_after_s: u64 },
    /// The client's address holds [`Caps::per_client`] unexpired challenges.
    ClientBusy { retry_after_s: u64 },
}

impl Refused {
    /// Seconds until the oldest challenge in the way expires (at least 1).
    pub fn retry_after_s(&self) -> u64 {
        match self {
            Refused::Full { retry_after_s } | Refused::ClientBusy { retry_after_s } => {
                *retry_after_s
            }
        }
    }
}

/// The pending challenges, by challenge id.
pub struct Challenges {
    pending: Mutex<HashMap<String, Pending>>,
    caps: Caps,
}

impl Challenges {
    /// An empty table with these limits (each at least 1).
    pub fn new(caps: Caps) -> Challenges {
        Challenges {
            pending: Mutex::new(HashMap::new()),
            caps: Caps {
                capacity: caps.capacity.max(1),
                per_client: caps.per_client.max(1),
                per_key: caps.per_key.max(1),
            },
        }
    }

    /// The most challenges it holds at once.
    pub fn capacity(&self) -> usize {
        self.caps.capacity
    }

    /// Stores `challenge` under `id`. A client address at its limit is refused; a key at its
    /// limit loses its oldest challenge; a full table drops expired challenges, then refuses.
    pub fn insert(
        &self,
        id: String,
        challenge: Pending,
        now: DateTime<Utc>,
    ) -> Result<(), Refused> {
        let mut pending = self.lock();
        let wait = |oldest: Option<DateTime<Utc>>| {
            (oldest.unwrap_or(now) - now).num_seconds().max(0) as u64 + 1
        };
        if challenge.client.is_some() {
            let of_client = pending
                .values()
                .filter(|c| c.client == challenge.client && c.expires_at > now);
            let (count, oldest) = count_and_oldest(of_client);
            if count >= self.caps.per_client {
                return Err(Refused::ClientBusy {
                    retry_after_s: wait(oldest),
                });
            }
        }
        let mut of_key: Vec<(&String, DateTime<Utc>)> = pending
            .iter()
            .filter(|(_, c)| c.fingerprint == challenge.fingerprint && c.expires_at > now)
            .map(|(id, c)| (id, c.expires_at))
            .collect();
        if of_key.len() >= self.caps.per_key {
            of_key.sort_by_key(|(_, expires_at)| *expires_at);
            let surplus = of_key.len() + 1 - self.caps.per_key;
            let evict: Vec<String> = of_key[..surplus]
                .iter()
                .map(|(id, _)| (*id).clone())
                .collect();
            for old in evict {
                pending.remove(&old);
            }
        }
        if pending.len() >= self.caps.capacity {
            pending.retain(|_, c| c.expires_at > now);
        }
        if pending.len() >= self.caps.capacity {
            let (_, oldest) = count_and_oldest(pending.values());
            return Err(Refused::Full {
                retry_after_s: wait(oldest),
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

/// How many, and the earliest expiry among them.
fn count_and_oldest<'a>(
    challenges: impl Iterator<Item = &'a Pending>,
) -> (usize, Option<DateTime<Utc>>) {
    challenges.fold((0, None), |(count, oldest), c| {
        let oldest = Some(oldest.map_or(c.expires_at, |o: DateTime<Utc>| o.min(c.expires_at)));
        (count + 1, oldest)
    })
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
        from(expires, None, "SHA256:k")
    }

    fn from(expires: i64, client: Option<[u8; 4]>, fingerprint: &str) -> Pending {
        Pending {
            key: key(),
            nonce: "n".into(),
            expires_at: t(expires),
            client: client.map(IpAddr::from),
            fingerprint: fingerprint.into(),
        }
    }

    fn caps(capacity: usize) -> Caps {
        Caps {
            capacity,
            per_client: capacity,
            per_key: capacity,
        }
    }

    #[test]
    fn a_challenge_is_single_use() {
        let table = Challenges::new(caps(10));
        table
            .insert("a".into(), challenge(60), t(0))
            .expect("insert");
        assert!(table.take("a", t(1)).is_some());
        assert!(table.take("a", t(2)).is_none(), "a replay must fail");
        assert!(table.take("never", t(2)).is_none());
    }

    #[test]
    fn an_expired_challenge_is_refused_and_removed() {
        let table = Challenges::new(caps(10));
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
        let table = Challenges::new(caps(3));
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            table
                .insert(id.into(), from(60 + i as i64, None, id), t(0))
                .expect("insert");
        }
        let full = table
            .insert("d".into(), from(60, None, "d"), t(10))
            .expect_err("full");
        assert_eq!(full, Refused::Full { retry_after_s: 51 });
        assert_eq!(table.len(), 3);
        // Once the first has expired, it makes room for a new one.
        table
            .insert(
                "d".into(),
                from(200, None, "d"),
                t(60) + Duration::milliseconds(1),
            )
            .expect("room after expiry");
        assert_eq!(table.len(), 3);
        assert!(table.take("a", t(61)).is_none());
        table.prune(t(100));
        assert_eq!(table.len(), 1);
        assert_eq!(table.capacity(), 3);
    }

    #[test]
    fn one_address_and_one_key_are_capped_without_locking_out_others() {
        let table = Challenges::new(Caps {
            capacity: 100,
            per_client: 3,
            per_key: 2,
        });
        let attacker = Some([203, 0, 113, 66]);
        for i in 0..3 {
            let fingerprint = format!("SHA256:{i}");
            table
                .insert(format!("x{i}"), from(60 + i, attacker, &fingerprint), t(0))
                .expect("under the limit");
        }
        let refused = table
            .insert("x3".into(), from(60, attacker, "SHA256:x"), t(10))
            .expect_err("the address is at its limit");
        assert_eq!(refused, Refused::ClientBusy { retry_after_s: 51 });
        assert_eq!(refused.retry_after_s(), 51);
        // Another address is not affected, and one key never holds more than two.
        let other = Some([198, 51, 100, 5]);
        for i in 0..4 {
            table
                .insert(format!("v{i}"), from(60 + i, other, "SHA256:victim"), t(0))
                .expect("a key's oldest makes room");
        }
        assert!(table.take("v0", t(1)).is_none() && table.take("v1", t(1)).is_none());
        assert!(table.take("v3", t(1)).is_some());
        // Once the address's challenges expire it may ask again.
        table
            .insert("x4".into(), from(200, attacker, "SHA256:x"), t(63))
            .expect("room after expiry");
    }
}
