//! `GET /metrics` counts what happens, in the Prometheus text format.

use crate::support::client::Client;
use crate::support::http::get;
use crate::support::in_process::InProcessServer;

/// The value of the sample `name{labels}` (the whole series text before the value).
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_move_when_the_things_they_count_happen() {
    let server = InProcessServer::start();
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

/// The sum of every sample of the family `name` (lines `name{…} value`).
fn family_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn with_auth_a_user_sees_only_their_own_figures_and_an_operator_sees_all() {
    use crate::support::home::Settings;
    use crate::support::http::request;
    use serde_json::json;

    let server = InProcessServer::start_with(
        Settings::default()
            .set("auth", "enabled = true")
            .set("auth", "operators = [\"root\"]"),
    );
    let token = |user: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_pocket-relay"))
            .args(["token", "issue", "--user", user, "--config"])
            .arg(server.dir.path().join("config.toml"))
            .current_dir(server.dir.path())
            .output()
            .expect("token issue");
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let (alice, bob, root) = (token("alice"), token("bob"), token("root"));
    let connect = |token: String| {
        let url = format!("{}?token={token}", server.ws_url());
        async move {
            let mut client = Client::connect_raw(&url).await;
            client.send(json!({"type": "hello", "protocol": 1})).await;
            assert_eq!(client.recv().await.expect("welcome")["type"], "welcome");
            client
        }
    };
    // Alice: two connections, two sessions; Bob: one and one.
    let mut alice_phone = connect(alice.clone()).await;
    let _alice_laptop = connect(alice.clone()).await;
    alice_phone.create(&server.project()).await;
    alice_phone.create(&server.project()).await;
    let mut bob_phone = connect(bob.clone()).await;
    bob_phone.create(&server.project()).await;

    let scrape = |token: String| {
        let url = server.url.clone();
        async move {
            let auth = format!("Bearer {token}");
            let answer = request(&url, "GET", "/metrics", &[("Authorization", &auth)], None).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            answer.body
        }
    };
    let mine = scrape(bob.clone()).await;
    assert_eq!(family_sum(&mine, "relay_sessions"), 1.0, "{mine}");
    assert_eq!(
        sample(&mine, "relay_clients{transport=\"websocket\"}"),
        Some(1.0),
        "{mine}"
    );
    // Nothing server-wide: no other family at all.
    let families: Vec<&str> = mine
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    assert_eq!(
        families,
        ["relay_clients gauge", "relay_sessions gauge"],
        "{mine}"
    );
    let alices = scrape(alice).await;
    assert_eq!(family_sum(&alices, "relay_sessions"), 2.0, "{alices}");
    assert_eq!(family_sum(&alices, "relay_clients"), 2.0, "{alices}");

    // The operator sees the whole relay.
    let all = scrape(root).await;
    assert_eq!(family_sum(&all, "relay_sessions"), 3.0, "{all}");
    assert_eq!(
        sample(&all, "relay_clients{transport=\"websocket\"}"),
        Some(3.0)
    );
    assert!(all.contains("relay_http_requests_total"), "{all}");
    // No token, no figures.
    assert_eq!(get(&server.url, "/metrics").await.status, 401);
}
