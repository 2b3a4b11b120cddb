//! Pages of a session's stored history (`session.events`, `GET …/events`): forwards after a
//! seq, or backwards before one, read from the store and never past what the session has
//! committed (so a page never shows an event a subscriber could not yet have seen).

use actix::prelude::*;

use super::requests::{ready, Answer};
use super::Session;
use crate::command::{EventsQuery, Reply};
use crate::error::RelayError;
use crate::ids::{Seq, MAX_SEQ};

/// The page size when a request names none, and the largest one served.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// Where a page starts, once the request is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bound {
    After(Seq),
    Before(Seq),
}

/// The page a query asks for: `bad_request` for both bounds at once or a seq the store cannot
/// hold.
fn bound(query: &EventsQuery) -> Result<Bound, RelayError> {
    let checked = |name: &str, seq: u64| {
        if seq > MAX_SEQ {
            Err(RelayError::BadRequest(format!(
                "{name} must be at most {MAX_SEQ}"
            )))
        } else {
            Ok(seq)
        }
    };
    match (query.after_seq, query.before_seq) {
        (Some(_), Some(_)) => Err(RelayError::BadRequest(
            "give after_seq or before_seq, not both".into(),
        )),
        (_, Some(before)) => checked("before_seq", before).map(Bound::Before),
        (after, None) => checked("after_seq", after.unwrap_or(0)).map(Bound::After),
    }
}

impl Session {
    /// Reads the page `query` asks for. A `before_seq` past the session's end reads its last
    /// events.
    pub(super) fn events_page(&mut self, query: &EventsQuery) -> Answer {
        let bound = match bound(query) {
            Ok(bound) => bound,
            Err(error) => return ready(Err(error)),
        };
        let last_seq = self.log.stored_seq();
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let store = &self.deps.store;
        let read = match bound {
            Bound::After(after) => store.read_events(self.info.id, after, limit),
            Bound::Before(before) => {
                let before = before.min(last_seq.saturating_add(1));
                store.read_events_before(self.info.id, before, limit)
            }
        };
        Box::pin(read.into_actor(self).map(move |page, _, _| match page {
            Ok(mut events) => {
                events.retain(|e| e.seq <= last_seq);
                Ok(Reply::Events { events, last_seq })
            }
            Err(error) => Err(RelayError::StoreUnavailable(error)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(after_seq: Option<u64>, before_seq: Option<u64>) -> EventsQuery {
        EventsQuery {
            after_seq,
            before_seq,
            limit: None,
        }
    }

    #[test]
    fn one_bound_at_most_and_within_the_store() {
        assert_eq!(bound(&query(None, None)).ok(), Some(Bound::After(0)));
        assert_eq!(bound(&query(Some(5), None)).ok(), Some(Bound::After(5)));
        assert_eq!(bound(&query(None, Some(5))).ok(), Some(Bound::Before(5)));
        assert!(bound(&query(Some(1), Some(5))).is_err());
        assert!(bound(&query(Some(MAX_SEQ + 1), None)).is_err());
        assert!(bound(&query(None, Some(u64::MAX))).is_err());
        assert!(bound(&query(None, Some(MAX_SEQ))).is_ok());
    }
}
