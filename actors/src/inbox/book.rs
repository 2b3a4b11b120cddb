//! Who watches which inbox, and what each subscriber still has to be told: the inbox's rules,
//! with no actor around them.
//!
//! A new subscriber is first answered with the current list (a snapshot gathered from the
//! sessions), and changes that arrive meanwhile are held back for it; once its answer is on its
//! way, the held changes follow, less those the snapshot already shows. So a client never sees a
//! request's `removed` before the answer that lists it, nor an `added` after its `removed`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::pending::{InboxFrame, Pending};
use crate::client::{ClientSink, Outbound, SinkError};
use crate::ids::{ConnectionId, PermissionRequestId, SessionId, UserId};

/// Changes held for one subscriber at most, while its snapshot is gathered; more and it is cut
/// off as a slow consumer (it resubscribes and gets a fresh list).
pub const MAX_HELD: usize = 1024;

type Key = (SessionId, PermissionRequestId);

/// Where a subscriber stands.
enum Phase {
    /// Its snapshot is being gathered, or its answer is on its way: changes wait here, with the
    /// snapshot's requests once it is known.
    Holding {
        held: Vec<Arc<InboxFrame>>,
        snapshot: Option<HashSet<Key>>,
    },
    Live,
}

struct Subscriber {
    user: UserId,
    sink: ClientSink,
    generation: u64,
    phase: Phase,
}

/// Every inbox subscription, by connection.
#[derive(Default)]
pub struct InboxBook {
    subscribers: HashMap<ConnectionId, Subscriber>,
    /// The connections subscribed to each user's inbox.
    by_user: HashMap<UserId, HashSet<ConnectionId>>,
    next_generation: u64,
}

impl InboxBook {
    /// Subscribes `sink`'s connection to `user`'s inbox (again: the earlier subscription is
    /// replaced); answers the subscription's generation. Changes are held until
    /// [`InboxBook::go_live`].
    pub fn subscribe(&mut self, user: &UserId, sink: ClientSink) -> u64 {
        self.next_generation += 1;
        let connection = sink.connection_id().clone();
        self.unsubscribe(&connection);
        self.by_user
            .entry(user.clone())
            .or_default()
            .insert(connection.clone());
        let subscriber = Subscriber {
            user: user.clone(),
            sink,
            generation: self.next_generation,
            phase: Phase::Holding {
                held: Vec::new(),
                snapshot: None,
            },
        };
        self.subscribers.insert(connection, subscriber);
        self.next_generation
    }

    /// Ends a connection's subscription; false when it had none.
    pub fn unsubscribe(&mut self, connection: &ConnectionId) -> bool {
        let Some(gone) = self.subscribers.remove(connection) else {
            return false;
        };
        if let Some(connections) = self.by_user.get_mut(&gone.user) {
            connections.remove(connection);
            if connections.is_empty() {
                self.by_user.remove(&gone.user);
            }
        }
        true
    }

    /// Ends subscription `generation` of `connection` only (its snapshot failed).
    pub fn abandon(&mut self, connection: &ConnectionId, generation: u64) {
        if self.is_current(connection, generation) {
            self.unsubscribe(connection);
        }
    }

    fn is_current(&self, connection: &ConnectionId, generation: u64) -> bool {
        self.subscribers
            .get(connection)
            .is_some_and(|s| s.generation == generation)
    }

    /// The snapshot of subscription `generation` is gathered (and about to be answered).
    pub fn snapshot_taken(&mut self, connection: &ConnectionId, generation: u64, list: &[Pending]) {
        let Some(subscriber) = self.subscribers.get_mut(connection) else {
            return;
        };
        if subscriber.generation != generation {
            return;
        }
        if let Phase::Holding { snapshot, .. } = &mut subscriber.phase {
            let keys = list
                .iter()
                .map(|p| (p.session_id, p.request.request_id.clone()))
                .collect();
            *snapshot = Some(keys);
        }
    }

    /// The answer of subscription `generation` is queued: send what was held, less what the
    /// snapshot already shows, and every change from now on. Answers how many clients were cut
    /// off as slow consumers (0 or 1).
    pub fn go_live(&mut self, connection: &ConnectionId, generation: u64) -> u64 {
        let Some(subscriber) = self.subscribers.get_mut(connection) else {
            return 0;
        };
        if subscriber.generation != generation {
            return 0;
        }
        let Phase::Holding { held, snapshot } =
            std::mem::replace(&mut subscriber.phase, Phase::Live)
        else {
            return 0;
        };
        let snapshot = snapshot.unwrap_or_default();
        let mut added = HashSet::new();
        for frame in held {
            let key = (frame.session_id, frame.request_id.clone());
            // An `added` the snapshot shows came before it; a `removed` of a request neither
            // in the snapshot nor added since came before it too.
            let news = if frame.added {
                !snapshot.contains(&key) && added.insert(key)
            } else {
                snapshot.contains(&key) || added.contains(&key)
            };
            if news {
                if let Err(error) = subscriber.sink.push(Outbound::Inbox(frame)) {
                    self.unsubscribe(connection);
                    return u64::from(error == SinkError::SlowConsumer);
                }
            }
        }
        0
    }

    /// Tells every subscriber of `owner`'s inbox of `frame` (held for those not yet live).
    /// Answers how many were cut off as slow consumers; they and closed connections are
    /// unsubscribed.
    pub fn deliver(&mut self, owner: &UserId, frame: &Arc<InboxFrame>) -> u64 {
        let Some(connections) = self.by_user.get(owner) else {
            return 0;
        };
        let mut gone = Vec::new();
        let mut slow = 0;
        for connection in connections {
            let Some(subscriber) = self.subscribers.get_mut(connection) else {
                continue;
            };
            match &mut subscriber.phase {
                Phase::Holding { held, .. } if held.len() < MAX_HELD => held.push(frame.clone()),
                Phase::Holding { .. } => {
                    subscriber.sink.cut_off();
                    slow += 1;
                    gone.push(connection.clone());
                }
                Phase::Live => match subscriber.sink.push(Outbound::Inbox(frame.clone())) {
                    Ok(()) => {}
                    Err(error) => {
                        slow += u64::from(error == SinkError::SlowConsumer);
                        gone.push(connection.clone());
                    }
                },
            }
        }
        for connection in gone {
            self.unsubscribe(&connection);
        }
        slow
    }

    /// How many connections are subscribed (for tests and statistics).
    pub fn len(&self) -> usize {
        self.subscribers.len()
    }

    /// Whether nobody is subscribed.
    pub fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::PermissionRequest;
    use serde_json::{json, Value};
    use tokio::sync::mpsc;

    fn pending(session: SessionId, id: &str) -> Pending {
        Pending {
            session_id: session,
            session_title: None,
            cwd: "/".into(),
            request: PermissionRequest {
                request_id: PermissionRequestId::new(id),
                tool_name: "Bash".into(),
                input: json!({}),
                description: None,
                tool_use_id: None,
                blocked_path: None,
                suggestions: None,
            },
            requested_at: "2026-01-01T00:00:00.000Z".into(),
            seq: 1,
        }
    }

    fn added(session: SessionId, id: &str) -> Arc<InboxFrame> {
        Arc::new(InboxFrame::added(&pending(session, id)))
    }

    fn removed(session: SessionId, id: &str) -> Arc<InboxFrame> {
        Arc::new(InboxFrame::removed(
            session,
            &PermissionRequestId::new(id),
            "allow",
        ))
    }

    fn sink(name: &str, capacity: usize) -> (ClientSink, mpsc::Receiver<Outbound>) {
        let (sink, rx, _) = ClientSink::channel(ConnectionId::new(name), capacity);
        (sink, rx)
    }

    /// What the client received, as `added r1` / `removed r1`.
    fn received(rx: &mut mpsc::Receiver<Outbound>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(item) = rx.try_recv() {
            let Outbound::Inbox(frame) = item else {
                panic!("not an inbox frame: {item:?}");
            };
            let wire: Value = serde_json::from_str(&frame.json).unwrap();
            let (change, body) = wire["data"].as_object().unwrap().iter().next().unwrap();
            out.push(format!("{change} {}", body["request_id"].as_str().unwrap()));
        }
        out
    }

    #[test]
    fn changes_wait_for_the_answer_and_skip_what_the_snapshot_shows() {
        let (alice, s) = (UserId::new("alice"), SessionId::new());
        let mut book = InboxBook::default();
        let (phone, mut rx) = sink("phone", 64);
        let generation = book.subscribe(&alice, phone);
        // While the snapshot is gathered: r1 added (the snapshot will show it), r0 removed
        // (asked before, answered before the snapshot), r2 added and removed, r3 added.
        for frame in [
            added(s, "r1"),
            removed(s, "r0"),
            added(s, "r2"),
            removed(s, "r2"),
            added(s, "r3"),
        ] {
            book.deliver(&alice, &frame);
        }
        book.snapshot_taken(&ConnectionId::new("phone"), generation, &[pending(s, "r1")]);
        // After the snapshot, before the answer is out: r1 removed.
        book.deliver(&alice, &removed(s, "r1"));
        assert!(received(&mut rx).is_empty(), "nothing before the answer");
        book.go_live(&ConnectionId::new("phone"), generation);
        assert_eq!(
            received(&mut rx),
            ["added r2", "removed r2", "added r3", "removed r1"]
        );
        book.deliver(&alice, &added(s, "r4"));
        assert_eq!(received(&mut rx), ["added r4"]);
    }

    #[test]
    fn another_users_changes_never_reach_a_subscriber() {
        let (alice, bob, s) = (UserId::new("alice"), UserId::new("bob"), SessionId::new());
        let mut book = InboxBook::default();
        let (phone, mut rx) = sink("phone", 64);
        let generation = book.subscribe(&alice, phone);
        book.go_live(&ConnectionId::new("phone"), generation);
        book.deliver(&bob, &added(s, "bobs"));
        assert!(received(&mut rx).is_empty());
    }

    #[test]
    fn an_old_subscriptions_answer_does_not_open_a_newer_one() {
        let (alice, s) = (UserId::new("alice"), SessionId::new());
        let mut book = InboxBook::default();
        let (first, _) = sink("phone", 64);
        let old = book.subscribe(&alice, first);
        let (again, mut rx) = sink("phone", 64);
        let new = book.subscribe(&alice, again);
        book.deliver(&alice, &added(s, "r1"));
        book.go_live(&ConnectionId::new("phone"), old);
        assert!(
            received(&mut rx).is_empty(),
            "still holding for the new one"
        );
        book.go_live(&ConnectionId::new("phone"), new);
        assert_eq!(received(&mut rx), ["added r1"]);
        assert_eq!(book.len(), 1);
    }

    #[test]
    fn a_full_queue_is_a_slow_consumer_and_a_closed_one_is_forgotten() {
        let (alice, s) = (UserId::new("alice"), SessionId::new());
        let mut book = InboxBook::default();
        let (slow, slow_rx) = sink("slow", 2);
        let generation = book.subscribe(&alice, slow.clone());
        book.go_live(&ConnectionId::new("slow"), generation);
        let (gone, gone_rx) = sink("gone", 8);
        let generation = book.subscribe(&alice, gone);
        book.go_live(&ConnectionId::new("gone"), generation);
        drop(gone_rx);
        assert_eq!(book.deliver(&alice, &added(s, "r1")), 0);
        assert_eq!(book.len(), 1, "the closed connection is forgotten");
        assert_eq!(book.deliver(&alice, &added(s, "r2")), 0);
        assert_eq!(book.deliver(&alice, &added(s, "r3")), 1);
        assert!(slow.overflowed());
        assert!(book.is_empty());
        drop(slow_rx);
    }

    #[test]
    fn too_much_held_is_a_slow_consumer() {
        let (alice, s) = (UserId::new("alice"), SessionId::new());
        let mut book = InboxBook::default();
        let (phone, _rx) = sink("phone", 8);
        book.subscribe(&alice, phone.clone());
        for i in 0..MAX_HELD {
            assert_eq!(book.deliver(&alice, &added(s, &format!("r{i}"))), 0);
        }
        assert_eq!(book.deliver(&alice, &added(s, "one more")), 1);
        assert!(phone.overflowed());
        assert!(book.is_empty());
    }

    #[test]
    fn unsubscribing_ends_the_changes() {
        let (alice, s) = (UserId::new("alice"), SessionId::new());
        let mut book = InboxBook::default();
        let (phone, mut rx) = sink("phone", 8);
        let generation = book.subscribe(&alice, phone);
        book.go_live(&ConnectionId::new("phone"), generation);
        assert!(book.unsubscribe(&ConnectionId::new("phone")));
        assert!(!book.unsubscribe(&ConnectionId::new("phone")));
        book.deliver(&alice, &added(s, "r1"));
        assert!(received(&mut rx).is_empty());
    }
}
