//! The folder picker (`GET /api/v1/dirs`): the subdirectories of a directory inside
//! `sessions.allowed_roots`, as the relay's account sees them. Blocking filesystem reads: run it
//! off the async threads (the registry uses `spawn_blocking`).
//!
//! Everything outside the roots gets one answer, whether it exists or not, is a file or a symlink
//! that leads out: the listing must not tell what exists outside them. Subdirectories are sorted
//! by name, those whose name starts with `.` after the others; a symlink is listed only when it
//! leads to a directory inside the roots, under the path it leads to.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::RelayError;

/// The most subdirectories one listing returns.
pub const MAX_ENTRIES: usize = 500;

/// Why a listing was refused.
#[derive(Debug, thiserror::Error)]
pub enum DirsError {
    #[error("path must be an absolute path: {0}")]
    NotAbsolute(String),
    #[error("{0} is not a directory inside sessions.allowed_roots")]
    Outside(String),
    #[error(
        "listing folders is not available with claude.run_as (your sessions run as the OS account \
         {0}, and the relay lists only what its own account sees); type the folder's path instead"
    )]
    RunAs(String),
}

impl From<DirsError> for RelayError {
    fn from(error: DirsError) -> Self {
        match error {
            DirsError::NotAbsolute(_) => RelayError::BadRequest(error.to_string()),
            DirsError::Outside(_) | DirsError::RunAs(_) => RelayError::Forbidden(error.to_string()),
        }
    }
}

/// One subdirectory.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    /// Its real path (symlinks resolved).
    pub path: String,
}

/// A directory's subdirectories.
#[derive(Clone, Debug, Serialize)]
pub struct DirListing {
    /// The directory's real path.
    pub path: String,
    /// Its parent, when that is inside the roots too.
    pub parent: Option<String>,
    pub dirs: Vec<DirEntry>,
    /// Whether there were more than [`MAX_ENTRIES`] (the first ones in order are listed).
    pub truncated: bool,
}

/// Where the picker starts: the roots, and the caller's recent working directories.
#[derive(Clone, Debug, Serialize)]
pub struct DirRoots {
    pub roots: Vec<String>,
    /// Newest first, each once.
    pub recent: Vec<String>,
}

/// The answer of `GET /api/v1/dirs`, with or without `path`.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum DirsAnswer {
    Listing(DirListing),
    Roots(DirRoots),
}

/// The subdirectories of `path` (`~` is the relay's home), which must be a directory inside one
/// of `roots` (already resolved) once symlinks are resolved.
pub fn list(roots: &[PathBuf], path: &str) -> Result<DirListing, DirsError> {
    let expanded = crate::config::expand_home(path);
    if path.is_empty() || !expanded.is_absolute() {
        return Err(DirsError::NotAbsolute(path.to_string()));
    }
    let outside = || DirsError::Outside(path.to_string());
    let resolved = expanded.canonicalize().map_err(|_| outside())?;
    if !inside(roots, &resolved) || !resolved.is_dir() {
        return Err(outside());
    }
    let reading = std::fs::read_dir(&resolved).map_err(|error| {
        log::debug!("dirs: cannot read {}: {error}", resolved.display());
        outside()
    })?;
    let mut dirs: Vec<DirEntry> = reading
        .filter_map(Result::ok)
        .filter_map(|item| {
            let name = item.file_name().into_string().ok()?;
            let real = item.path().canonicalize().ok()?;
            (real.is_dir() && inside(roots, &real)).then(|| DirEntry {
                name,
                path: text(&real),
            })
        })
        .collect();
    dirs.sort_by(|a, b| {
        let key = |e: &DirEntry| (e.name.starts_with('.'), e.name.to_lowercase());
        key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
    });
    let truncated = dirs.len() > MAX_ENTRIES;
    dirs.truncate(MAX_ENTRIES);
    let parent = resolved
        .parent()
        .filter(|parent| inside(roots, parent))
        .map(text);
    Ok(DirListing {
        path: text(&resolved),
        parent,
        dirs,
        truncated,
    })
}

/// `roots` as text, for the answer without `path`.
pub fn roots_text(roots: &[PathBuf]) -> Vec<String> {
    roots.iter().map(|root| text(root)).collect()
}

/// The working directories of `sessions` (each with the time it was last active), newest first,
/// each once.
pub fn recent(mut sessions: Vec<(String, String)>) -> Vec<String> {
    sessions.sort_by(|a, b| b.1.cmp(&a.1));
    let mut seen = std::collections::HashSet::new();
    sessions
        .into_iter()
        .filter(|(cwd, _)| seen.insert(cwd.clone()))
        .map(|(cwd, _)| cwd)
        .collect()
}

fn inside(roots: &[PathBuf], path: &Path) -> bool {
    roots.iter().any(|root| path.starts_with(root))
}

fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_is_newest_first_and_once() {
        let sessions = vec![
            ("/a".to_string(), "2026-01-01".to_string()),
            ("/b".to_string(), "2026-01-03".to_string()),
            ("/a".to_string(), "2026-01-02".to_string()),
        ];
        assert_eq!(recent(sessions), vec!["/b", "/a"]);
    }

    #[test]
    fn lists_inside_and_refuses_outside() {
        let dir = std::env::temp_dir().join(format!("dirs-test-{}", std::process::id()));
        let root = dir.join("root");
        for sub in ["b", "A", ".hidden", "c/deep"] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        std::fs::write(root.join("file"), b"x").expect("file");
        std::fs::create_dir_all(dir.join("outside")).expect("mkdir");
        let roots = vec![root.canonicalize().expect("root")];
        let listing = list(&roots, root.to_str().expect("utf-8")).expect("listing");
        let names: Vec<_> = listing.dirs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["A", "b", "c", ".hidden"]);
        assert_eq!(listing.parent, None);
        let deep = list(&roots, &listing.dirs[2].path).expect("c");
        assert_eq!(deep.parent.as_deref(), Some(listing.path.as_str()));
        for path in ["file", "../outside", "missing"] {
            let error = list(&roots, root.join(path).to_str().expect("utf-8"));
            assert!(matches!(error, Err(DirsError::Outside(_))), "{path}");
        }
        assert!(matches!(
            list(&roots, "rel"),
            Err(DirsError::NotAbsolute(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
