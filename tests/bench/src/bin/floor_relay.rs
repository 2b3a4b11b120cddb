//! `floor-relay`: the least any relay has to do to fan events out over WebSocket, run by
//! `pocket-relay-bench floor` to show what the machine itself allows.
//!
//! It is not a relay: it stores nothing, starts no process and parses no agent output. It makes
//! up the events itself, encodes each once and writes it to every subscriber's socket from one
//! task per connection on a tokio runtime with a worker per core, which is the part of fan-out
//! that no relay can skip. What the bench's clients measure against it is a floor under the
//! latency of `pocket-relay-bench fanout` on the same machine with the same clients.
//!
//! Usage: `floor-relay SESSIONS CLIENTS RATE COUNT BUFFER [--aligned] [--agents PATH]`. It prints
//! `listening on ADDR` and serves just enough of protocol v1 for the bench's clients: `hello`
//! gets a `welcome`, and `session.subscribe` of `floor-K` (K < SESSIONS, zero-padded to the 36
//! characters of a real session id) gets a response with `last_seq` 0. Once SESSIONS × CLIENTS
//! subscriptions are in, every session sends COUNT `agent.output` events at RATE a second, paced
//! against its start, then a `prompt.completed`. Each event carries `sent_ns` (nanoseconds since
//! the UNIX epoch when it was encoded) and is the size of the relay's frame for a load-claude
//! line. Session K starts K/SESSIONS of a period late, as independent sessions would; with
//! `--aligned` all start at once. A client's queue holds BUFFER frames; what does not fit is lost
//! (the clients count it). With `--agents PATH`, each session instead starts PATH (`load-claude`)
//! once everyone is subscribed, sends it the prompt `load COUNT RATE` in stream-json, and forwards
//! each `assistant` line it writes as an `agent.output` frame, without parsing it, until its
//! `result` line; the agents live until floor-relay dies, and die with it. After its
//! `prompt.completed` a session's connections are closed (code 1000, written after everything
//! queued). It runs until it is killed.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

#[path = "../parent_death.rs"]
mod parent_death;

/// What the command line asks for.
#[derive(Clone)]
struct Load {
    sessions: usize,
    clients: usize,
    rate: f64,
    count: u64,
    /// Frames queued for one client at most (the relay's `limits.client_buffer`).
    buffer: usize,
    /// Every session's events at the same moments, rather than spread over the period.
    aligned: bool,
    /// The agents' events come from this program, one process per session, as the relay's do.
    agents: Option<PathBuf>,
}

/// The subscribers of every session, and the signal that all of them are in.
struct Hub {
    load: Load,
    sessions: Vec<Mutex<Vec<mpsc::Sender<Bytes>>>>,
    subscribed: AtomicUsize,
    all_in: watch::Sender<bool>,
}

#[tokio::main]
async fn main() {
    let load = match parse_args() {
        Some(load) => load,
        None => {
            eprintln!(
                "usage: floor-relay SESSIONS CLIENTS RATE COUNT BUFFER [--aligned] [--agents PATH]"
            );
            std::process::exit(2);
        }
    };
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("floor-relay: cannot listen: {error}");
            std::process::exit(1);
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on {addr}"),
        Err(error) => {
            eprintln!("floor-relay: {error}");
            std::process::exit(1);
        }
    }
    let (all_in, start) = watch::channel(false);
    let hub = Arc::new(Hub {
        sessions: (0..load.sessions).map(|_| Mutex::new(Vec::new())).collect(),
        load,
        subscribed: AtomicUsize::new(0),
        all_in,
    });
    for session in 0..hub.load.sessions {
        match &hub.load.agents {
            Some(program) => tokio::spawn(forward_agent(
                hub.clone(),
                session,
                start.clone(),
                program.clone(),
            )),
            None => tokio::spawn(produce(hub.clone(), session, start.clone())),
        };
    }
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(hub.clone(), stream));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

fn parse_args() -> Option<Load> {
    let mut args = std::env::args().skip(1);
    let (mut aligned, mut agents, mut numbers) = (false, None, Vec::new());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--aligned" => aligned = true,
            "--agents" => agents = Some(PathBuf::from(args.next()?)),
            _ => numbers.push(arg),
        }
    }
    let [sessions, clients, rate, count, buffer] = numbers.as_slice() else {
        return None;
    };
    Some(Load {
        sessions: sessions.parse().ok()?,
        clients: clients.parse().ok()?,
        rate: rate.parse().ok().filter(|r: &f64| *r > 0.0)?,
        count: count.parse().ok()?,
        buffer: buffer.parse().ok().filter(|b: &usize| *b > 0)?,
        aligned,
        agents,
    })
}

/// One client: answers `hello` and `session.subscribe`, then writes what its session sends.
async fn serve(hub: Arc<Hub>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (tx, mut rx) = mpsc::channel::<Bytes>(hub.load.buffer);
    let mut tx = Some(tx);
    while tx.is_some() {
        let text = match ws.next().await {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            _ => return,
        };
        let Ok(request) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let answer = match request["type"].as_str() {
            Some("hello") => json!({"type": "welcome", "protocol": 1}),
            Some("session.subscribe") => {
                let session = request["session_id"]
                    .as_str()
                    .and_then(|id| id.strip_prefix("floor-"))
                    .and_then(|k| k.parse::<usize>().ok())
                    .filter(|k| *k < hub.sessions.len());
                match session {
                    Some(k) => {
                        if let Some(sender) = tx.take() {
                            subscribe(&hub, k, sender);
                        }
                        json!({"type": "response", "id": request["id"], "ok": true,
                               "data": {"last_seq": 0}})
                    }
                    None => json!({"type": "response", "id": request["id"], "ok": false,
                                   "error": {"code": "not_found", "message": "no such session"}}),
                }
            }
            _ => continue,
        };
        if ws.send(Message::text(answer.to_string())).await.is_err() {
            return;
        }
    }
    // Subscribed: from here on only pre-encoded frames go out, written straight to the socket
    // (tungstenite has nothing pending after the answer's flush), whatever is queued in one
    // write as the relay's writer does. What the client sends is never read again.
    let socket = ws.get_mut();
    let mut batch = BytesMut::new();
    while let Some(frame) = rx.recv().await {
        batch.extend_from_slice(&frame);
        while let Ok(frame) = rx.try_recv() {
            batch.extend_from_slice(&frame);
        }
        if socket.write_all(&batch).await.is_err() {
            return;
        }
        batch.clear();
    }
    // The session's load is over: close as the relay answers a client's close, so the client is
    // done when it has read everything rather than after its close times out.
    let _ = ws.close(None).await;
}

fn subscribe(hub: &Hub, session: usize, sender: mpsc::Sender<Bytes>) {
    hub.sessions[session]
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(sender);
    let total = hub.subscribed.fetch_add(1, Ordering::SeqCst) + 1;
    if total == hub.load.sessions * hub.load.clients {
        let _ = hub.all_in.send(true);
    }
}

/// One session's events, once everyone is subscribed.
async fn produce(hub: Arc<Hub>, session: usize, mut start: watch::Receiver<bool>) {
    if start.wait_for(|go| *go).await.is_err() {
        return;
    }
    // Independent sessions tick at independent moments: session K starts K/SESSIONS of a period
    // late, unless all are to start together.
    let phase = if hub.load.aligned {
        0.0
    } else {
        session as f64 / hub.load.sessions as f64 / hub.load.rate
    };
    let started = tokio::time::Instant::now() + Duration::from_secs_f64(phase);
    let every = Duration::from_secs_f64(1.0 / hub.load.rate);
    for seq in 1..=hub.load.count {
        tokio::time::sleep_until(started + every.mul_f64((seq - 1) as f64)).await;
        // The shape and size of the relay's `agent.output` frame for a load-claude line.
        let data = format!(
            r#"{{"message":{{"type":"assistant","message":{{"type":"message","role":"assistant","model":"load","content":[{{"type":"text","text":"line {seq}"}}]}},"session_id":"floor-{session:030}","sent_ns":{}}}}}"#,
            now_ns()
        );
        send(&hub, session, seq, "agent.output", &data);
    }
    finish(&hub, session, hub.load.count + 1);
}

/// One session's events from its own agent process (`load-claude`), once everyone is subscribed:
/// what a relay that runs its agents as processes cannot skip. Each `assistant` line is put
/// into an `agent.output` frame as it is, without parsing it; the `result` line ends the load.
async fn forward_agent(
    hub: Arc<Hub>,
    session: usize,
    mut start: watch::Receiver<bool>,
    program: PathBuf,
) {
    if start.wait_for(|go| *go).await.is_err() {
        return;
    }
    let mut command = Command::new(&program);
    // Killed with floor-relay, as the bench kills it when the run ends.
    parent_death::die_with_parent(command.as_std_mut());
    let spawned = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut agent = match spawned {
        Ok(agent) => agent,
        Err(error) => {
            eprintln!("floor-relay: cannot start {}: {error}", program.display());
            return;
        }
    };
    let (Some(mut stdin), Some(stdout)) = (agent.stdin.take(), agent.stdout.take()) else {
        return;
    };
    let prompt = json!({"type": "user", "message": {"role": "user",
        "content": format!("load {} {}", hub.load.count, hub.load.rate)}});
    if stdin
        .write_all(format!("{prompt}\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let mut lines = BufReader::new(stdout).lines();
    let mut seq = 0;
    while let Ok(Some(line)) = lines.next_line().await {
        if line.starts_with(r#"{"type":"assistant""#) {
            seq += 1;
            let data = format!(r#"{{"message":{line}}}"#);
            send(&hub, session, seq, "agent.output", &data);
        } else if line.contains(r#""type":"result""#) {
            break;
        }
    }
    finish(&hub, session, seq + 1);
    // The agent stays alive, as a relay keeps a session's agent, until floor-relay is killed:
    // the bench reads the CPU of floor-relay's live children.
    let _keep = (agent, stdin);
    std::future::pending::<()>().await;
}

/// Ends a session's load: its `prompt.completed` with `seq`, then its subscribers' connections.
fn finish(hub: &Hub, session: usize, seq: u64) {
    send(
        hub,
        session,
        seq,
        "prompt.completed",
        r#"{"prompt_id":"floor"}"#,
    );
    // Dropping the senders ends each subscriber's writer once it has written what is queued.
    hub.sessions[session]
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

/// Puts `data` (JSON) into event `seq` of `session`, encodes it as one unmasked WebSocket text
/// frame, once, and queues it for every subscriber of the session; a full queue loses it, as the
/// clients will count.
fn send(hub: &Hub, session: usize, seq: u64, kind: &str, data: &str) {
    let text = format!(
        r#"{{"type":"event","session_id":"floor-{session:030}","seq":{seq},"ts":"2026-11-24T00:00:00.000Z","kind":"{kind}","data":{data}}}"#
    );
    let mut encoded = Vec::with_capacity(text.len() + 10);
    // Formatting into memory cannot fail.
    let _ = Frame::message(text.into_bytes(), OpCode::Data(Data::Text), true).format(&mut encoded);
    let frame = Bytes::from(encoded);
    let subscribers = hub.sessions[session]
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for subscriber in subscribers.iter() {
        let _ = subscriber.try_send(frame.clone());
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
