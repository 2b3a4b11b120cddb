//! Too many requests get `rate_limited` (with how long to wait), on every transport together;
//! nothing is closed, and the budget comes back.

use serde_json::json;

use crate::support::client::Client;
use crate::support::home::Settings;
use crate::support::http::get;
use crate::support::in_process::InProcessServer;

#[tokio::test]
async fn a_user_over_the_limit_is_answered_rate_limited_and_recovers() {
    let server =
        InProcessServer::start_with(Settings::default().set("limits", "requests_per_minute = 120"));
    let mut phone = Client::connect(&server.ws_url()).await;
    // The burst is the minute's budget; spend it.
    let mut limited = None;
    for _ in 0..200 {
        let answer = phone.request("ping", json!({})).await;
        if answer["ok"] == false {
            limited = Some(answer);
            break;
        }
    }
    let limited = limited.expect("the limit was reached");
    assert_eq!(limited["error"]["code"], "rate_limited");
    assert!(
        limited["error"]["details"]["retry_after_s"]
            .as_u64()
            .unwrap()
            >= 1
    );

    // HTTP shares the same budget and says when to come back.
    let http = get(&server.url, "/api/v1/sessions").await;
    assert_eq!(http.status, 429);
    assert!(http
        .header("retry-after")
        .is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
    assert_eq!(http.json()["error"]["code"], "rate_limited");
    // Monitoring is never limited.
    assert_eq!(get(&server.url, "/health").await.status, 200);

    // The connection stays open, and the budget refills (two requests a second here).
    // (Within a deadline, not a number of tries: a fast machine answers 2,000 pings in less than
    // the half second one request's budget takes to come back.)
    let mut recovered = false;
    let deadline = std::time::Instant::now() + crate::support::PATIENCE;
    while std::time::Instant::now() < deadline {
        if phone.request("ping", json!({})).await["ok"] == true {
            recovered = true;
            break;
        }
    }
    assert!(recovered, "the budget came back");
    let metrics = get(&server.url, "/metrics").await.body;
    assert!(metrics
        .lines()
        .any(|l| l.starts_with("relay_rate_limited_total ") && !l.ends_with(" 0")));
}
