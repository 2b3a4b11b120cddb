//! The real `pocket-relay` binary, started on 127.0.0.1:0 with a config of the test's choosing:
//! for the stories that need a process (SIGKILL, SIGTERM, a restart on the same store, its
//! stdout and log, its open-file limit, `claude.run_as`). Everything else runs the server in
//! the test process ([`super::in_process`]), which starts faster.

use std::ops::Deref;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

pub use super::home::{Home, Settings};
use super::{first_stdout_line_keeping_rest, PATIENCE};

/// A running server process and its [`Home`].
pub struct TestServer {
    home: Home,
    child: Option<Child>,
    soft_open_files: Option<u64>,
    /// Environment variables for the server process (from [`Settings::env`]).
    pub env: Vec<(String, String)>,
    generation: u32,
}

impl Deref for TestServer {
    type Target = Home;

    fn deref(&self) -> &Home {
        &self.home
    }
}

impl TestServer {
    /// Starts a server with the fake `claude` and default test settings.
    pub fn start() -> TestServer {
        Self::start_with(Settings::default())
    }

    /// Starts a server with `settings` on top of the test defaults.
    pub fn start_with(settings: Settings) -> TestServer {
        let mut server = TestServer {
            home: Home::new(&settings),
            child: None,
            soft_open_files: settings.soft_open_files,
            env: settings.env.clone(),
            generation: 0,
        };
        server.launch();
        server
    }

    fn launch(&mut self) {
        self.generation += 1;
        let log = std::fs::File::create(
            self.dir
                .path()
                .join(format!("server-{}.log", self.generation)),
        )
        .expect("log file");
        let binary = env!("CARGO_BIN_EXE_pocket-relay");
        let mut command = match self.soft_open_files {
            Some(limit) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("ulimit -Sn {limit} && exec \"$0\" \"$@\""))
                    .arg(binary);
                sh
            }
            None => Command::new(binary),
        };
        let mut child = command
            .arg("--config")
            .arg(&self.config)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info,actix_server=warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start pocket-relay");
        let rest = self
            .dir
            .path()
            .join(format!("stdout-{}.log", self.generation));
        let line = first_stdout_line_keeping_rest(&mut child, Some(rest)).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("the server did not print its address; log:\n{}", self.log());
        });
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        self.home.url = url.to_string();
        self.child = Some(child);
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .expect("the server is running")
    }

    /// The server's stderr log of its latest run.
    pub fn log(&self) -> String {
        std::fs::read_to_string(
            self.dir
                .path()
                .join(format!("server-{}.log", self.generation)),
        )
        .unwrap_or_default()
    }

    /// What the server printed on stdout after its `listening on` line, in its latest run, so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(
            self.dir
                .path()
                .join(format!("stdout-{}.log", self.generation)),
        )
        .unwrap_or_default()
    }

    /// SIGKILL, no goodbye.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the exit; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let status = child.wait();
            let _ = tx.send((status, child));
        });
        match rx.recv_timeout(PATIENCE) {
            Ok((status, _)) => status.ok().and_then(|s| s.code()),
            Err(_) => panic!(
                "the server did not exit after SIGTERM; log:\n{}",
                self.log()
            ),
        }
    }

    /// Starts the server again on the same store and configuration.
    pub fn restart(&mut self) {
        self.kill9();
        self.launch();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}
