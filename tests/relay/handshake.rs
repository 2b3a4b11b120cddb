//! Connecting: hello/welcome, malformed frames, the limits that close a connection.

use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::support::client::Client;
use crate::support::home::Settings;
use crate::support::in_process::InProcessServer;

#[tokio::test]
async fn hello_gets_welcome_and_health_answers() {
    let server = InProcessServer::start();
    let client = Client::connect(&server.ws_url()).await;
    assert_eq!(client.welcome["protocol"], 1);
    assert_eq!(client.welcome["user"], "local");
    assert_eq!(client.welcome["server"]["name"], "pocket-relay");
    assert!(client.welcome["connection_id"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    let (status, body) = server.get("/health").await;
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert!(health["uptime_s"].is_u64());
}

#[tokio::test]
async fn malformed_frames_get_errors_and_the_connection_stays_open() {
    let server = InProcessServer::start();
    let mut client = Client::connect(&server.ws_url()).await;

    client.send_text("this is not json").await;
    let frame = client.recv().await.unwrap();
    assert_eq!(frame["type"], "error");
    assert_eq!(frame["error"]["code"], "bad_request");

    assert_eq!(client.err("session.fly", json!({})).await, "bad_request");
    assert_eq!(client.err("session.get", json!({})).await, "bad_request");
    assert_eq!(
        client
            .err("session.subscribe", json!({"session_id": 7}))
            .await,
        "bad_request"
    );
    assert_eq!(
        client
            .err("session.prompt", json!({"session_id": "x", "text": ["no"]}))
            .await,
        "bad_request"
    );
    assert_eq!(
        client
            .err(
                "session.get",
                json!({"session_id": "00000000-0000-4000-8000-000000000000"})
            )
            .await,
        "not_found"
    );
    assert_eq!(
        client
            .err("session.get", json!({"session_id": "not-a-uuid"}))
            .await,
        "not_found"
    );
    // A request without an id can only get a request-less error.
    client.send(json!({"type": "ping"})).await;
    let frame = client.recv().await.unwrap();
    assert_eq!(frame["type"], "error");
    client.send(json!({"type": "ping", "id": 5})).await;
    assert_eq!(client.recv().await.unwrap()["type"], "error");

    // Still open and answering.
    let pong = client.request("ping", json!({})).await;
    assert_eq!(pong["ok"], true);
    assert_eq!(pong["data"], json!({}));
}

#[tokio::test]
async fn a_bad_first_frame_closes_with_4000() {
    let server = InProcessServer::start();
    let mut client = Client::connect_raw(&server.ws_url()).await;
    client
        .send(json!({"id": "1", "type": "session.list"}))
        .await;
    let error = client.recv().await.unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(client.closed().await.code, 4000);

    let mut client = Client::connect_raw(&server.ws_url()).await;
    client.send(json!({"type": "hello", "protocol": 2})).await;
    let error = client.recv().await.unwrap();
    assert_eq!(error["error"]["code"], "unsupported_protocol");
    assert_eq!(client.closed().await.code, 4000);
}

#[tokio::test]
async fn a_binary_frame_closes_with_4000() {
    let server = InProcessServer::start();
    let mut client = Client::connect(&server.ws_url()).await;
    client.send_message(Message::binary(vec![1, 2, 3])).await;
    assert_eq!(client.closed().await.code, 4000);
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_with_1009() {
    let server =
        InProcessServer::start_with(Settings::default().set("limits", "max_frame_bytes = 4096"));
    let mut client = Client::connect(&server.ws_url()).await;
    // Just under the limit is fine.
    let ok = client
        .request("ping", json!({"pad": "x".repeat(3000)}))
        .await;
    assert_eq!(ok["ok"], true);
    client
        .send(json!({"id": "big", "type": "ping", "pad": "x".repeat(10_000)}))
        .await;
    assert_eq!(client.closed().await.code, 1009);
}

#[tokio::test]
async fn before_welcome_only_a_small_frame_is_taken_after_it_a_whole_prompt_with_images() {
    let server = InProcessServer::start();
    // Not yet welcomed: 100 KiB is more than a hello needs, and closes at once.
    let mut stranger = Client::connect_raw(&server.ws_url()).await;
    stranger
        .send(json!({"type": "hello", "protocol": 1, "pad": "x".repeat(100 * 1024)}))
        .await;
    assert_eq!(stranger.closed().await.code, 1009);
    // Welcomed: a message of a megabyte (a prompt with a photo is several) is read.
    let mut client = Client::connect(&server.ws_url()).await;
    let ok = client
        .request("ping", json!({"pad": "x".repeat(1 << 20)}))
        .await;
    assert_eq!(ok["ok"], true);
}
