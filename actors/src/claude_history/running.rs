//! The Claude Code processes running in terminals right now, from the CLI's own records: an
//! interactive `claude` writes `~/.claude/sessions/<pid>.json` (`{pid, sessionId, cwd, status,
//! kind, startedAt, procStart, …}`) while it runs and removes it when it exits. A record whose
//! process is gone (killed without cleaning up) or whose pid now belongs to another process
//! (`procStart` differs) is not running. Read only.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The most records read (the CLI keeps one per live process).
const MAX_RECORDS: usize = 1000;
/// The largest record read.
const MAX_RECORD_BYTES: u64 = 256 * 1024;

/// One record as the CLI writes it (only the fields read here).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    pid: i32,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    started_at: Option<i64>,
    #[serde(default)]
    proc_start: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// A Claude Code process running in a terminal.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RunningTerminal {
    pub pid: i32,
    pub claude_session_id: String,
    pub cwd: String,
    /// What the CLI says it is doing (`idle`, `busy`, …), verbatim; `null` when it did not say.
    pub status: Option<String>,
    /// `interactive`, `bg`, … as the CLI records it.
    pub kind: Option<String>,
    pub name: Option<String>,
    /// RFC 3339.
    pub started_at: Option<String>,
}

/// The live records under `sessions_dir`, oldest first.
pub fn read_running(sessions_dir: &Path) -> Vec<RunningTerminal> {
    let Ok(entries) = std::fs::read_dir(sessions_dir) else {
        return Vec::new();
    };
    let mut found: Vec<RunningTerminal> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(".json")))
        .take(MAX_RECORDS)
        .filter_map(|entry| read_record(&entry.path()))
        .filter(|record| is_alive(record.pid, record.proc_start.as_deref()))
        .filter_map(|record| {
            Some(RunningTerminal {
                pid: record.pid,
                claude_session_id: record
                    .session_id
                    .filter(|id| uuid::Uuid::try_parse(id).is_ok())?,
                cwd: record.cwd.filter(|cwd| !cwd.is_empty())?,
                status: record.status,
                kind: record.kind,
                name: record.name,
                started_at: record.started_at.and_then(millis_text),
            })
        })
        .collect();
    found.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.pid.cmp(&b.pid)));
    found
}

fn read_record(path: &Path) -> Option<Record> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_file() || metadata.len() > MAX_RECORD_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn millis_text(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Whether `pid` is a live process (one of another account counts) and, when the record says
/// when its process started and `/proc` can tell, the same process.
pub fn is_alive(pid: i32, proc_start: Option<&str>) -> bool {
    if pid <= 0 {
        return false;
    }
    let signalled = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None);
    if matches!(signalled, Err(nix::errno::Errno::ESRCH)) {
        return false;
    }
    match (proc_start, process_start(pid)) {
        (Some(recorded), Some(actual)) => recorded == actual,
        _ => true,
    }
}

/// The start time of `pid` in clock ticks since boot (`/proc/<pid>/stat` field 22), which the
/// CLI records as `procStart`.
fn process_start(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_live_records_of_the_same_process_are_running() {
        let dir = std::env::temp_dir().join(format!("history-running-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let me = std::process::id() as i32;
        let start = process_start(me).expect("this process's start time");
        let id = "6652a9e8-3aee-4cc6-8d8a-837ae4f5fd6d";
        let record = |pid: i32, start: &str| {
            serde_json::json!({"pid": pid, "sessionId": id, "cwd": "/p", "status": "idle",
                "kind": "interactive", "startedAt": 1796182442619_i64, "procStart": start,
                "newField": {"x": 1}})
            .to_string()
        };
        std::fs::write(dir.join(format!("{me}.json")), record(me, &start)).expect("w");
        std::fs::write(dir.join("2.json"), record(me, "1")).expect("w");
        // pid_max is at most 2^22 on Linux: this pid is never alive.
        std::fs::write(dir.join("3.json"), record(4_194_304 + 7, &start)).expect("w");
        std::fs::write(dir.join("4.json"), "{not json").expect("w");
        std::fs::write(dir.join("5.key"), record(me, &start)).expect("w");
        let running = read_running(&dir);
        assert_eq!(running.len(), 1, "{running:?}");
        assert_eq!(running[0].pid, me);
        assert_eq!(running[0].claude_session_id, id);
        assert_eq!(running[0].status.as_deref(), Some("idle"));
        assert!(running[0]
            .started_at
            .as_deref()
            .is_some_and(|t| t.ends_with('Z')));
        assert!(read_running(&dir.join("missing")).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
