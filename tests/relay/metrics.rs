//! `GET /metrics` counts what happens, in the Prometheus text format.

use crate::support::client::Client;
use crate::support::http::get;
use crate::support::server::TestServer;

/// The value of the sample `name{labels}` (the whole series text before the value).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_move_when_the_things_they_count_happen() {
    let server = TestServer::start();
    let before = get(&server.url, "/metrics").await;
    assert_eq!(before.status, 200);
    assert!(before.header("content-type").unwrap().contains("text"));
    assert_eq!(
        sample(&before.body, "relay_prompts_total{outcome=\"completed\"}"),
        None
    );

    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let prompt = phone.prompt(&session, "emit 3").await;
    phone.wait_prompt_end(&prompt).await;
    phone
        .wait_event(|e| e["kind"] == "session.status" && e["data"]["status"] == "idle")
        .await;

    let after = get(&server.url, "/metrics").await.body;
    assert_eq!(
        sample(&after, "relay_clients{transport=\"websocket\"}"),
        Some(1.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "relay_prompts_total{outcome=\"completed\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&after, "relay_prompt_seconds_count"), Some(1.0));
    assert_eq!(
        sample(&after, "relay_events_stored_total{kind=\"prompt.queued\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&after, "relay_events_stored_total{kind=\"agent.output\"}"),
        Some(5.0)
    );
    assert!(sample(&after, "relay_store_write_seconds_count").unwrap() >= 1.0);
    assert!(sample(&after, "relay_replay_events_total").unwrap() >= 1.0);
    assert_eq!(sample(&after, "relay_agents_running"), Some(1.0));
    assert_eq!(sample(&after, "relay_sessions{status=\"idle\"}"), Some(1.0));
    assert_eq!(
        sample(&after, "relay_sessions{status=\"running\"}"),
        Some(0.0)
    );
    assert!(
        sample(
            &after,
            "relay_http_requests_total{route=\"/metrics\",status=\"200\"}"
        )
        .unwrap()
            >= 1.0
    );
    assert!(!after.contains(&session), "no session ids in labels");

    // Events that commit while a new subscriber's replay is still running reach it through the
    // replay, and only live ones have a fan-out time; the subscription turns live as soon as the
    // replay finds nothing more to read, so a prompt or two later events go out live. A live
    // event's time is counted before the client can read the event.
    let mut fanned_out = None;
    for _ in 0..10 {
        let more = phone.prompt(&session, "emit 1").await;
        phone.wait_prompt_end(&more).await;
        let later = get(&server.url, "/metrics").await.body;
        fanned_out = sample(&later, "relay_fanout_seconds_count");
        if fanned_out.is_some_and(|n| n >= 1.0) {
            break;
        }
    }
    assert!(
        fanned_out.is_some_and(|n| n >= 1.0),
        "no live event was counted: {fanned_out:?}"
    );

    drop(phone);
    // The disconnect is noticed: poll the metric until it drops (each poll is a real request).
    let mut clients = Some(1.0);
    for _ in 0..200 {
        clients = sample(
            &get(&server.url, "/metrics").await.body,
            "relay_clients{transport=\"websocket\"}",
        );
        if clients == Some(0.0) {
            break;
        }
    }
    assert_eq!(clients, Some(0.0));
}
