//! Which sessions the app is showing right now, per connection (`client.viewing`): the notifier
//! sends no push to a device that has a live connection viewing the session a notification is
//! about. A connection is known by its token's device; one without a paired device (a token of
//! an SSH key, or auth off) stands for its user's device-less subscriptions.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use actors::ids::ConnectionId;

/// Who a connection or a subscription stands for: its paired device, else its user.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Viewer {
    Device(String),
    User(String),
}

impl Viewer {
    /// The viewer of a token of `device` (if any) of `user`.
    pub fn new(user: &str, device: Option<&str>) -> Viewer {
        match device {
            Some(device) => Viewer::Device(device.to_string()),
            None => Viewer::User(user.to_string()),
        }
    }
}

/// The sessions live connections are viewing.
#[derive(Default)]
pub struct Presence {
    viewing: Mutex<HashMap<ConnectionId, (Viewer, String)>>,
}

impl Presence {
    /// Connection `connection` of `viewer` now shows `session` (`None`: nothing, or hidden).
    pub fn set(&self, connection: &ConnectionId, viewer: Viewer, session: Option<String>) {
        let mut viewing = self.lock();
        match session {
            Some(session) => {
                viewing.insert(connection.clone(), (viewer, session));
            }
            None => {
                viewing.remove(connection);
            }
        }
    }

    /// The connection is gone.
    pub fn forget(&self, connection: &ConnectionId) {
        self.lock().remove(connection);
    }

    /// Everyone with a live connection viewing `session`.
    pub fn viewers_of(&self, session: &str) -> HashSet<Viewer> {
        self.lock()
            .values()
            .filter(|(_, viewed)| viewed == session)
            .map(|(viewer, _)| viewer.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, (Viewer, String)>> {
        self.viewing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_views_while_one_of_its_connections_shows_the_session() {
        let presence = Presence::default();
        let (a, b) = (ConnectionId::random(), ConnectionId::random());
        let phone = Viewer::new("alice", Some("d1"));
        presence.set(&a, phone.clone(), Some("s1".into()));
        presence.set(&b, Viewer::new("alice", None), Some("s2".into()));
        assert_eq!(presence.viewers_of("s1"), HashSet::from([phone.clone()]));
        assert_eq!(
            presence.viewers_of("s2"),
            HashSet::from([Viewer::User("alice".into())])
        );
        presence.set(&a, phone.clone(), Some("s2".into()));
        assert!(presence.viewers_of("s1").is_empty());
        presence.set(&a, phone, None);
        presence.forget(&b);
        assert!(presence.viewers_of("s2").is_empty());
    }
}
