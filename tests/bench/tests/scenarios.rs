//! Every scenario of `pocket-relay-bench` run at a small size against the debug build, so the
//! tool the README's figures come from keeps working: each run must finish (exit 0, or 1 for a
//! missed target, never 2 for a failed scenario) and its JSON must show every line delivered.
//! The figures themselves are not checked here; they belong to release builds on a quiet machine.
//!
//! The server binary is found next to the bench's, as the bench itself does: `./tests/run` builds
//! every binary of the workspace before the tests.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

/// How long one small scenario may take, setup included, before it counts as hung.
const PATIENCE: Duration = Duration::from_secs(120);

/// A scratch file for one run's JSON, removed when dropped.
struct JsonFile(PathBuf);

impl Drop for JsonFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `pocket-relay-bench ARGS --json FILE` and answers the figures of its one scenario.
async fn bench(args: &[&str]) -> serde_json::Map<String, Value> {
    let json = JsonFile(std::env::temp_dir().join(format!(
        "pocket-relay-bench-test-{}-{}.json",
        std::process::id(),
        args.join("-").replace('/', "_")
    )));
    let child = Command::new(env!("CARGO_BIN_EXE_pocket-relay-bench"))
        .args(args)
        .arg("--json")
        .arg(&json.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start pocket-relay-bench");
    let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "`pocket-relay-bench {}` took over {PATIENCE:?}",
                args.join(" ")
            )
        })
        .expect("wait for pocket-relay-bench");
    let printed = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "`pocket-relay-bench {}` failed ({}):\n{printed}",
        args.join(" "),
        output.status
    );
    let text = std::fs::read_to_string(&json.0).expect("the JSON file");
    let results: Value = serde_json::from_str(&text).expect("JSON results");
    assert_eq!(results["error"], Value::Null, "{printed}");
    results["results"][0]["figures"]
        .as_object()
        .cloned()
        .unwrap_or_else(|| panic!("no figures in {text}"))
}

fn number(figures: &serde_json::Map<String, Value>, key: &str) -> f64 {
    figures
        .get(key)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no figure {key} in {figures:?}"))
}

/// 2 sessions × 2 clients × 100 lines: every line reaches every client, with no gap.
fn assert_everything_delivered(figures: &serde_json::Map<String, Value>) {
    assert_eq!(number(figures, "dropped"), 0.0, "{figures:?}");
    assert_eq!(number(figures, "clients_completed"), 4.0, "{figures:?}");
    assert_eq!(number(figures, "clients_failed"), 0.0, "{figures:?}");
    assert_eq!(number(figures, "latency_samples"), 400.0, "{figures:?}");
}

const SMALL_LOAD: [&str; 8] = [
    "--sessions",
    "2",
    "--clients",
    "2",
    "--rate",
    "100",
    "--seconds",
    "1",
];

#[tokio::test]
async fn fanout_delivers_every_line_to_every_client() {
    let figures = bench(&[&["fanout"][..], &SMALL_LOAD].concat()).await;
    assert_everything_delivered(&figures);
    assert_eq!(number(&figures, "seq_gaps"), 0.0);
    // Every line was stored before it was sent, besides the turn's own events.
    assert!(number(&figures, "events_stored") >= 200.0, "{figures:?}");
}

#[tokio::test]
async fn floor_delivers_every_line_with_and_without_agents() {
    let made_up = bench(&[&["floor"][..], &SMALL_LOAD].concat()).await;
    assert_everything_delivered(&made_up);
    let forwarded = bench(&[&["floor", "--agents"][..], &SMALL_LOAD].concat()).await;
    assert_everything_delivered(&forwarded);
    assert_eq!(forwarded["agent_processes"], Value::Bool(true));
}

#[tokio::test]
async fn connections_replay_and_prompt_overhead_finish() {
    let connections = bench(&["connections", "--clients", "20", "--settle", "0.5"]).await;
    assert_eq!(
        number(&connections, "clients_subscribed"),
        20.0,
        "{connections:?}"
    );
    assert_eq!(
        number(&connections, "clients_failed"),
        0.0,
        "{connections:?}"
    );
    let replay = bench(&["replay", "--events", "2000"]).await;
    // The 2,000 lines and the turn's own events, all of them, in order.
    assert!(number(&replay, "events_replayed") >= 2000.0, "{replay:?}");
    assert_eq!(
        number(&replay, "events_replayed"),
        number(&replay, "last_seq"),
        "{replay:?}"
    );
    assert_eq!(number(&replay, "seq_gaps"), 0.0, "{replay:?}");
    let overhead = bench(&["prompt-overhead", "--prompts", "10", "--warmup", "1"]).await;
    assert!(number(&overhead, "relay_p50_ms") > 0.0, "{overhead:?}");
}

/// The phone app in Chromium, on a small session: the browser script runs to the end and answers
/// its figures. Skipped without Chromium or the e2e packages (`npm ci --prefix tests/e2e`), except
/// under CI=true.
#[tokio::test]
async fn app_measures_the_phone_app() {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium =
        std::env::var("POCKET_RELAY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let modules = manifest.join("../e2e/node_modules/playwright-core");
    if !std::path::Path::new(&chromium).is_file() || !modules.is_dir() {
        let why = format!("needs {chromium} and {}", modules.display());
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "app scenario under CI=true: {why}"
        );
        eprintln!("app scenario skipped: {why}");
        return;
    }
    let app = bench(&["app", "--events", "500", "--chromium", &chromium]).await;
    assert!(number(&app, "session_events") >= 490.0, "{app:?}");
    assert!(number(&app, "first_load_bytes") > 0.0, "{app:?}");
}

#[tokio::test]
async fn notify_pushes_every_request_to_every_device() {
    let figures = bench(&["notify", "--devices", "5", "--rounds", "2"]).await;
    // 5 devices × 2 requests in each phase, the hanging endpoint's requests besides.
    assert_eq!(number(&figures, "push_latency_samples"), 10.0, "{figures:?}");
    assert_eq!(
        number(&figures, "push_latency_with_a_hanging_endpoint_samples"),
        10.0,
        "{figures:?}"
    );
    // Each request reached it (and hung), more when its timeout ran out and it was tried again.
    assert!(
        number(&figures, "hanging_endpoint_requests") >= 2.0,
        "{figures:?}"
    );
}
