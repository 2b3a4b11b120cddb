//! A newer Claude Code than this relay knows: stdout lines of a type, subtype or with fields
//! nobody has seen reach clients verbatim as `agent.output` (the stored text is the CLI's own
//! bytes, never re-encoded), and a control request of an unknown subtype gets an error answer at
//! once, so the CLI does not wait for ever. The fake `claude`'s `future` directive prints such
//! lines and replies with the answer it got.

use serde_json::{json, Value};

use crate::support::client::Client;
use crate::support::http::post_json;
use crate::support::in_process::InProcessServer;

#[tokio::test]
async fn unknown_lines_pass_through_verbatim_and_unknown_requests_are_refused() {
    let server = InProcessServer::start();
    let mut phone = Client::connect(&server.ws_url()).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    // Through the NDJSON prompt stream, whose lines are the stored event texts as they are.
    let path = format!("/api/v1/sessions/{session}/prompts?stream=ndjson");
    let streamed = post_json(&server.url, &path, &json!({"text": "future"})).await;
    assert_eq!(streamed.status, 200, "{}", streamed.body);
    let first: Value = serde_json::from_str(streamed.body.lines().next().unwrap()).unwrap();
    let prompt = first["data"]["prompt_id"].as_str().unwrap().to_string();
    let done = phone.wait_prompt_end(&prompt).await;
    assert_eq!(done["kind"], "prompt.completed", "{done}");

    // The CLI got an error answer to its request, naming it, and went on.
    let result = done["data"]["result"].as_str().unwrap();
    let answer: Value = serde_json::from_str(
        result
            .strip_prefix("future answered: ")
            .unwrap_or_else(|| panic!("{result}")),
    )
    .unwrap();
    assert_eq!(answer["subtype"], "error", "{answer}");
    assert!(answer["request_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("future-")));
    assert!(answer["error"]
        .as_str()
        .is_some_and(|e| e.contains("future_request")));

    // Every unknown line reached the client as agent.output.
    let outputs: Vec<&Value> = phone
        .events
        .iter()
        .filter(|e| e["kind"] == "agent.output")
        .map(|e| &e["data"]["message"])
        .collect();
    let kind = outputs
        .iter()
        .find(|m| m["type"] == "future_kind")
        .expect("the future_kind line");
    assert_eq!(kind["alpha"], json!({"nested": [1, {"deep": true}]}));
    let system = outputs
        .iter()
        .find(|m| m["subtype"] == "future_subtype")
        .expect("the system line");
    assert_eq!(system["new_field"], "kept");
    let assistant = outputs
        .iter()
        .find(|m| m["message"]["id"] == "msg_future")
        .expect("the assistant line");
    assert_eq!(assistant["message"]["content"][0]["type"], "future_block");
    assert_eq!(assistant["message"]["new_message_field"], 7);
    assert_eq!(assistant["new_top_field"], json!([]));
    // The control request is the relay's to answer, not the clients' to see.
    assert!(!outputs.iter().any(|m| m["type"] == "control_request"));

    // Verbatim: the events hold the CLI's bytes (key order, `1e3`) as it wrote them.
    let lines = &streamed.body;
    let kind_line = r#"{"type":"future_kind","zeta":1e3,"alpha":{"nested":[1,{"deep":true}]},"#;
    assert!(lines.contains(kind_line), "{lines}");
    let block = r#""content":[{"type":"future_block","payload":"x"}],"new_message_field":7},"new_top_field":[]"#;
    assert!(lines.contains(block), "{lines}");

    // The session is fine: the next prompt runs in the same process.
    let next = phone.prompt(&session, "still here").await;
    let done = phone.wait_prompt_end(&next).await;
    assert_eq!(done["data"]["result"], "echo: still here");
    assert_eq!(server.spawns().len(), 1);
}
