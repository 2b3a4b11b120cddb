//! `auth.authorized_keys`: the public keys allowed to sign in, read from an OpenSSH
//! `authorized_keys` file and read again whenever the file changes (its modification time,
//! size or inode), so adding or removing a key needs no restart.
//!
//! Keys are compared by their key data, never by comment. Each line's options are ignored,
//! except that `cert-authority` lines are skipped (they name a CA, not a user's key). A line
//! that does not parse is skipped with a warning; a missing or unreadable file means no key.
//!
//! Must never: panic on what the file holds, or keep a removed key after the file changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use ssh_key::public::KeyData;
use ssh_key::{HashAlg, PublicKey};

/// What is known about an authorized key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizedKey {
    /// The comment of its line (often `user@host`); empty when the line has none.
    pub comment: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

/// What identifies one version of the file on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

struct Loaded {
    /// `None` when the file was missing or unreadable at the last look.
    stamp: Option<Stamp>,
    keys: HashMap<KeyData, AuthorizedKey>,
}

/// The authorized keys of one file.
pub struct AuthorizedKeys {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

impl AuthorizedKeys {
    /// Reads `path` now (a `~/` prefix means the home directory). `quiet` logs a missing file
    /// at debug level instead of warning (sign-in is off).
    pub fn new(path: &str, quiet: bool) -> AuthorizedKeys {
        let path = expand_home(path);
        let (stamp, keys) = load(&path, quiet);
        AuthorizedKeys {
            path,
            loaded: Mutex::new(Loaded { stamp, keys }),
        }
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry for `key` if it is authorized, after reading the file again if it changed.
    pub fn lookup(&self, key: &KeyData) -> Option<AuthorizedKey> {
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = stamp(&self.path);
        if now != loaded.stamp {
            let (stamp, keys) = load(&self.path, false);
            log::info!(
                "auth: {} changed; {} authorized keys",
                self.path.display(),
                keys.len()
            );
            *loaded = Loaded { stamp, keys };
        }
        loaded.keys.get(key).cloned()
    }

    /// How many keys are authorized (as of the last read).
    pub fn len(&self) -> usize {
        self.loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .keys
            .len()
    }

    /// Whether no key is authorized (as of the last read).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `~/…` → `$HOME/…`; anything else as written.
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ if path == "~" => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(path)),
        _ => PathBuf::from(path),
    }
}

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode: meta.ino(),
    })
}

/// Reads the file; the stamp is taken before reading, so a change during the read is seen at
/// the next lookup.
fn load(path: &Path, quiet: bool) -> (Option<Stamp>, HashMap<KeyData, AuthorizedKey>) {
    let before = stamp(path);
    match std::fs::read_to_string(path) {
        Ok(text) => (before, parse(&text, path)),
        Err(error) => {
            if quiet {
                log::debug!("auth: cannot read {}: {error}", path.display());
            } else {
                log::warn!(
                    "auth: cannot read {}: {error}; no key can sign in",
                    path.display()
                );
            }
            (None, HashMap::new())
        }
    }
}

/// The keys of an `authorized_keys` text; the first line of a key wins.
pub fn parse(text: &str, path: &Path) -> HashMap<KeyData, AuthorizedKey> {
    let mut keys = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Some((options, key)) => {
                if has_option(options, "cert-authority") {
                    log::debug!(
                        "auth: {}:{}: skipping a cert-authority line",
                        path.display(),
                        number + 1
                    );
                    continue;
                }
                let entry = AuthorizedKey {
                    comment: key.comment().to_string(),
                    fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
                };
                keys.entry(key.key_data().clone()).or_insert(entry);
            }
            None => log::warn!(
                "auth: {}:{}: not a public key line, skipped",
                path.display(),
                number + 1
            ),
        }
    }
    keys
}

/// A line as its options (possibly empty) and key: first as a bare key line, then as options
/// followed by a key.
fn parse_line(line: &str) -> Option<(&str, PublicKey)> {
    if let Ok(key) = PublicKey::from_openssh(line) {
        return Some(("", key));
    }
    let split = options_end(line)?;
    let (options, rest) = line.split_at(split);
    let key = PublicKey::from_openssh(rest.trim_start()).ok()?;
    Some((options, key))
}

/// Where the options field ends: the first blank outside double quotes.
fn options_end(line: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// Whether the comma-separated `options` hold `name` (as a flag, not inside a quoted value).
fn has_option(options: &str, name: &str) -> bool {
    let mut quoted = false;
    let mut start = 0;
    let mut found = false;
    let mut check = |part: &str| {
        if part.trim().eq_ignore_ascii_case(name) {
            found = true;
        }
    };
    for (i, c) in options.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                check(&options[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    check(&options[start..]);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti alice";

    fn key_data(line: &str) -> KeyData {
        PublicKey::from_openssh(line)
            .expect("a valid key")
            .key_data()
            .clone()
    }

    #[test]
    fn parses_options_comments_and_skips_junk() {
        let body = ALICE.split_whitespace().nth(1).unwrap_or("");
        let text = format!(
            "# a comment\n\nnot a key at all\nrestrict,command=\"echo a b\" ssh-ed25519 {body} second\n{ALICE}\n"
        );
        let keys = parse(&text, Path::new("test"));
        assert_eq!(keys.len(), 1);
        let entry = keys.get(&key_data(ALICE)).expect("alice's key");
        assert_eq!(entry.comment, "second", "the first line of a key wins");
        assert!(entry.fingerprint.starts_with("SHA256:"));

        let ca = format!("cert-authority,principals=\"a,b\" {ALICE}");
        assert!(parse(&ca, Path::new("test")).is_empty());
    }

    #[test]
    fn reads_the_file_again_when_it_changes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("authorized_keys");
        let keys = AuthorizedKeys::new(&path.to_string_lossy(), true);
        assert!(keys.is_empty(), "a missing file authorizes nobody");
        assert_eq!(keys.lookup(&key_data(ALICE)), None);

        std::fs::write(&path, format!("{ALICE}\n")).expect("write");
        let entry = keys.lookup(&key_data(ALICE)).expect("added");
        assert_eq!(entry.comment, "alice");

        // Removed: a shorter file (a different size) even within the same mtime tick.
        std::fs::write(&path, "# nobody\n").expect("rewrite");
        assert_eq!(keys.lookup(&key_data(ALICE)), None);
        std::fs::remove_file(&path).expect("remove");
        assert_eq!(keys.lookup(&key_data(ALICE)), None);
    }

    #[test]
    fn home_is_expanded() {
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(
                expand_home("~/.ssh/authorized_keys"),
                PathBuf::from(home).join(".ssh/authorized_keys")
            );
        }
        assert_eq!(expand_home("/etc/keys"), PathBuf::from("/etc/keys"));
    }
}
