//! OS accounts made by a test (`useradd`, removed with `userdel -r` when dropped, also on
//! failure), and what `/proc` says about their processes. Needs root.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether this machine can run the `claude.run_as` tests: root, `sudo`, `useradd`. Without
/// them the test is skipped with a note, except under `CI=true`, where it fails.
pub fn can_run_as(test: &str) -> bool {
    let root = uid_of(Path::new("/proc/self")) == Some(0);
    let has = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let missing: Vec<&str> = [
        (!root).then_some("root"),
        (!has("sudo", "-V")).then_some("sudo"),
        (!has("useradd", "--help")).then_some("useradd"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return true;
    }
    let note = format!("{test}: needs {}", missing.join(", "));
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{note} (CI=true: not skipped)"
    );
    eprintln!("{note}: skipped");
    false
}

/// An OS account that lives as long as this value.
pub struct OsAccount {
    pub name: String,
    pub uid: u32,
    pub home: PathBuf,
}

impl OsAccount {
    /// `useradd -m` a fresh `pr-test-ROLE-XXXXXXXX` with a private (0700) home.
    pub fn create(role: &str) -> OsAccount {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("pr-test-{role}-{}", &suffix[..8]);
        run("useradd", &["-m", "-s", "/bin/sh", &name]);
        let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
        let fields: Vec<&str> = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.first() == Some(&name.as_str()))
            .expect("the new account is in /etc/passwd");
        let account = OsAccount {
            uid: fields[2].parse().expect("uid"),
            home: PathBuf::from(fields[5]),
            name,
        };
        std::fs::set_permissions(&account.home, std::fs::Permissions::from_mode(0o700))
            .expect("chmod home");
        account
    }

    /// Makes `relative` inside the home, owned by the account; a file gets `content` and 0600.
    pub fn make(&self, relative: &str, content: Option<&str>) -> String {
        let path = self.home.join(relative);
        match content {
            Some(text) => {
                std::fs::write(&path, text).expect("write");
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod");
            }
            None => std::fs::create_dir_all(&path).expect("mkdir"),
        }
        run("chown", &[&self.name, &path.to_string_lossy()]);
        path.to_string_lossy().into_owned()
    }

    /// The account's live processes (zombies left out): `(pid, command)`.
    pub fn processes(&self) -> Vec<(u32, String)> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
                let dir = entry.path();
                let status = std::fs::read_to_string(dir.join("status")).ok()?;
                let zombie = status
                    .lines()
                    .any(|l| l.starts_with("State:") && l.contains('Z'));
                (uid_of(&dir) == Some(self.uid) && !zombie).then(|| {
                    let cmd = std::fs::read_to_string(dir.join("cmdline")).unwrap_or_default();
                    (pid, cmd.replace('\0', " "))
                })
            })
            .collect()
    }
}

impl Drop for OsAccount {
    fn drop(&mut self) {
        for (pid, _) in self.processes() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = Command::new("userdel").args(["-r", &self.name]).output();
    }
}

/// The real uid of a `/proc/PID` directory's process.
fn uid_of(proc_dir: &Path) -> Option<u32> {
    let status = std::fs::read_to_string(proc_dir.join("status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A copy of `binary` in a fresh 0755 directory, so any account can run it.
pub fn world_executable(binary: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("pr-run-as-bin")
        .tempdir()
        .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let copy = dir.path().join(binary.file_name().expect("file name"));
    std::fs::copy(binary, &copy).expect("copy");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (dir, copy)
}
