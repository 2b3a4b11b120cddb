//! The listing of conversations, one conversation's messages, and the look-up `session.create`
//! uses to continue one. Summaries are cached per file and brought up to date by reading only
//! what was appended, so listing hundreds of conversations reads each byte once; every file is
//! opened read-only. Blocking filesystem reads: run these off the async threads.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::access::HistoryPlace;
use super::lines::{Line, LineReader};
use super::running::{read_running, RunningTerminal};
use super::summary::{Stamp, Summary};
use super::transcript::as_stream_message;
use super::HistoryError;

/// The most transcripts looked at (newest files first).
const MAX_FILES: usize = 20_000;
/// Page sizes: default and most.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;
const DEFAULT_MESSAGES: usize = 100;
const MAX_MESSAGES: usize = 500;

/// `GET /api/v1/claude/sessions`' query (`claude.sessions`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConversationsQuery {
    /// Only the conversations of this folder (symlinks resolved; `~` is the relay's home).
    #[serde(default)]
    pub cwd: Option<String>,
    /// 1 to 200 (brought inside); 50 when absent.
    #[serde(default)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the page before.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Only the conversations running in a terminal right now (true) or not (false).
    #[serde(default)]
    pub running: Option<bool>,
}

/// `GET /api/v1/claude/sessions/{id}/messages`' query (`claude.messages`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MessagesQuery {
    /// The messages after this `index` (0: from the start).
    #[serde(default)]
    pub after: Option<usize>,
    /// 1 to 500 (brought inside); 100 when absent.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// A terminal running a conversation, as the listing shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RunningRef {
    pub pid: i32,
    pub status: Option<String>,
}

/// One conversation of the listing.
#[derive(Clone, Debug, Serialize)]
pub struct Conversation {
    pub claude_session_id: String,
    /// The folder it ran in, as the CLI recorded it.
    pub cwd: String,
    pub title: Option<String>,
    /// RFC 3339, UTC.
    pub last_activity: String,
    pub message_count: usize,
    pub git_branch: Option<String>,
    pub running: Option<RunningRef>,
}

/// A page of the listing.
#[derive(Clone, Debug, Serialize)]
pub struct ConversationsPage {
    pub sessions: Vec<Conversation>,
    pub next_cursor: Option<String>,
}

/// A page of one conversation's messages.
#[derive(Clone, Debug, Serialize)]
pub struct MessagesPage {
    pub claude_session_id: String,
    pub cwd: String,
    /// `{index, message}`, `message` in the shape of an `agent.output` event's.
    pub messages: Vec<Value>,
    /// How many messages the conversation has.
    pub total: usize,
    /// The `after` of the next page; `null` on the last one.
    pub next_after: Option<usize>,
}

/// The terminals running conversations inside the roots.
#[derive(Clone, Debug, Serialize)]
pub struct RunningList {
    pub running: Vec<RunningTerminal>,
}

/// A conversation found for `session.create`.
#[derive(Clone, Debug)]
pub struct Found {
    pub conversation: Conversation,
    /// Its folder, symlinks resolved.
    pub folder: PathBuf,
}

struct Cached {
    stamp: Stamp,
    summary: Summary,
}

/// One transcript on disk with its summary brought up to date.
struct Entry {
    id: String,
    summary: Summary,
    stamp: Stamp,
}

/// The summaries read so far, by file.
#[derive(Default)]
pub struct HistoryIndex {
    cache: Mutex<HashMap<PathBuf, Cached>>,
}

impl HistoryIndex {
    /// A page of the conversations inside the roots, newest first.
    pub fn list(
        &self,
        place: &HistoryPlace,
        query: &ConversationsQuery,
    ) -> Result<ConversationsPage, HistoryError> {
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let cursor = query.cursor.as_deref().map(parse_cursor).transpose()?;
        let only = match &query.cwd {
            Some(cwd) => {
                let expanded = crate::config::expand_home(cwd);
                let folder = place.folder_inside(&expanded.to_string_lossy());
                // A folder outside the roots has no conversations to show.
                let Some(folder) = folder else {
                    return Ok(ConversationsPage {
                        sessions: Vec::new(),
                        next_cursor: None,
                    });
                };
                Some(folder)
            }
            None => None,
        };
        let running = running_by_session(place);
        let mut folders = FolderCheck::new(place);
        let mut all: Vec<Conversation> = self
            .entries(place)
            .into_iter()
            .filter_map(|entry| {
                let folder = folders.check(entry.summary.cwd.as_deref()?)?;
                if only.as_ref().is_some_and(|only| only != &folder) {
                    return None;
                }
                Some(conversation(entry, &running))
            })
            .filter(|c| query.running.map_or(true, |r| r == c.running.is_some()))
            .collect();
        all.sort_by(|a, b| order_key(b).cmp(&order_key(a)));
        let start = match &cursor {
            Some((at, id)) => all
                .iter()
                .position(|c| {
                    (c.last_activity.as_str(), c.claude_session_id.as_str())
                        < (at.as_str(), id.as_str())
                })
                .unwrap_or(all.len()),
            None => 0,
        };
        let rest = all.len() - start;
        let sessions: Vec<Conversation> = all.into_iter().skip(start).take(limit).collect();
        let next_cursor = (rest > limit)
            .then(|| {
                sessions
                    .last()
                    .map(|c| format!("{}|{}", c.last_activity, c.claude_session_id))
            })
            .flatten();
        Ok(ConversationsPage {
            sessions,
            next_cursor,
        })
    }

    /// The conversation `id` if it is inside the roots; `not_found` otherwise (unknown,
    /// outside, or its folder gone: one answer).
    pub fn find(&self, place: &HistoryPlace, id: &str) -> Result<Found, HistoryError> {
        let not_found = || HistoryError::NotFound(id.to_string());
        if uuid::Uuid::try_parse(id).is_err() {
            return Err(not_found());
        }
        let entry = self
            .entries_named(place, Some(id))
            .into_iter()
            .max_by_key(|e| e.stamp.modified)
            .ok_or_else(not_found)?;
        let folder = entry
            .summary
            .cwd
            .as_deref()
            .and_then(|cwd| place.folder_inside(cwd))
            .ok_or_else(not_found)?;
        let running = running_by_session(place);
        Ok(Found {
            conversation: conversation(entry, &running),
            folder,
        })
    }

    /// A page of the messages of conversation `id` (inside the roots).
    pub fn messages(
        &self,
        place: &HistoryPlace,
        id: &str,
        query: &MessagesQuery,
    ) -> Result<MessagesPage, HistoryError> {
        let found = self.find(place, id)?;
        let path = self
            .transcripts(place, Some(id))
            .into_iter()
            .max_by_key(|(_, stamp)| stamp.modified)
            .map(|(path, _)| path)
            .ok_or_else(|| HistoryError::NotFound(id.to_string()))?;
        let after = query.after.unwrap_or(0);
        let limit = query
            .limit
            .unwrap_or(DEFAULT_MESSAGES)
            .clamp(1, MAX_MESSAGES);
        let file = File::open(&path).map_err(|_| HistoryError::NotFound(id.to_string()))?;
        let mut lines = LineReader::new(BufReader::with_capacity(64 * 1024, file));
        let mut messages = Vec::new();
        let mut index = 0;
        let mut more = false;
        while let Some(line) = lines.next_line() {
            let Line::Whole(bytes) = line else { continue };
            let Some(message) = as_stream_message(&bytes, id) else {
                continue;
            };
            index += 1;
            if index <= after {
                continue;
            }
            if messages.len() == limit {
                more = true;
                break;
            }
            messages.push(serde_json::json!({ "index": index, "message": message }));
        }
        let next_after = more.then_some(index - 1);
        Ok(MessagesPage {
            claude_session_id: id.to_string(),
            cwd: found.conversation.cwd,
            messages,
            total: found.conversation.message_count.max(index),
            next_after,
        })
    }

    /// The terminal running conversation `id`, if one does (wherever its folder is).
    pub fn running_of(&self, place: &HistoryPlace, id: &str) -> Option<RunningRef> {
        running_by_session(place).remove(id)
    }

    /// The terminals running conversations inside the roots.
    pub fn running(&self, place: &HistoryPlace) -> RunningList {
        let mut folders = FolderCheck::new(place);
        let running = read_running(&place.sessions_dir())
            .into_iter()
            .filter(|r| folders.check(&r.cwd).is_some())
            .collect();
        RunningList { running }
    }

    /// Every transcript with its summary up to date, one per conversation (the newest file).
    fn entries(&self, place: &HistoryPlace) -> Vec<Entry> {
        let mut newest: HashMap<String, Entry> = HashMap::new();
        for entry in self.entries_named(place, None) {
            match newest.get(&entry.id) {
                Some(seen) if seen.stamp.modified >= entry.stamp.modified => {}
                _ => {
                    newest.insert(entry.id.clone(), entry);
                }
            }
        }
        newest.into_values().collect()
    }

    /// The transcripts (of conversation `only`, or all), summaries brought up to date; the
    /// cache forgets files that are gone.
    fn entries_named(&self, place: &HistoryPlace, only: Option<&str>) -> Vec<Entry> {
        let files = self.transcripts(place, only);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if only.is_none() {
            let present: std::collections::HashSet<&PathBuf> =
                files.iter().map(|(p, _)| p).collect();
            cache.retain(|path, _| present.contains(path));
        }
        files
            .into_iter()
            .filter_map(|(path, stamp)| {
                let id = path.file_stem()?.to_str()?.to_string();
                let cached = cache.remove(&path);
                let mut summary = match cached {
                    // Grown in place: read only the new bytes.
                    Some(c) if c.stamp.inode == stamp.inode && c.stamp.len <= stamp.len => {
                        if c.stamp == stamp {
                            c.summary
                        } else {
                            let mut s = c.summary;
                            if s.read_more(&path).is_err() {
                                return None;
                            }
                            s
                        }
                    }
                    _ => {
                        let mut s = Summary::default();
                        s.read_more(&path).ok()?;
                        s
                    }
                };
                summary.read_to = summary.read_to.min(stamp.len);
                cache.insert(
                    path,
                    Cached {
                        stamp,
                        summary: summary.clone(),
                    },
                );
                Some(Entry { id, summary, stamp })
            })
            .collect()
    }

    /// `projects/*/<uuid>.jsonl` regular files (symlinks are not followed), with their stamps.
    fn transcripts(&self, place: &HistoryPlace, only: Option<&str>) -> Vec<(PathBuf, Stamp)> {
        let Ok(projects) = std::fs::read_dir(place.projects_dir()) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for project in projects.filter_map(Result::ok) {
            if !project.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if let Some(id) = only {
                let path = project.path().join(format!("{id}.jsonl"));
                if let Some(stamp) = regular_file(&path) {
                    found.push((path, stamp));
                }
                continue;
            }
            let Ok(files) = std::fs::read_dir(project.path()) else {
                continue;
            };
            for file in files.filter_map(Result::ok) {
                let path = file.path();
                let is_transcript = path.extension().is_some_and(|e| e == "jsonl")
                    && path
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .is_some_and(|s| uuid::Uuid::try_parse(s).is_ok());
                if let (true, Some(stamp)) = (is_transcript, regular_file(&path)) {
                    found.push((path, stamp));
                }
                if found.len() >= MAX_FILES {
                    log::warn!("claude history: more than {MAX_FILES} transcripts; the rest are not listed");
                    return found;
                }
            }
        }
        found
    }
}

fn regular_file(path: &Path) -> Option<Stamp> {
    let metadata = std::fs::symlink_metadata(path).ok()?;
    metadata.is_file().then(|| Stamp::of(&metadata))
}

/// Folders checked against the roots once per call.
struct FolderCheck<'a> {
    place: &'a HistoryPlace,
    seen: HashMap<String, Option<PathBuf>>,
}

impl<'a> FolderCheck<'a> {
    fn new(place: &'a HistoryPlace) -> Self {
        FolderCheck {
            place,
            seen: HashMap::new(),
        }
    }

    fn check(&mut self, cwd: &str) -> Option<PathBuf> {
        let place = self.place;
        self.seen
            .entry(cwd.to_string())
            .or_insert_with(|| place.folder_inside(cwd))
            .clone()
    }
}

fn running_by_session(place: &HistoryPlace) -> HashMap<String, RunningRef> {
    read_running(&place.sessions_dir())
        .into_iter()
        .map(|r| {
            let running = RunningRef {
                pid: r.pid,
                status: r.status,
            };
            (r.claude_session_id, running)
        })
        .collect()
}

fn conversation(entry: Entry, running: &HashMap<String, RunningRef>) -> Conversation {
    let last_activity = entry
        .summary
        .last_timestamp
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| entry.stamp.modified.into())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Conversation {
        running: running.get(&entry.id).cloned(),
        title: entry.summary.title(),
        cwd: entry.summary.cwd.clone().unwrap_or_default(),
        message_count: entry.summary.message_count,
        git_branch: entry.summary.git_branch.clone(),
        claude_session_id: entry.id,
        last_activity,
    }
}

fn order_key(c: &Conversation) -> (&str, &str) {
    (c.last_activity.as_str(), c.claude_session_id.as_str())
}

fn parse_cursor(cursor: &str) -> Result<(String, String), HistoryError> {
    cursor
        .split_once('|')
        .filter(|(at, id)| !at.is_empty() && !id.is_empty())
        .map(|(at, id)| (at.to_string(), id.to_string()))
        .ok_or_else(|| {
            HistoryError::BadRequest(format!("cursor {cursor:?} is not one this server gave"))
        })
}
