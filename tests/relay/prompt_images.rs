//! Prompts with images, against the fake `claude` (its `describe` directive answers the turn's
//! content exactly as the CLI received it): the CLI gets image blocks before the text,
//! `prompt.queued` shows each image's type and size, the image route gives the bytes back, bad
//! images are refused over both transports with what is wrong, the largest prompt the limits
//! allow fits through both, and a queued image prompt survives a restart.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::home::Home;
use crate::support::http::{get, post_json, with_token};
use crate::support::in_process::InProcessServer;
use crate::support::operator::{connect_as, issue};
use crate::support::server::Settings;
use crate::support::server::TestServer;

/// A real 1×1 PNG.
pub const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/// Bytes that start like a JPEG file, `len` long.
fn jpeg_bytes(len: usize) -> Vec<u8> {
    let mut bytes = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00".to_vec();
    bytes.resize(len, 0x5a);
    bytes
}

fn image(media_type: &str, bytes: &[u8]) -> Value {
    json!({"media_type": media_type, "data": STANDARD.encode(bytes)})
}

fn png() -> Vec<u8> {
    STANDARD.decode(PNG_1X1).unwrap()
}

/// The image content block the CLI must get for `media_type` and `bytes`.
fn block(media_type: &str, bytes: &[u8]) -> Value {
    json!({"type": "image", "source": {"type": "base64", "media_type": media_type,
                                       "data": STANDARD.encode(bytes)}})
}

/// A client with a new session, subscribed to it from the start.
async fn watching(server: &Home) -> (Client, String) {
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    (phone, session)
}

/// Sends `session.prompt` with `fields` added; answers the whole response frame.
async fn prompt_with(phone: &mut Client, session: &str, fields: Value) -> Value {
    let mut request = json!({"session_id": session});
    request
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    phone.request("session.prompt", request).await
}

/// What `prompt.completed` says the fake CLI answered to `describe`: the content it received.
fn described(done: &Value) -> Value {
    let text = done["data"]["result"].as_str().expect("a result text");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn images_reach_the_cli_before_the_text_and_come_back_from_their_route() {
    let server = InProcessServer::start();
    let (mut phone, session) = watching(&server).await;
    let jpeg = jpeg_bytes(300);
    let answer = prompt_with(
        &mut phone,
        &session,
        json!({"text": "describe", "images": [image("image/png", &png()), image("image/jpeg", &jpeg)]}),
    )
    .await;
    assert_eq!(answer["ok"], true, "{answer}");
    let prompt_id = answer["data"]["prompt_id"].as_str().unwrap().to_string();
    let done = phone.wait_prompt_end(&prompt_id).await;
    assert_eq!(done["kind"], "prompt.completed", "{done}");
    let expected = json!([
        block("image/png", &png()),
        block("image/jpeg", &jpeg),
        {"type": "text", "text": "describe"}
    ]);
    assert_eq!(described(&done), expected);

    // prompt.queued names the images, without their data.
    let queued = phone
        .events
        .iter()
        .find(|e| e["kind"] == "prompt.queued" && e["data"]["prompt_id"] == prompt_id)
        .expect("prompt.queued")
        .clone();
    assert_eq!(
        queued["data"]["images"],
        json!([{"media_type": "image/png", "bytes": png().len()},
               {"media_type": "image/jpeg", "bytes": 300}])
    );
    assert!(!queued.to_string().contains(&STANDARD.encode(&jpeg)));

    // The route gives each image back as sent.
    let base = &server.url;
    let path =
        |index: &str| format!("/api/v1/sessions/{session}/prompts/{prompt_id}/images/{index}");
    let first = get(base, &path("0")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.header("content-type"), Some("image/png"));
    assert_eq!(first.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        first.header("cache-control"),
        Some("private, max-age=31536000, immutable")
    );
    assert_eq!(first.raw, png());
    let second = get(base, &path("1")).await;
    assert_eq!(second.header("content-type"), Some("image/jpeg"));
    assert_eq!(second.raw, jpeg);
    for missing in [path("2"), path("x")] {
        let answer = get(base, &missing).await;
        assert_eq!(answer.status, 404, "{missing}: {}", answer.body);
        assert_eq!(answer.json()["error"]["code"], "not_found");
    }
    let unknown = format!("/api/v1/sessions/{session}/prompts/nope/images/0");
    assert_eq!(get(base, &unknown).await.status, 404);
    // The export names them.
    let export = get(base, &format!("/api/v1/sessions/{session}/export")).await;
    let note = format!(
        "> *2 images: image/png, {} bytes; image/jpeg, 300 bytes*",
        png().len()
    );
    assert!(export.body.contains(&note), "{}", export.body);

    // A prompt without images still sends plain text, and shows no `images`.
    let plain = phone.prompt(&session, "describe").await;
    let done = phone.wait_prompt_end(&plain).await;
    assert_eq!(described(&done), json!("describe"));
    let queued = phone
        .events
        .iter()
        .find(|e| e["kind"] == "prompt.queued" && e["data"]["prompt_id"] == plain)
        .unwrap();
    assert!(queued["data"].get("images").is_none(), "{queued}");
}

#[tokio::test]
async fn an_image_without_words_is_a_prompt_but_nothing_at_all_is_not() {
    let server = InProcessServer::start();
    let (mut phone, session) = watching(&server).await;
    let answer = prompt_with(
        &mut phone,
        &session,
        json!({"images": [image("image/png", &png())]}),
    )
    .await;
    assert_eq!(answer["ok"], true, "{answer}");
    let prompt_id = answer["data"]["prompt_id"].as_str().unwrap().to_string();
    let done = phone.wait_prompt_end(&prompt_id).await;
    assert_eq!(done["kind"], "prompt.completed", "{done}");
    // The fake saw no text at all (an empty text block would be refused by the API).
    assert_eq!(done["data"]["result"], "echo: ");
    let stored = get(
        &server.url,
        &format!("/api/v1/sessions/{session}/prompts/{prompt_id}/images/0"),
    )
    .await;
    assert_eq!(stored.raw, png());

    let answer = prompt_with(&mut phone, &session, json!({"text": "  ", "images": []})).await;
    assert_eq!(answer["error"]["code"], "bad_request", "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("neither text nor images"));
}

/// Each bad prompt, with the code and a piece of the message it must get.
fn bad_prompts() -> Vec<(Value, &'static str, &'static str)> {
    let png = png();
    vec![
        (
            json!({"text": "x", "images": [image("image/png", &png), image("image/bmp", &png)]}),
            "bad_request",
            "image 2: media_type must be one of image/png, image/jpeg, image/gif, image/webp",
        ),
        (
            json!({"text": "x", "images": [{"media_type": "image/png", "data": "%%% not base64"}]}),
            "bad_request",
            "image 1: data is not valid base64",
        ),
        (
            json!({"text": "x", "images": [image("image/gif", &png)]}),
            "bad_request",
            "image 1: the data is a image/png image, not image/gif",
        ),
        (
            json!({"text": "x", "images": [image("image/webp", b"plain text, no picture")]}),
            "bad_request",
            "image 1: the data is not a image/webp image",
        ),
        (
            json!({"text": "x", "images": [image("image/png", &png), image("image/jpeg", &jpeg_bytes(2001))]}),
            "too_large",
            "image 2 is 2001 bytes; the limit is 2000",
        ),
        (
            json!({"text": "x", "images": vec![image("image/png", &png); 3]}),
            "bad_request",
            "a prompt may carry at most 2 images, not 3",
        ),
        (
            json!({"text": "x", "images": [{"media_type": "image/png"}]}),
            "bad_request",
            "data",
        ),
    ]
}

fn small_limits() -> Settings {
    Settings::default()
        .set("limits", "max_image_bytes = 2000")
        .set("limits", "max_images_per_prompt = 2")
}

#[tokio::test]
async fn bad_images_are_refused_over_the_websocket_naming_the_image_and_why() {
    let server = InProcessServer::start_with(small_limits());
    let mut phone = Client::connect(&server.ws_url()).await;
    // The welcome tells the app what it may send.
    assert_eq!(
        phone.welcome["limits"],
        json!({"max_prompt_bytes": 262_144, "max_image_bytes": 2000, "max_images_per_prompt": 2})
    );
    let session = phone.create(&server.project()).await;
    for (fields, code, message) in bad_prompts() {
        let answer = prompt_with(&mut phone, &session, fields.clone()).await;
        assert_eq!(answer["error"]["code"], code, "{fields}: {answer}");
        let said = answer["error"]["message"].as_str().unwrap();
        assert!(said.contains(message), "{said:?} should say {message:?}");
    }
    // Nothing was queued by any of them.
    let info = phone
        .ok("session.get", json!({"session_id": session}))
        .await;
    assert_eq!(info["session"]["last_seq"], 1, "{info}");
}

#[tokio::test]
async fn bad_images_are_refused_over_rest_naming_the_image_and_why() {
    let server = InProcessServer::start_with(small_limits());
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    let path = format!("/api/v1/sessions/{session}/prompts");
    for (fields, code, message) in bad_prompts() {
        for query in ["", "?stream=ndjson"] {
            let answer = post_json(&server.url, &format!("{path}{query}"), &fields).await;
            let status = if code == "too_large" { 413 } else { 400 };
            assert_eq!(answer.status, status, "{fields}: {}", answer.body);
            let body = answer.json();
            assert_eq!(body["error"]["code"], code, "{body}");
            let said = body["error"]["message"].as_str().unwrap();
            assert!(said.contains(message), "{said:?} should say {message:?}");
        }
    }
    // A good one through REST reaches the CLI.
    let body = json!({"text": "describe", "images": [image("image/png", &png())]});
    let answer = post_json(&server.url, &format!("{path}?stream=ndjson"), &body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let end: Value = answer
        .body
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|e| e["kind"] == "prompt.completed")
        .expect("the prompt completed");
    assert_eq!(described(&end)[0], block("image/png", &png()));
}

#[tokio::test]
async fn the_largest_prompt_the_limits_allow_fits_through_both_transports() {
    // The default limits: 4 images of 3.75 MB, so about 19.4 MiB of JSON, far over the 1 MiB
    // that was the frame limit before images.
    let server = InProcessServer::start();
    let (mut phone, session) = watching(&server).await;
    let big = jpeg_bytes(3_750_000);
    let images = vec![image("image/jpeg", &big); 4];
    let text = "x".repeat(262_144);
    let answer = prompt_with(
        &mut phone,
        &session,
        json!({"text": text, "images": images}),
    )
    .await;
    assert_eq!(answer["ok"], true, "{}", answer["error"]);
    let prompt_id = answer["data"]["prompt_id"].as_str().unwrap().to_string();
    let done = phone.wait_prompt_end(&prompt_id).await;
    assert_eq!(done["kind"], "prompt.completed");

    let body = json!({"text": text, "images": images});
    let path = format!("/api/v1/sessions/{session}/prompts");
    let answer = post_json(&server.url, &path, &body).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    // One byte more than an image may be is refused, not cut off.
    let over = vec![image("image/jpeg", &jpeg_bytes(3_750_001))];
    let answer = post_json(&server.url, &path, &json!({"text": "x", "images": over})).await;
    assert_eq!(answer.json()["error"]["code"], "too_large");
}

#[tokio::test]
async fn a_queued_image_prompt_reaches_the_cli_after_a_restart() {
    let mut server = TestServer::start();
    let (mut phone, session) = watching(&server).await;
    phone.prompt(&session, "stall").await;
    phone
        .wait_event(|e| e["kind"] == "agent.output" && e["data"]["message"]["subtype"] == "init")
        .await;
    let jpeg = jpeg_bytes(1000);
    let answer = prompt_with(
        &mut phone,
        &session,
        json!({"text": "describe", "images": [image("image/jpeg", &jpeg), image("image/png", &png())]}),
    )
    .await;
    let queued = answer["data"]["prompt_id"].as_str().unwrap().to_string();
    phone.wait_kind("prompt.queued").await;

    server.restart();

    let mut phone = Client::connect(&server.ws_url()).await;
    phone.subscribe(&session, 0).await;
    let done = phone.wait_prompt_end(&queued).await;
    assert_eq!(done["kind"], "prompt.completed", "{done}");
    let expected = json!([
        block("image/jpeg", &jpeg),
        block("image/png", &png()),
        {"type": "text", "text": "describe"}
    ]);
    assert_eq!(described(&done), expected);
    // And the app can still show them.
    let path = format!("/api/v1/sessions/{session}/prompts/{queued}/images/0");
    assert_eq!(get(&server.url, &path).await.raw, jpeg);

    // Deleting the session takes its images with it.
    phone
        .ok("session.delete", json!({"session_id": session}))
        .await;
    assert_eq!(get(&server.url, &path).await.status, 404);
}

#[tokio::test]
async fn with_sign_in_only_the_owner_gets_a_prompts_images() {
    let server = TestServer::start_with(Settings::default().set("auth", "enabled = true"));
    let alice_token = issue(&server, "alice");
    let bob_token = issue(&server, "bob");
    let mut alice = connect_as(&server, &alice_token).await;
    let session = alice.create(&server.project()).await;
    let answer = prompt_with(
        &mut alice,
        &session,
        json!({"text": "look", "images": [image("image/png", &png())]}),
    )
    .await;
    let prompt_id = answer["data"]["prompt_id"].as_str().unwrap();
    let path = format!("/api/v1/sessions/{session}/prompts/{prompt_id}/images/0");

    let own = with_token(&server.url, &alice_token, "GET", &path, None).await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.raw, png());
    let other = with_token(&server.url, &bob_token, "GET", &path, None).await;
    assert_eq!(other.status, 404, "{}", other.body);
    assert_eq!(other.json()["error"]["code"], "not_found");
    assert!(!other.body.contains("alice"), "{}", other.body);
    let nobody = get(&server.url, &path).await;
    assert_eq!(nobody.status, 401, "{}", nobody.body);
}
