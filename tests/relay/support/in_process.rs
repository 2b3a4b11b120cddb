//! The real server started in the test process: [`pocket_relay::server::Server`] on its own
//! thread running an actix system, on 127.0.0.1:0, with the same configuration file and scratch
//! directory the spawning [`super::server::TestServer`] uses (except `shutdown_grace_s = 0`,
//! unless the test sets it). It starts in milliseconds rather than a process's start-up, and is
//! stopped through `Server::run`'s shutdown future when dropped. Its log goes to the test
//! process's (absent) logger, so stories about the log, the stdout, signals or a restart after
//! SIGKILL use `TestServer`.

use std::net::TcpListener;
use std::ops::Deref;
use std::sync::mpsc;
use std::thread::JoinHandle;

use pocket_relay::config::Config;
use pocket_relay::server::Server;
use tokio::sync::oneshot;

use super::home::{has_key, Home, Settings};
use super::PATIENCE;

/// A server running in this process, and its [`Home`].
pub struct InProcessServer {
    home: Home,
    /// Completing it starts the graceful shutdown.
    stop: Option<oneshot::Sender<()>>,
    /// The server's thread; it ends once everything the server started has stopped.
    thread: Option<JoinHandle<()>>,
}

impl Deref for InProcessServer {
    type Target = Home;

    fn deref(&self) -> &Home {
        &self.home
    }
}

impl InProcessServer {
    /// Starts a server with the fake `claude` and default test settings.
    pub fn start() -> InProcessServer {
        Self::start_with(Settings::default())
    }

    /// Starts a server with `settings` on top of the test defaults.
    pub fn start_with(settings: Settings) -> InProcessServer {
        assert!(
            settings.soft_open_files.is_none() && settings.env.is_empty(),
            "an open-file limit or environment variables need a process: use TestServer"
        );
        // Dropping the server is the end of a test, not a story about shutting down (those
        // send SIGTERM to a TestServer): a prompt still running is not given the grace.
        let settings = if has_key(&settings.server, "shutdown_grace_s") {
            settings
        } else {
            settings.set("server", "shutdown_grace_s = 0")
        };
        let mut home = Home::new(&settings);
        let config = Config::load(Some(&home.config)).expect("the test config loads");
        let listener = TcpListener::bind(config.server.bind).expect("bind the test port");
        let (stop, stopped) = oneshot::channel::<()>();
        let (started, url) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("relay-in-process".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = match Server::build(config, listener) {
                        Ok(server) => server,
                        Err(error) => {
                            let _ = started.send(Err(error.to_string()));
                            return;
                        }
                    };
                    let _ = started.send(Ok(server.url().to_string()));
                    // A dropped sender (the test panicked) stops the server all the same.
                    let shutdown = async {
                        let _ = stopped.await;
                    };
                    if let Err(error) = server.run(shutdown).await {
                        eprintln!("the in-process server failed: {error}");
                    }
                });
            })
            .expect("start the server's thread");
        home.url = match url.recv_timeout(PATIENCE) {
            Ok(Ok(url)) => url,
            Ok(Err(error)) => panic!("the server did not start: {error}"),
            Err(_) => panic!("the server did not start in time"),
        };
        InProcessServer {
            home,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Shuts the server down gracefully (protocol §6) and waits until it has stopped.
    pub fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() && !std::thread::panicking() {
                panic!("the in-process server panicked");
            }
        }
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        self.stop();
    }
}
