//! The writing half of a WebSocket connection: drains the connection's bounded outbound queue into
//! the socket, sends pings, pongs and the closing frame. It is the only code that writes to the
//! socket. Whatever is queued when it wakes goes out in one write (up to [`BATCH_BYTES`]), so a
//! busy client costs one system call per batch rather than per event. When the client lags so
//! far that the queue overflows, it drops what is queued at once, finishes the write under way and
//! sends a close with 4008.

use std::sync::Arc;

use actix_codec::{AsyncWrite, Encoder};
use actix_http::ws::{CloseCode, CloseReason, Codec, Message};
use actors::client::Outbound;
use actors::metrics::RelayMetrics;
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::ending::Ending;

/// Close code 4008: the client did not read fast enough.
pub const SLOW_CONSUMER: u16 = 4008;
/// Pings, pongs and the closing waiting for the writer, at most.
pub const CONTROL_QUEUE: usize = 8;
/// How many bytes of queued frames one write takes at most.
const BATCH_BYTES: usize = 64 * 1024;

/// What the connection actor asks of its writer besides data.
#[derive(Debug)]
pub enum Control {
    Ping,
    /// Boxed, like `Close`, so that the channel's preallocated block stays small.
    Pong(Box<Bytes>),
    /// Send `last` (an error frame) if given, then close with this code and reason.
    Close(Box<Closing>),
}

/// How the writer finished, for the connection actor.
#[derive(Debug, PartialEq, Eq)]
pub enum WriterEnd {
    /// The closing frame went out, or the connection actor went away first.
    Closed,
    /// The client took nothing within the patience: the connection must be dropped now.
    Abandoned,
    /// A write failed: the client is gone.
    Broken,
}

/// How a connection ends.
#[derive(Debug)]
pub struct Closing {
    pub last: Option<ByteString>,
    pub code: u16,
    pub reason: &'static str,
}

/// Runs until the connection closes; returns when the socket is done with. The last write and
/// the closing frame wait at most the connection's patience for a lagging client (its silence
/// limit, 3 × `server.heartbeat_s`, or less: see [`Ending`]); then it answers [`WriterEnd::Abandoned`] and the connection
/// is dropped.
pub async fn run<W: AsyncWrite + Unpin>(
    mut io: W,
    mut outbound: mpsc::Receiver<Outbound>,
    mut control: mpsc::Receiver<Control>,
    overflow: CancellationToken,
    metrics: Arc<RelayMetrics>,
    ending: Ending,
) -> WriterEnd {
    let mut codec = Codec::new();
    let closing = loop {
        let mut batch = Batch::default();
        tokio::select! {
            biased;
            _ = overflow.cancelled() => {
                discard(&mut outbound);
                break slow_consumer();
            }
            control = control.recv() => match control {
                Some(Control::Ping) => batch.encode(&mut codec, Message::Ping(Bytes::new())),
                Some(Control::Pong(bytes)) => batch.encode(&mut codec, Message::Pong(*bytes)),
                Some(Control::Close(closing)) => break *closing,
                None => return WriterEnd::Closed,
            },
            item = outbound.recv() => match item {
                Some(item) => batch.push(&mut codec, item, &metrics),
                None => return WriterEnd::Closed,
            },
        }
        while batch.bytes.len() < BATCH_BYTES {
            match outbound.try_recv() {
                Ok(item) => batch.push(&mut codec, item, &metrics),
                Err(_) => break,
            }
        }
        let write = io.write_all(&batch.bytes);
        tokio::pin!(write);
        // A client that stops reading blocks this write; the overflow still cuts it off.
        let cut_off = tokio::select! {
            written = &mut write => match written {
                Ok(()) => false,
                Err(_) => return WriterEnd::Broken,
            },
            _ = overflow.cancelled() => true,
        };
        if cut_off {
            discard(&mut outbound);
            // The frame under way must be finished before a closing frame can follow it.
            match tokio::time::timeout(ending.patience(), write).await {
                Ok(Ok(())) => break slow_consumer(),
                Ok(Err(_)) => return WriterEnd::Broken,
                Err(_) => return abandoned(&metrics),
            }
        }
    };
    // What was queued before the close still goes out (answers, a welcome), unless the client
    // is being cut off for not reading it (its queue was dropped then).
    let mut last = Batch::default();
    if closing.code != SLOW_CONSUMER {
        while let Ok(item) = outbound.try_recv() {
            last.push(&mut codec, item, &metrics);
        }
    }
    if let Some(frame) = closing.last {
        last.encode(&mut codec, Message::Text(frame));
    }
    let reason = CloseReason {
        code: CloseCode::from(closing.code),
        description: Some(closing.reason.to_string()),
    };
    last.encode(&mut codec, Message::Close(Some(reason)));
    let sent = tokio::time::timeout(ending.patience(), async {
        io.write_all(&last.bytes).await?;
        io.shutdown().await
    })
    .await;
    match sent {
        Ok(Ok(())) => WriterEnd::Closed,
        Ok(Err(_)) => WriterEnd::Broken,
        Err(_) => abandoned(&metrics),
    }
}

/// Drops everything queued for a client cut off as a slow consumer, which will never be sent,
/// and refuses more: the queue (up to `limits.client_buffer` events, often their last holder) is
/// freed when the client is cut off, not when its last write finally finishes or times out.
fn discard(outbound: &mut mpsc::Receiver<Outbound>) {
    outbound.close();
    while outbound.try_recv().is_ok() {}
}

fn abandoned(metrics: &RelayMetrics) -> WriterEnd {
    metrics.abandoned_connections.inc();
    WriterEnd::Abandoned
}

fn slow_consumer() -> Closing {
    Closing {
        last: None,
        code: SLOW_CONSUMER,
        reason: "slow consumer",
    }
}

/// Frames encoded for one write.
#[derive(Default)]
struct Batch {
    bytes: BytesMut,
}

impl Batch {
    /// Encodes `item`; an event's time from commit to here is its fan-out time.
    fn push(&mut self, codec: &mut Codec, item: Outbound, metrics: &RelayMetrics) {
        let text = match item {
            Outbound::Event(event) => {
                if let Some(committed) = event.committed_at.get() {
                    metrics
                        .fanout_seconds
                        .observe(committed.elapsed().as_secs_f64());
                }
                let frame = event.wire.get_or_init(|| super::frames::event(&event.json));
                frame.clone()
            }
            Outbound::Delta(delta) => delta.json.clone(),
            Outbound::Inbox(change) => change.json.clone(),
            Outbound::Answer(frame) => *frame,
        };
        self.encode(codec, Message::Text(text));
    }

    fn encode(&mut self, codec: &mut Codec, message: Message) {
        // Encoding a text, ping or pong frame into memory cannot fail.
        let _ = codec.encode(message, &mut self.bytes);
    }
}
