//! `GET /api/v1/openapi.json`: a client that has not signed in yet can read what the API is.
//! (`tests/openapi/run` checks the document itself against the live server with schemathesis.)

use crate::support::home::Settings;
use crate::support::http::get;
use crate::support::in_process::InProcessServer;

#[tokio::test]
async fn the_openapi_document_needs_no_token_and_no_envelope() {
    let server = InProcessServer::start_with(Settings::default().set("auth", "enabled = true"));

    let doc = get(&server.url, "/api/v1/openapi.json").await;
    assert_eq!(doc.status, 200, "{}", doc.body);
    assert_eq!(doc.header("content-type"), Some("application/json"));
    assert!(doc.header("x-request-id").is_some());
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(
        doc.get("success").is_none(),
        "answered bare, not in the envelope"
    );
    // What it says about sign-in is what the server does: this route and auth/info need no
    // token, the sessions do.
    assert_eq!(
        doc["paths"]["/api/v1/openapi.json"]["get"]["security"],
        serde_json::json!([])
    );
    let listed = &doc["paths"]["/api/v1/sessions"]["get"];
    assert!(listed["responses"]["401"].is_object());
    assert_eq!(get(&server.url, "/api/v1/sessions").await.status, 401);
}
