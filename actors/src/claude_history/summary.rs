//! One conversation's summary for the listing, built by reading its transcript once and then
//! only what the CLI appended since (transcripts only grow; a file that shrank or was replaced
//! is read again from the start).

use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::Path;
use std::time::SystemTime;

use super::lines::{Line, LineReader};
use super::transcript::{one_line_title, typed_prompt, LineHead};

/// What identifies a version of a file: a new size, mtime or inode means it changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub len: u64,
    pub modified: SystemTime,
    pub inode: u64,
}

impl Stamp {
    pub fn of(metadata: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(metadata);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            len: metadata.len(),
            modified: metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            inode,
        }
    }
}

/// What the listing says about one transcript, as read so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Bytes of complete lines read.
    pub read_to: u64,
    /// The folder the conversation ran in (the first `cwd` the file records).
    pub cwd: Option<String>,
    /// The newest `gitBranch` recorded.
    pub git_branch: Option<String>,
    pub custom_title: Option<String>,
    pub ai_title: Option<String>,
    pub summary_title: Option<String>,
    pub first_prompt: Option<String>,
    /// The newest `timestamp` recorded.
    pub last_timestamp: Option<String>,
    pub message_count: usize,
}

impl Summary {
    /// The name the CLI or the person gave it, else its first prompt.
    pub fn title(&self) -> Option<String> {
        self.custom_title
            .as_ref()
            .or(self.ai_title.as_ref())
            .or(self.summary_title.as_ref())
            .map(|t| one_line_title(t))
            .or_else(|| self.first_prompt.clone())
    }

    /// Reads what `path` holds beyond `self.read_to`, opened read-only.
    pub fn read_more(&mut self, path: &Path) -> std::io::Result<()> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(self.read_to))?;
        let mut lines = LineReader::new(BufReader::with_capacity(64 * 1024, file));
        while let Some(line) = lines.next_line() {
            if let Line::Whole(bytes) = line {
                self.note(&bytes);
            }
        }
        self.read_to += lines.consumed;
        Ok(())
    }

    fn note(&mut self, line: &[u8]) {
        let Some(head) = LineHead::parse(line) else {
            return;
        };
        if head.is_sidechain == Some(true) {
            return;
        }
        let is_message = head.is_message();
        if self.cwd.is_none() {
            self.cwd = head.cwd.filter(|cwd| !cwd.is_empty());
        }
        if let Some(branch) = head.git_branch.filter(|b| !b.is_empty()) {
            self.git_branch = Some(branch);
        }
        if let Some(ts) = head.timestamp {
            if self.last_timestamp.as_ref().map_or(true, |last| &ts > last) {
                self.last_timestamp = Some(ts);
            }
        }
        match head.kind.as_deref() {
            Some("custom-title") => keep_title(&mut self.custom_title, head.custom_title),
            Some("ai-title") => keep_title(&mut self.ai_title, head.ai_title),
            Some("summary") => keep_title(&mut self.summary_title, head.summary),
            _ => {}
        }
        if is_message {
            self.message_count += 1;
            if self.first_prompt.is_none() && head.kind.as_deref() == Some("user") {
                self.first_prompt = typed_prompt(line);
            }
        }
    }
}

/// The newest non-empty title wins.
fn keep_title(slot: &mut Option<String>, title: Option<String>) {
    if let Some(title) = title.filter(|t| !t.trim().is_empty()) {
        *slot = Some(title);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("history-summary-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir.join("c.jsonl")
    }

    const START: &str = concat!(
        r#"{"type":"queue-operation","operation":"enqueue","content":"hi"}"#,
        "\n",
        r#"{"type":"user","cwd":"/p","gitBranch":"main","timestamp":"2026-01-01T00:00:01Z","message":{"role":"user","content":"<system-reminder>x</system-reminder>"},"isMeta":true}"#,
        "\n",
        r#"{"type":"user","cwd":"/p","gitBranch":"main","timestamp":"2026-01-01T00:00:02Z","message":{"role":"user","content":"fix the build"}}"#,
        "\n",
        "garbage that is not json\n",
        r#"{"type":"brand-new-kind","whatever":[1,2,3]}"#,
        "\n",
        r#"{"type":"assistant","timestamp":"2026-01-01T00:00:03Z","message":{"role":"assistant","content":[{"type":"text","text":"ok"}]}}"#,
        "\n",
        r#"{"type":"assistant","isSidechain":true,"timestamp":"2026-01-01T00:00:09Z","message":{"content":[]}}"#,
        "\n",
    );

    #[test]
    fn reads_tolerantly_then_only_what_was_appended() {
        let path = scratch("append");
        std::fs::write(&path, START).expect("write");
        let mut summary = Summary::default();
        summary.read_more(&path).expect("read");
        assert_eq!(summary.cwd.as_deref(), Some("/p"));
        assert_eq!(summary.git_branch.as_deref(), Some("main"));
        assert_eq!(summary.title().as_deref(), Some("fix the build"));
        assert_eq!(summary.message_count, 2);
        assert_eq!(
            summary.last_timestamp.as_deref(),
            Some("2026-01-01T00:00:03Z")
        );
        assert_eq!(summary.read_to, START.len() as u64);

        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        file.write_all(br#"{"type":"ai-title","aiTitle":"Fixing the build"}"#)
            .expect("w");
        file.write_all(b"\n{\"type\":\"user\",\"gitBranch\":\"dev\",\"timestamp\":\"2026-01-01T00:00:05Z\",\"message\":{\"content\":\"more\"}}\n{\"type\":\"assist").expect("w");
        summary.read_more(&path).expect("read");
        assert_eq!(summary.title().as_deref(), Some("Fixing the build"));
        assert_eq!(summary.git_branch.as_deref(), Some("dev"));
        assert_eq!(
            summary.message_count, 3,
            "the truncated last line is not counted"
        );
        file.write_all(br#"ant","message":{"content":[]}}"#)
            .expect("w");
        file.write_all(b"\n{\"type\":\"custom-title\",\"customTitle\":\"Mine\"}\n")
            .expect("w");
        summary.read_more(&path).expect("read");
        assert_eq!(summary.message_count, 4, "completed later, it counts once");
        assert_eq!(
            summary.title().as_deref(),
            Some("Mine"),
            "the person's name wins"
        );
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }

    #[test]
    fn an_empty_file_has_an_empty_summary() {
        let path = scratch("empty");
        std::fs::write(&path, "").expect("write");
        let mut summary = Summary::default();
        summary.read_more(&path).expect("read");
        assert_eq!(summary, Summary::default());
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }
}
