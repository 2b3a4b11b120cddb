//! Connected clients: who is there, what each is subscribed to, and ending subscriptions when a
//! client leaves.

use std::collections::HashSet;

use actix::prelude::*;

use crate::command::{Caller, SessionOp};
use crate::ids::{ConnectionId, SessionId};
use crate::session::SessionRequest;

use super::{
    ClientConnected, ClientDisconnected, ClientInfo, ListClients, Registry, SubscriptionChanged,
};

impl Registry {
    pub(super) fn note_subscription(
        &mut self,
        connection: &ConnectionId,
        session: SessionId,
        subscribed: bool,
    ) {
        if let Some(client) = self.clients.get_mut(connection) {
            client.subscriptions.retain(|s| *s != session);
            if subscribed {
                client.subscriptions.push(session);
            }
        }
    }
}

impl Handler<ClientConnected> for Registry {
    type Result = ();

    fn handle(&mut self, msg: ClientConnected, _: &mut Context<Self>) {
        self.metrics.client(msg.0.transport, 1);
        self.clients.insert(msg.0.connection_id.clone(), msg.0);
    }
}

impl Handler<ClientDisconnected> for Registry {
    type Result = ();

    fn handle(&mut self, msg: ClientDisconnected, _: &mut Context<Self>) {
        let Some(client) = self.clients.remove(&msg.0) else {
            return;
        };
        self.metrics.client(client.transport, -1);
        self.inbox
            .do_send(crate::inbox::InboxConnectionGone(msg.0.clone()));
        let sessions: HashSet<_> = client.subscriptions.into_iter().collect();
        for id in sessions {
            if let Some(entry) = self.sessions.get(&id) {
                entry.addr.do_send(SessionRequest {
                    caller: Caller {
                        user: client.user.clone(),
                        connection: Some(msg.0.clone()),
                    },
                    op: SessionOp::Unsubscribe,
                });
            }
        }
    }
}

impl Handler<SubscriptionChanged> for Registry {
    type Result = ();

    fn handle(&mut self, msg: SubscriptionChanged, _: &mut Context<Self>) {
        self.note_subscription(&msg.connection, msg.session, msg.subscribed);
    }
}

impl Handler<ListClients> for Registry {
    type Result = Vec<ClientInfo>;

    fn handle(&mut self, msg: ListClients, _: &mut Context<Self>) -> Vec<ClientInfo> {
        self.clients
            .values()
            .filter(|c| c.user == msg.0)
            .cloned()
            .collect()
    }
}
