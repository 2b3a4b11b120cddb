//! The notifier actor: hears every committed watched event (`actors::watch::Watchers`), asks
//! [`Rules`] what it means, looks up the owner's level and subscriptions, leaves out the devices
//! viewing the session, coalesces per target and tag, and hands each notification to the
//! [`Deliverer`]. Events are handled one at a time, in commit order per session.

use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use ::actors::watch::Committed;
use actix::prelude::*;

use super::coalesce::Coalescer;
use super::config::NotifyConfig;
use super::delivery::{Channel, Deliverer, Delivery};
use super::metrics::NotifyMetrics;
use super::payload::Payload;
use super::presence::Viewer;
use super::rules::{Kind, Notice, Rules};
use super::webpush::PushTarget;
use super::Notify;

/// Which target a coalescing window is for.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum TargetKey {
    Push(String),
    Ntfy(usize),
    Webhook(usize),
}

/// The notifier of one server.
pub struct Notifier {
    notify: Arc<Notify>,
    config: NotifyConfig,
    metrics: Arc<NotifyMetrics>,
    public_url: Option<String>,
    rules: Rules,
    coalescer: Coalescer<(TargetKey, String), Delivery>,
    deliverer: Option<Rc<Deliverer>>,
}

impl Notifier {
    pub fn new(
        notify: Arc<Notify>,
        config: NotifyConfig,
        metrics: Arc<NotifyMetrics>,
        public_url: Option<String>,
    ) -> Notifier {
        let window = std::time::Duration::from_millis(config.coalesce_ms);
        Notifier {
            notify,
            config,
            metrics,
            public_url,
            rules: Rules::default(),
            coalescer: Coalescer::new(window),
            deliverer: None,
        }
    }

    /// The deliveries of `notice` for `user`, to the targets its level and viewers allow.
    fn fan_out(
        &mut self,
        notice: Notice,
        user: String,
        subscriptions: Vec<crate::store::push::SubscriptionRecord>,
        committed_at: Option<Instant>,
        ctx: &mut Context<Self>,
    ) {
        let viewers: HashSet<Viewer> = if notice.kind == Kind::Resolved {
            HashSet::new()
        } else {
            self.notify.presence().viewers_of(&notice.session_id)
        };
        let tag = notice.tag();
        let mut out: Vec<(TargetKey, Channel)> = Vec::new();
        for sub in subscriptions {
            let viewer = Viewer::new(&sub.user, sub.device_id.as_deref());
            if viewers.contains(&viewer) {
                continue;
            }
            match PushTarget::parse(&sub.endpoint, &sub.p256dh, &sub.auth) {
                Ok(target) => out.push((
                    TargetKey::Push(sub.id.clone()),
                    Channel::WebPush {
                        subscription_id: sub.id,
                        target,
                    },
                )),
                Err(error) => log::warn!("notify: push subscription {} unusable: {error}", sub.id),
            }
        }
        let for_user =
            |target_user: &Option<String>| target_user.as_deref().map_or(true, |only| only == user);
        if notice.kind != Kind::Resolved {
            for (at, target) in self.config.ntfy.iter().enumerate() {
                if for_user(&target.user) {
                    out.push((TargetKey::Ntfy(at), Channel::Ntfy(Arc::new(target.clone()))));
                }
            }
        }
        for (at, target) in self.config.webhook.iter().enumerate() {
            if for_user(&target.user) {
                out.push((
                    TargetKey::Webhook(at),
                    Channel::Webhook(Arc::new(target.clone())),
                ));
            }
        }
        let now = Instant::now();
        for (key, channel) in out {
            let delivery = Delivery {
                channel,
                payload: Payload::new(
                    uuid::Uuid::new_v4().to_string(),
                    notice.clone(),
                    self.config.include_content,
                ),
                user: user.clone(),
                committed_at,
                held: false,
            };
            if let Some(now_delivery) = self.coalescer.offer((key, tag.clone()), delivery, now) {
                self.send(now_delivery);
                self.flush_later(ctx);
            }
        }
    }

    fn send(&self, delivery: Delivery) {
        if let Some(deliverer) = &self.deliverer {
            deliverer.deliver(delivery);
        }
    }

    /// Sends what the windows ending by then hold, when the window just opened ends.
    fn flush_later(&self, ctx: &mut Context<Self>) {
        ctx.run_later(self.coalescer.window(), |act, ctx| {
            for (_, mut delivery) in act.coalescer.due(Instant::now()) {
                delivery.held = true;
                act.send(delivery);
                act.flush_later(ctx);
            }
        });
    }
}

impl Actor for Notifier {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Context<Self>) {
        self.deliverer = Some(Rc::new(Deliverer::new(
            &self.config,
            self.notify.clone(),
            self.metrics.clone(),
            self.public_url.clone(),
        )));
    }
}

impl Handler<Committed> for Notifier {
    type Result = ();

    fn handle(&mut self, committed: Committed, ctx: &mut Context<Self>) {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&committed.event.json) else {
            return;
        };
        let Some(notice) = self
            .rules
            .notice(committed.title.as_deref(), &committed.cwd, &event)
        else {
            return;
        };
        let committed_at = committed.event.committed_at.get().copied();
        let user = committed.owner.as_str().to_string();
        let notify = self.notify.clone();
        let session = notice.session_id.clone();
        // The next event waits for this one's look-up: notifications keep the commit order.
        ctx.wait(
            async move {
                let settings = notify.settings(&user).await?;
                let level = settings.for_session(&session);
                let subscriptions = if level.allows(notice.kind) {
                    notify.subscription_records(&user).await?
                } else {
                    Vec::new()
                };
                Ok::<_, super::NotifyError>((notice, user, level, subscriptions))
            }
            .into_actor(self)
            .map(move |looked_up, act, ctx| match looked_up {
                Ok((notice, user, level, subscriptions)) => {
                    if level.allows(notice.kind) {
                        act.fan_out(notice, user, subscriptions, committed_at, ctx);
                    }
                }
                Err(error) => log::warn!("notify: cannot look up whom to notify: {error}"),
            }),
        );
    }
}
