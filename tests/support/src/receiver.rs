//! A local HTTP endpoint that records every request it gets and answers as scripted: the fake
//! push service, ntfy server and webhook receiver of the notification tests and the bench. It
//! speaks just enough HTTP/1.1 (Content-Length bodies, keep-alive) for the relay's client; a
//! request answered [`Reply::Hang`] gets no answer while the receiver lives.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How a request is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    /// No answer at all, ever (the connection stays open).
    Hang,
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// The request target (path and query).
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// When its last byte arrived.
    pub at: Instant,
    /// The same, as wall-clock nanoseconds since the UNIX epoch (to compare with the server's
    /// timestamps).
    pub at_ns: u64,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[derive(Default)]
struct Script {
    /// Answers per path prefix, used up in order; then `fallback`.
    queued: Vec<(String, VecDeque<Reply>)>,
    /// Answers per path prefix once the queued ones are used up.
    always: Vec<(String, Reply)>,
}

impl Script {
    fn reply_for(&mut self, path: &str) -> Reply {
        for (prefix, replies) in &mut self.queued {
            if path.starts_with(prefix.as_str()) {
                if let Some(reply) = replies.pop_front() {
                    return reply;
                }
            }
        }
        self.always
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map_or(Reply::Status(201), |(_, reply)| *reply)
    }
}

/// A running receiver on 127.0.0.1; stops (closing every connection) when dropped.
pub struct Receiver {
    /// `http://127.0.0.1:port`.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    count: watch::Receiver<usize>,
    script: Arc<Mutex<Script>>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Starts a receiver that answers 201 to everything until scripted otherwise.
    pub async fn start() -> std::io::Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let received = Arc::new(Mutex::new(Vec::new()));
        let (counter, count) = watch::channel(0usize);
        let script = Arc::new(Mutex::new(Script::default()));
        let (rec, scr) = (received.clone(), script.clone());
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            let counter = Arc::new(counter);
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                connections.spawn(serve(stream, rec.clone(), scr.clone(), counter.clone()));
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Receiver {
            url,
            received,
            count,
            script,
            task,
        })
    }

    /// Requests to paths starting with `prefix` get `replies` in order, then what they got before.
    pub fn queue(&self, prefix: &str, replies: &[Reply]) {
        lock(&self.script)
            .queued
            .push((prefix.to_string(), replies.iter().copied().collect()));
    }

    /// Requests to paths starting with `prefix` get `reply` (after any queued ones).
    pub fn always(&self, prefix: &str, reply: Reply) {
        lock(&self.script).always.push((prefix.to_string(), reply));
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.received).clone()
    }

    /// The requests so far to paths starting with `prefix`.
    pub fn received_at(&self, prefix: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect()
    }

    /// Waits (at most `patience`) until `check` holds of the requests so far; answers them, or
    /// `None` when it never did.
    pub async fn wait_until(
        &self,
        patience: Duration,
        check: impl Fn(&[Received]) -> bool,
    ) -> Option<Vec<Received>> {
        let mut count = self.count.clone();
        let waited = tokio::time::timeout(patience, async {
            loop {
                {
                    let received = lock(&self.received);
                    if check(&received) {
                        return received.clone();
                    }
                }
                if count.changed().await.is_err() {
                    return lock(&self.received).clone();
                }
            }
        })
        .await;
        waited.ok().filter(|received| check(received))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Serves the requests of one connection until it closes or a request hangs.
async fn serve(
    mut stream: TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
    counter: Arc<watch::Sender<usize>>,
) {
    let mut buf = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        let reply = lock(&script).reply_for(&request.path);
        {
            let mut all = lock(&received);
            all.push(request);
            counter.send_replace(all.len());
        }
        match reply {
            Reply::Status(status) => {
                let head = format!("HTTP/1.1 {status} Scripted\r\nContent-Length: 0\r\n\r\n");
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
            }
            Reply::Hang => {
                // Hold the connection, answering nothing, until the receiver stops.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Reads one request (head and Content-Length body); `None` at the end of the connection.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Received> {
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..head_end + length].to_vec();
    buf.drain(..head_end + length);
    Some(Received {
        method,
        path,
        headers,
        body,
        at: Instant::now(),
        at_ns: crate::ws::now_ns(),
    })
}
