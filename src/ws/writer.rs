//! The writer half of a WebSocket connection: drains the connection's bounded outbound queue into
//! the socket, sends pings and the closing frame. It is the only code that writes to the socket.
//! When the client lags so far that the queue overflows, it closes with 4008.

use std::sync::Arc;
use std::time::Duration;

use actix_ws::{CloseCode, CloseReason, Session as WsSession};
use actors::client::Outbound;
use actors::metrics::RelayMetrics;
use bytestring::ByteString;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Close code 4008: the client did not read fast enough.
pub const SLOW_CONSUMER: u16 = 4008;
/// How long a closing frame may wait for room before the connection is simply dropped.
const CLOSE_PATIENCE: Duration = Duration::from_secs(30);

/// What the connection actor asks of its writer besides data.
#[derive(Debug)]
pub enum Control {
    Ping,
    Pong(Vec<u8>),
    /// Send `last` (an error frame) if given, then close with this code and reason.
    Close {
        last: Option<ByteString>,
        code: u16,
        reason: String,
    },
}

/// Runs until the connection closes; returns when the socket is done with.
pub async fn run(
    mut socket: WsSession,
    mut outbound: mpsc::Receiver<Outbound>,
    mut control: mpsc::UnboundedReceiver<Control>,
    overflow: CancellationToken,
    metrics: Arc<RelayMetrics>,
) {
    let close = loop {
        let item = tokio::select! {
            biased;
            _ = overflow.cancelled() => break (SLOW_CONSUMER, "slow consumer".to_string()),
            control = control.recv() => match control {
                Some(Control::Ping) => {
                    if socket.ping(b"").await.is_err() { return; }
                    continue;
                }
                Some(Control::Pong(bytes)) => {
                    if socket.pong(&bytes).await.is_err() { return; }
                    continue;
                }
                Some(Control::Close { last, code, reason }) => {
                    if let Some(last) = last {
                        let _ = tokio::time::timeout(CLOSE_PATIENCE, socket.text(last)).await;
                    }
                    break (code, reason);
                }
                None => return,
            },
            item = outbound.recv() => match item {
                Some(item) => item,
                None => return,
            },
        };
        let mut committed = None;
        let text = match item {
            Outbound::Event(event) => {
                committed = event.committed_at.get().copied();
                event.frame.clone()
            }
            Outbound::Delta(delta) => delta.frame.clone(),
            Outbound::Frame(frame) => frame,
        };
        // A client that stops reading blocks this send; the overflow still cuts it off.
        tokio::select! {
            sent = socket.text(text) => {
                if sent.is_err() {
                    return;
                }
                if let Some(committed) = committed {
                    metrics.fanout_seconds.observe(committed.elapsed().as_secs_f64());
                }
            }
            _ = overflow.cancelled() => break (SLOW_CONSUMER, "slow consumer".to_string()),
        }
    };
    let reason = CloseReason {
        code: CloseCode::from(close.0),
        description: Some(close.1),
    };
    let _ = tokio::time::timeout(CLOSE_PATIENCE, socket.close(Some(reason))).await;
}
