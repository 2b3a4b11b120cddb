//! Rate limits (`limits.requests_per_minute`, per user over all transports), with `governor`.
//! A request over the limit gets `rate_limited` with `retry_after_s`; nothing is closed for it.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use actors::error::RelayError;
use actors::ids::UserId;
use actors::metrics::RelayMetrics;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Sign-in answers, and separately challenge requests, one address may make per minute after a
/// burst of [`SIGN_IN_BURST`].
const SIGN_INS_PER_MINUTE: NonZeroU32 = match NonZeroU32::new(10) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};
const SIGN_IN_BURST: NonZeroU32 = match NonZeroU32::new(20) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// The per-user request budget shared by the WebSocket and HTTP transports.
pub struct RateLimits {
    per_user: Option<DefaultKeyedRateLimiter<String>>,
    /// Sign-in answers (`/auth/verify`) per client address.
    sign_in: DefaultKeyedRateLimiter<IpAddr>,
    /// Challenge requests (`/auth/challenge`) per client address.
    challenges: DefaultKeyedRateLimiter<IpAddr>,
    /// Pairing attempts (`/auth/pair`) per client address.
    pairing: DefaultKeyedRateLimiter<IpAddr>,
    metrics: Arc<RelayMetrics>,
}

impl RateLimits {
    /// `requests_per_minute` per user, allowing a burst of that many; 0 turns the limit off.
    pub fn new(requests_per_minute: u32, metrics: Arc<RelayMetrics>) -> Self {
        let per_user = NonZeroU32::new(requests_per_minute)
            .map(|rate| DefaultKeyedRateLimiter::keyed(Quota::per_minute(rate)));
        let sign_in_quota = Quota::per_minute(SIGN_INS_PER_MINUTE).allow_burst(SIGN_IN_BURST);
        RateLimits {
            per_user,
            sign_in: DefaultKeyedRateLimiter::keyed(sign_in_quota),
            challenges: DefaultKeyedRateLimiter::keyed(sign_in_quota),
            pairing: DefaultKeyedRateLimiter::keyed(sign_in_quota),
            metrics,
        }
    }

    /// Counts one request of `user`; `rate_limited` when the budget is spent.
    pub fn check(&self, user: &UserId) -> Result<(), RelayError> {
        let Some(limiter) = &self.per_user else {
            return Ok(());
        };
        match limiter.check_key(&user.as_str().to_string()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                self.metrics.rate_limited.inc();
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let retry_after_s = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                log::info!("user {user}: rate limited for {retry_after_s} s");
                Err(RelayError::RateLimited {
                    retry_after_s: retry_after_s.max(1),
                })
            }
        }
    }

    /// Counts one sign-in answer from the client address `client`; `rate_limited` when it
    /// tries too often.
    pub fn check_sign_in(&self, client: Option<IpAddr>) -> Result<(), RelayError> {
        self.check_address(&self.sign_in, "sign-in", client)
    }

    /// Counts one challenge request from the client address `client`; `rate_limited` when it
    /// asks too often.
    pub fn check_challenge(&self, client: Option<IpAddr>) -> Result<(), RelayError> {
        self.check_address(&self.challenges, "sign-in challenge", client)
    }

    /// Counts one pairing attempt from the client address `client`, with the sign-in quota;
    /// `rate_limited` when it tries too often (codes cannot be guessed at speed).
    pub fn check_pairing(&self, client: Option<IpAddr>) -> Result<(), RelayError> {
        self.check_address(&self.pairing, "pairing", client)
    }

    /// Per-address limits count an IPv6 client by its /64 ([`crate::client_addr::limit_key`]).
    fn check_address(
        &self,
        limiter: &DefaultKeyedRateLimiter<IpAddr>,
        what: &str,
        client: Option<IpAddr>,
    ) -> Result<(), RelayError> {
        let key = client.map_or(IpAddr::from([0, 0, 0, 0]), crate::client_addr::limit_key);
        limiter.check_key(&key).map_err(|not_until| {
            self.metrics.rate_limited.inc();
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            log::warn!("{what} from {key}: too many attempts");
            RelayError::RateLimited {
                retry_after_s: (wait.as_secs() + 1).max(1),
            }
        })
    }

    /// Forgets users idle long enough to have a full budget again (bounded memory).
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.per_user {
            limiter.retain_recent();
        }
        self.sign_in.retain_recent();
        self.challenges.retain_recent();
        self.pairing.retain_recent();
    }
}
