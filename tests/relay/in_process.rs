//! The in-process test server itself: started and stopped many times in one process, it leaves
//! no thread and no agent process behind (what lets most of the suite run in-process).

use std::process::Command;
use std::time::Duration;

use crate::support::client::Client;
use crate::support::home::Settings;
use crate::support::in_process::InProcessServer;
use crate::support::operator::{connect_as, issue};

/// Set in the child process that runs the story alone.
const ALONE: &str = "RELAY_IN_PROCESS_ALONE";

/// Threads are counted per process and the suite's tests run in parallel, so the story runs in
/// a process of its own: this test binary, filtered to this one test.
#[test]
fn servers_started_and_stopped_in_one_process_leave_no_thread_or_process_behind() {
    if std::env::var_os(ALONE).is_none() {
        let name = "in_process::servers_started_and_stopped_in_one_process_leave_no_thread_or_process_behind";
        let output = Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", name, "--test-threads=1", "--nocapture"])
            .env(ALONE, "1")
            .output()
            .expect("run the story alone");
        assert!(
            output.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The first start warms up what lives as long as the process (the runtime's threads).
    runtime.block_on(start_prompt_and_stop());
    let before = threads();
    for _ in 0..10 {
        runtime.block_on(start_prompt_and_stop());
    }
    // actix's worker threads end just after the server stops. Fewer than before is fine: a thread
    // the first run started lazily (a blocking-pool worker) may have ended since; more is a leak.
    runtime.block_on(crate::support::eventually(
        "no thread left behind",
        Duration::from_secs(5),
        || threads() <= before,
    ));
}

/// A server with sign-in on (the token watcher's thread), a prompt answered (the store's writes,
/// an agent process left running), then stopped: every agent process it started has exited.
async fn start_prompt_and_stop() {
    let mut server = InProcessServer::start_with(Settings::default().set("auth", "enabled = true"));
    let token = issue(&server, "alice");
    let mut phone: Client = connect_as(&server, &token).await;
    let session = phone.create(&server.project()).await;
    phone.subscribe(&session, 0).await;
    let prompt = phone.prompt(&session, "hello").await;
    phone.wait_prompt_end(&prompt).await;
    server.stop();
    let spawns = server.spawns();
    assert_eq!(spawns.len(), 1, "{spawns:?}");
    for spawn in spawns {
        let pid = spawn["pid"].as_u64().expect("pid");
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "agent process {pid} is still there"
        );
    }
}

/// This process's threads.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}
