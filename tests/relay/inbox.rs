//! The approval inbox (protocol §14): every pending permission request over all of a user's
//! sessions, over REST (`GET /api/v1/permissions`), WebSocket (`permissions.list`) and live
//! (`inbox.subscribe` and its `inbox` frames), and every device's inbox agreeing with the others
//! however the requests are answered.

use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::home::{Home, Settings};
use crate::support::http::with_token;
use crate::support::in_process::InProcessServer;
use crate::support::operator::{connect_as, issue};
use crate::support::PATIENCE;

/// A prompt the fake Claude answers by asking to run `command` with Bash.
fn asks_to_run(command: &str) -> String {
    format!(r#"permission Bash {{"command":"{command}"}}"#)
}

/// One device's inbox as the app keeps it: the list `inbox.subscribe` answered, with every
/// `inbox` frame received since applied.
struct DeviceInbox {
    items: Vec<Value>,
    /// How many of the client's `inbox` frames are applied.
    applied: usize,
    /// `(request_id, change)` of every frame applied, in order.
    changes: Vec<(String, String)>,
}

impl DeviceInbox {
    /// Subscribes `client`'s inbox; answers it with the current list.
    async fn subscribe(client: &mut Client) -> DeviceInbox {
        let data = client.ok("inbox.subscribe", json!({})).await;
        DeviceInbox::from_answer(client, &data)
    }

    fn from_answer(client: &Client, data: &Value) -> DeviceInbox {
        let items = data["permissions"].as_array().expect("permissions").clone();
        DeviceInbox {
            items,
            applied: client.inbox.len(),
            changes: Vec::new(),
        }
    }

    /// Applies what the client received since; an `added` the list already shows and a
    /// `removed` it does not are no change (protocol §14).
    fn catch_up(&mut self, client: &Client) {
        for frame in &client.inbox[self.applied..] {
            let data = &frame["data"];
            if let Some(added) = data.get("added") {
                let id = added["request_id"]
                    .as_str()
                    .expect("request_id")
                    .to_string();
                self.changes.push((id, "added".into()));
                if !self.items.iter().any(|i| same(i, added)) {
                    self.items.push(added.clone());
                }
            } else {
                let removed = &data["removed"];
                let id = removed["request_id"]
                    .as_str()
                    .expect("request_id")
                    .to_string();
                self.changes.push((
                    id,
                    format!("removed {}", removed["decision"].as_str().unwrap()),
                ));
                self.items.retain(|i| !same(i, removed));
            }
        }
        self.applied = client.inbox.len();
    }

    /// Reads frames until the inbox satisfies `done`.
    async fn until(
        &mut self,
        client: &mut Client,
        what: &str,
        done: impl Fn(&DeviceInbox) -> bool,
    ) {
        let wait = async {
            loop {
                self.catch_up(client);
                if done(self) {
                    return;
                }
                client.recv().await.expect("connection open");
            }
        };
        if tokio::time::timeout(PATIENCE, wait).await.is_err() {
            panic!(
                "{what}: not within {PATIENCE:?}; the inbox shows {:?}",
                self.items
            );
        }
    }

    /// The request ids shown, in order.
    fn ids(&self) -> Vec<String> {
        ids(&self.items)
    }

    /// The decision of `request_id`'s `removed` frame.
    fn decision(&self, request_id: &str) -> Option<String> {
        self.changes
            .iter()
            .find(|(id, change)| id == request_id && change.starts_with("removed"))
            .map(|(_, change)| change.trim_start_matches("removed ").to_string())
    }
}

fn same(a: &Value, b: &Value) -> bool {
    a["session_id"] == b["session_id"] && a["request_id"] == b["request_id"]
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|p| p["request_id"].as_str().expect("request_id").to_string())
        .collect()
}

/// `GET /api/v1/permissions?status=pending` with `token`: the list.
async fn pending_over_rest(server: &Home, token: &str) -> Vec<Value> {
    let answer = with_token(
        &server.url,
        token,
        "GET",
        "/api/v1/permissions?status=pending",
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.json();
    body["data"]["permissions"]
        .as_array()
        .expect("permissions")
        .clone()
}

/// A new session titled `title` in its own folder, asked to run `command`.
async fn session_asking(server: &Home, client: &mut Client, title: &str, command: &str) -> String {
    let data = client
        .ok(
            "session.create",
            json!({"cwd": server.new_project(title), "title": title}),
        )
        .await;
    let session = data["session"]["id"].as_str().expect("id").to_string();
    client.prompt(&session, &asks_to_run(command)).await;
    session
}

#[tokio::test]
async fn requests_from_three_sessions_answered_from_two_devices_and_every_inbox_agrees() {
    let server = InProcessServer::start_with(Settings::default().set("auth", "enabled = true"));
    let (alice, bob) = (issue(&server, "alice"), issue(&server, "bob"));
    let mut phone = connect_as(&server, &alice).await;
    let mut laptop = connect_as(&server, &alice).await;
    let mut bobs_phone = connect_as(&server, &bob).await;
    let mut on_phone = DeviceInbox::subscribe(&mut phone).await;
    let mut on_laptop = DeviceInbox::subscribe(&mut laptop).await;
    let mut on_bobs = DeviceInbox::subscribe(&mut bobs_phone).await;
    assert!(on_phone.items.is_empty() && on_laptop.items.is_empty() && on_bobs.items.is_empty());

    // Bob has a request of his own.
    session_asking(&server, &mut bobs_phone, "bobs", "make bob").await;
    on_bobs
        .until(&mut bobs_phone, "bob's request", |i| i.items.len() == 1)
        .await;

    // Three of Alice's sessions ask, one after the other.
    let mut sessions = Vec::new();
    for (n, title) in ["one", "two", "three"].into_iter().enumerate() {
        let command = format!("rm -rf {title}");
        sessions.push(session_asking(&server, &mut phone, title, &command).await);
        on_phone
            .until(&mut phone, "the phone's inbox", |i| i.items.len() == n + 1)
            .await;
    }
    on_laptop
        .until(&mut laptop, "the laptop's inbox", |i| i.items.len() == 3)
        .await;
    let titles: Vec<_> = on_phone
        .items
        .iter()
        .map(|p| p["session_title"].clone())
        .collect();
    assert_eq!(titles, [json!("one"), json!("two"), json!("three")]);
    for (item, session) in on_phone.items.iter().zip(&sessions) {
        assert_eq!(item["session_id"], session.as_str());
        assert_eq!(item["tool_name"], "Bash");
        let title = item["session_title"].as_str().unwrap();
        assert_eq!(item["input"], json!({"command": format!("rm -rf {title}")}));
        assert_eq!(item["description"], "fake wants to use Bash");
        assert!(item["cwd"].as_str().unwrap().ends_with(title), "{item}");
        assert!(item["tool_use_id"].as_str().unwrap().starts_with("toolu_"));
        assert_eq!(item["suggestions"][0]["type"], "addRules");
        assert!(item["seq"].as_u64().unwrap() > 0);
    }
    let times: Vec<_> = on_phone
        .items
        .iter()
        .map(|p| p["requested_at"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "oldest first: {times:?}"
    );

    // REST, the WebSocket list and both live inboxes say the same, whole.
    let listed = pending_over_rest(&server, &alice).await;
    assert_eq!(listed, on_phone.items);
    assert_eq!(listed, on_laptop.items);
    let over_ws = laptop
        .ok("permissions.list", json!({"status": "pending"}))
        .await;
    assert_eq!(over_ws["permissions"], json!(listed));
    // The event the session itself recorded is the one the inbox shows.
    let event = phone
        .ok("session.events", json!({"session_id": sessions[0], "after_seq": listed[0]["seq"].as_u64().unwrap() - 1, "limit": 1}))
        .await;
    let event = &event["events"][0];
    assert_eq!(event["kind"], "permission.requested");
    assert_eq!(event["ts"], listed[0]["requested_at"]);
    assert_eq!(event["data"]["request_id"], listed[0]["request_id"]);

    // Bob sees only his own, over every way in.
    let bobs_list = pending_over_rest(&server, &bob).await;
    assert_eq!(ids(&bobs_list), on_bobs.ids());
    assert_eq!(bobs_list[0]["session_title"], "bobs");
    let (one, two, three) = (listed[0].clone(), listed[1].clone(), listed[2].clone());
    let path = |p: &Value| {
        format!(
            "/api/v1/sessions/{}/permissions/{}",
            p["session_id"].as_str().unwrap(),
            p["request_id"].as_str().unwrap()
        )
    };
    let meddling = with_token(
        &server.url,
        &bob,
        "POST",
        &path(&one),
        Some(json!({"decision": "allow"})),
    )
    .await;
    assert_eq!(meddling.status, 404, "{}", meddling.body);

    // The phone allows "one" over the WebSocket; the laptop denies "two" over REST.
    let allowed = phone
        .ok("session.permission", json!({"session_id": one["session_id"], "request_id": one["request_id"], "decision": "allow"}))
        .await;
    assert_eq!(allowed, json!({}));
    let denied = with_token(
        &server.url,
        &alice,
        "POST",
        &path(&two),
        Some(json!({"decision": "deny"})),
    )
    .await;
    assert_eq!(denied.status, 200, "{}", denied.body);
    // Both race for "three": the phone's frame is on the wire before the laptop's POST goes.
    phone
        .send(
            json!({"id": "race", "type": "session.permission", "session_id": three["session_id"],
                     "request_id": three["request_id"], "decision": "allow"}),
        )
        .await;
    let from_laptop = with_token(
        &server.url,
        &alice,
        "POST",
        &path(&three),
        Some(json!({"decision": "deny"})),
    )
    .await;
    let from_phone = phone.response("race").await;
    let (phone_won, laptop_won) = (from_phone["ok"] == true, from_laptop.status == 200);
    assert!(
        phone_won != laptop_won,
        "exactly one answer wins: {from_phone} / {}",
        from_laptop.body
    );
    let (winning, losing_code) = if phone_won {
        ("allow", from_laptop.json()["error"]["code"].clone())
    } else {
        ("deny", from_phone["error"]["code"].clone())
    };
    assert_eq!(losing_code, "conflict");

    // Every inbox of Alice's empties, each with the same decisions.
    for (device, client) in [(&mut on_phone, &mut phone), (&mut on_laptop, &mut laptop)] {
        device
            .until(client, "an empty inbox", |i| i.items.is_empty())
            .await;
        let id = |p: &Value| p["request_id"].as_str().unwrap().to_string();
        assert_eq!(device.decision(&id(&one)).as_deref(), Some("allow"));
        assert_eq!(device.decision(&id(&two)).as_deref(), Some("deny"));
        assert_eq!(device.decision(&id(&three)).as_deref(), Some(winning));
        let removed = device
            .changes
            .iter()
            .filter(|(_, c)| c.starts_with("removed"))
            .count();
        assert_eq!(removed, 3, "{:?}", device.changes);
    }
    assert!(pending_over_rest(&server, &alice).await.is_empty());
    let over_ws = phone.ok("permissions.list", json!({})).await;
    assert_eq!(over_ws, json!({"permissions": []}));

    // Bob's inbox heard of nothing of Alice's: everything sent to him before this answer came.
    bobs_phone.ok("ping", json!({})).await;
    on_bobs.catch_up(&bobs_phone);
    assert_eq!(bobs_phone.inbox.len(), 1, "{:?}", bobs_phone.inbox);
    assert_eq!(on_bobs.ids(), ids(&bobs_list));
    assert_eq!(
        ids(&pending_over_rest(&server, &bob).await),
        ids(&bobs_list)
    );
}

#[tokio::test]
async fn only_pending_requests_are_listed_and_anything_else_is_a_bad_request() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    for path in ["/api/v1/permissions", "/api/v1/permissions?status=pending"] {
        let answer = crate::support::http::get(&server.url, path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert_eq!(answer.json()["data"], json!({"permissions": []}));
    }
    for status in ["answered", "all", ""] {
        let path = format!("/api/v1/permissions?status={status}");
        let answer = crate::support::http::get(&server.url, &path).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.body);
        let error = &answer.json()["error"];
        assert_eq!(error["code"], "bad_request");
        assert!(
            error["message"].as_str().unwrap().contains("pending"),
            "{error}"
        );
        let over_ws = phone
            .request("permissions.list", json!({"status": status}))
            .await;
        assert_eq!(over_ws["error"]["code"], "bad_request", "{over_ws}");
    }
    let typed = phone
        .request("permissions.list", json!({"status": 1}))
        .await;
    assert_eq!(typed["error"]["code"], "bad_request", "{typed}");
    // Unsubscribing what was never subscribed, and subscribing over HTTP, are refused.
    assert_eq!(phone.err("inbox.unsubscribe", json!({})).await, "not_found");
    DeviceInbox::subscribe(&mut phone).await;
    assert_eq!(phone.ok("inbox.unsubscribe", json!({})).await, json!({}));
    assert_eq!(phone.err("inbox.unsubscribe", json!({})).await, "not_found");
}

#[tokio::test]
async fn a_request_unanswered_within_the_timeout_leaves_every_inbox_as_denied() {
    let server =
        InProcessServer::start_with(Settings::default().set("permissions", "timeout_s = 1"));
    let mut phone = Client::connect(&server.ws_url()).await;
    let mut tablet = Client::connect(&server.ws_url()).await;
    let mut on_phone = DeviceInbox::subscribe(&mut phone).await;
    let mut on_tablet = DeviceInbox::subscribe(&mut tablet).await;
    session_asking(&server, &mut phone, "slow", "rm -rf slow").await;
    on_phone
        .until(&mut phone, "the request", |i| i.items.len() == 1)
        .await;
    let id = on_phone.ids()[0].clone();
    for (device, client) in [(&mut on_phone, &mut phone), (&mut on_tablet, &mut tablet)] {
        device
            .until(client, "the timeout", |i| i.decision(&id).is_some())
            .await;
        assert_eq!(device.decision(&id).as_deref(), Some("deny"));
        assert!(device.items.is_empty());
    }
    assert_eq!(
        phone.ok("permissions.list", json!({})).await,
        json!({"permissions": []})
    );
}

#[tokio::test]
async fn by_default_a_request_stays_in_the_inbox_until_answered() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let mut on_phone = DeviceInbox::subscribe(&mut phone).await;
    session_asking(&server, &mut phone, "waits", "rm -rf waits").await;
    on_phone
        .until(&mut phone, "the request", |i| i.items.len() == 1)
        .await;
    // The clock: another session's 1.5-second prompt, run to its end meanwhile.
    let clock = phone.create(&server.new_project("clock")).await;
    phone.subscribe(&clock, 0).await;
    let tick = phone.prompt(&clock, "sleep 1500").await;
    let done = phone.wait_prompt_end(&tick).await;
    assert_eq!(done["kind"], "prompt.completed");
    on_phone.catch_up(&phone);
    assert_eq!(on_phone.items.len(), 1, "{:?}", on_phone.changes);
    let listed = phone.ok("permissions.list", json!({})).await;
    assert_eq!(
        ids(listed["permissions"].as_array().unwrap()),
        on_phone.ids()
    );
}

#[tokio::test]
async fn interrupting_or_deleting_a_session_cancels_its_requests_in_the_inbox() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let mut on_phone = DeviceInbox::subscribe(&mut phone).await;
    let interrupted = session_asking(&server, &mut phone, "interrupted", "rm -rf a").await;
    let deleted = session_asking(&server, &mut phone, "deleted", "rm -rf b").await;
    on_phone
        .until(&mut phone, "two requests", |i| i.items.len() == 2)
        .await;
    let requests = on_phone.ids();
    phone
        .ok("session.interrupt", json!({"session_id": interrupted}))
        .await;
    phone
        .ok("session.delete", json!({"session_id": deleted}))
        .await;
    on_phone
        .until(&mut phone, "an empty inbox", |i| i.items.is_empty())
        .await;
    for id in &requests {
        assert_eq!(on_phone.decision(id).as_deref(), Some("cancelled"));
    }
    assert_eq!(
        phone.ok("permissions.list", json!({})).await,
        json!({"permissions": []})
    );
}

#[tokio::test]
async fn an_inbox_resubscribed_while_requests_come_and_go_ends_in_agreement() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let mut laptop = Client::connect(&server.ws_url()).await;
    let mut on_phone = DeviceInbox::subscribe(&mut phone).await;
    let mut sessions = Vec::new();
    for name in ["a", "b", "c", "d", "e", "f", "marker"] {
        let created = phone
            .ok(
                "session.create",
                json!({"cwd": server.new_project(name), "title": name}),
            )
            .await;
        sessions.push(created["session"]["id"].as_str().unwrap().to_string());
    }
    // Each round: the laptop asks to subscribe again and reads nothing, while a session asks
    // and, every other round, the phone answers the oldest request. The laptop's answers and
    // frames pile up meanwhile.
    for (round, session) in sessions[..6].iter().enumerate() {
        laptop
            .send(json!({"id": format!("sub-{round}"), "type": "inbox.subscribe"}))
            .await;
        phone
            .prompt(session, &asks_to_run(&format!("round {round}")))
            .await;
        let command = format!("round {round}");
        on_phone
            .until(&mut phone, "the round's request", |i| {
                i.items
                    .iter()
                    .any(|p| p["input"]["command"] == command.as_str())
            })
            .await;
        if round % 2 == 1 {
            let oldest = on_phone.items[0].clone();
            phone
                .ok("session.permission", json!({"session_id": oldest["session_id"], "request_id": oldest["request_id"], "decision": "allow"}))
                .await;
        }
    }
    let last = laptop.response("sub-5").await;
    assert_eq!(last["ok"], true, "{last}");
    let mut on_laptop = DeviceInbox::from_answer(&laptop, &last["data"]);
    // A request asked now is the last change; once the laptop has it, both agree with the list.
    phone.prompt(&sessions[6], &asks_to_run("marker")).await;
    let is_marker = |p: &Value| p["input"]["command"] == "marker";
    on_phone
        .until(&mut phone, "the marker", |i| i.items.iter().any(is_marker))
        .await;
    let listed = phone.ok("permissions.list", json!({})).await;
    let listed = listed["permissions"].as_array().unwrap().clone();
    let marker = listed.iter().find(|p| is_marker(p)).expect("listed")["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    on_laptop
        .until(&mut laptop, "the marker", |i| i.ids().contains(&marker))
        .await;
    on_phone.catch_up(&phone);
    assert_eq!(on_laptop.ids(), ids(&listed));
    assert_eq!(on_phone.ids(), ids(&listed));
    // Never an `added` after the `removed` of the same request.
    for device in [&on_phone, &on_laptop] {
        for (at, (id, change)) in device.changes.iter().enumerate() {
            if change.starts_with("removed") {
                let later = device.changes[at..]
                    .iter()
                    .any(|(i, c)| i == id && c == "added");
                assert!(!later, "added after removed: {:?}", device.changes);
            }
        }
    }
}
