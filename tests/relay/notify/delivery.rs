//! Delivery that can be trusted: a push service answering 500 is tried again with backoff (the
//! same notification, the same id), one answering 410 loses the subscription, and one that never
//! answers delays neither the other phones nor the session. Every attempt shows in `/metrics`.

use std::time::{Duration, Instant};

use test_support::receiver::{Receiver, Reply};

use super::browser::Browser;
use super::{
    allow, api, data, notify_settings, payloads, push_where, pushes, request_id, subscribe,
    RM_BUILD,
};
use crate::metrics::sample;
use crate::support::client::Client;
use crate::support::http::get;
use crate::support::in_process::InProcessServer;
use crate::support::{eventually_async, PATIENCE};

#[tokio::test]
async fn a_failing_push_service_is_retried_and_a_gone_subscription_removed() {
    let push = Receiver::start().await.expect("a fake push service");
    push.queue("/push/flaky", &[Reply::Status(500), Reply::Status(503)]);
    push.always("/push/gone", Reply::Status(410));
    let server = InProcessServer::start_with(notify_settings(&[]));
    let flaky = Browser::new(format!("{}/push/flaky", push.url));
    let gone = Browser::new(format!("{}/push/gone", push.url));
    subscribe(&server, None, &flaky).await;
    let gone_id = subscribe(&server, None, &gone).await["id"].clone();

    let mut app = Client::connect(&server.ws_url()).await;
    let session = app.create(&server.project()).await;
    app.subscribe(&session, 0).await;
    app.prompt(&session, RM_BUILD).await;

    // Three tries of one notification: two failures, then accepted.
    let tries = pushes(&push, "/push/flaky", 3).await;
    let ids: Vec<_> = tries
        .iter()
        .map(|t| flaky.decrypt(t)["id"].clone())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "retries carry the same id: {ids:?}"
    );
    assert!(tries[1].at.duration_since(tries[0].at) >= Duration::from_millis(100));
    assert!(tries[2].at.duration_since(tries[1].at) >= Duration::from_millis(400));
    assert_eq!(flaky.decrypt(&tries[2])["kind"], "approval");

    // 410: the subscription is gone from the list, and never tried again.
    pushes(&push, "/push/gone", 1).await;
    eventually_async(
        "the gone subscription leaving the list",
        PATIENCE,
        || async {
            let listed = data(
                &api(&server, "GET", "/api/v1/push/subscriptions", None, None).await,
                200,
            );
            let ids: Vec<_> = listed["subscriptions"]
                .as_array()
                .expect("a list")
                .iter()
                .map(|s| s["id"].clone())
                .collect();
            !ids.contains(&gone_id)
        },
    )
    .await;
    let metrics = get(&server.url, "/metrics").await.body;
    assert_eq!(
        sample(&metrics, "relay_notify_removed_total"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "relay_notify_failed_total{channel=\"webpush\"}"),
        Some(2.0),
        "{metrics}"
    );
    assert!(
        sample(&metrics, "relay_notify_sent_total{channel=\"webpush\"}").is_some_and(|n| n >= 1.0)
    );
    assert!(sample(
        &metrics,
        "relay_notify_latency_seconds_count{channel=\"webpush\"}"
    )
    .is_some_and(|n| n >= 1.0));

    let request = request_id(&app.wait_kind("permission.requested").await);
    app.ok("session.permission", allow(&session, &request))
        .await;
    push_where(&push, &flaky, |p| p["kind"] == "completed").await;
    assert_eq!(push.received_at("/push/gone").len(), 1);
}

#[tokio::test]
async fn a_push_service_that_never_answers_delays_no_other_phone_and_no_event() {
    let push = Receiver::start().await.expect("a fake push service");
    push.always("/push/hanging", Reply::Hang);
    let server = InProcessServer::start_with(notify_settings(&["timeout_s = 30"]));
    // The hanging one first: it is the first each notification is handed to.
    let hanging = Browser::new(format!("{}/push/hanging", push.url));
    subscribe(&server, None, &hanging).await;
    let phone = Browser::new(format!("{}/push/phone", push.url));
    subscribe(&server, None, &phone).await;

    let mut app = Client::connect(&server.ws_url()).await;
    let session = app.create(&server.project()).await;
    app.subscribe(&session, 0).await;
    for round in 1..=3 {
        app.prompt(&session, RM_BUILD).await;
        let requested = app.wait_kind("permission.requested").await;
        let seen = Instant::now();
        let request = request_id(&requested);
        let (got, _) = push_where(&push, &phone, |p| p["request_id"] == request.as_str()).await;
        // Far within the 30 s the hanging endpoint holds each of its deliveries.
        assert!(
            got.at.saturating_duration_since(seen) < Duration::from_secs(5),
            "round {round}: the phone waited {:?}",
            got.at.saturating_duration_since(seen)
        );
        // The session goes on at once too.
        app.ok("session.permission", allow(&session, &request))
            .await;
        let done = app.wait_kind("prompt.completed").await;
        assert!(
            seen.elapsed() < Duration::from_secs(5),
            "round {round}: {done}"
        );
        app.events.clear();
    }
    assert!(!push.received_at("/push/hanging").is_empty());
    assert!(payloads(&push, &phone)
        .iter()
        .any(|p| p["kind"] == "completed"));
}
