//! The reading half of a WebSocket connection: whole messages decoded from the socket.
//!
//! Reads go through a buffer on the stack, so an idle connection holds no read buffer at all;
//! bytes are kept only while a frame is incomplete. Fragmented messages are put together here,
//! with the same size limit as single frames, and text is checked to be UTF-8.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_codec::{AsyncRead, Decoder, ReadBuf};
use actix_http::ws::{Codec, Frame, Item, ProtocolError};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use futures_util::Stream;

use super::ending::Ending;
use super::frame_limit::FrameLimit;

/// How much one read takes from the socket.
const READ_CHUNK: usize = 8 * 1024;

/// One complete message from the client.
#[derive(Debug)]
pub enum Inbound {
    Text(ByteString),
    Binary,
    Ping(Bytes),
    Pong,
    Close,
}

/// Why the stream of messages ended in error.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// A frame or a fragmented message over the limit.
    #[error("message too large")]
    TooLarge,
    /// A text message that is not UTF-8.
    #[error("text that is not UTF-8")]
    NotUtf8,
    /// Anything else RFC 6455 forbids, or the socket failed.
    #[error("{0}")]
    Protocol(ProtocolError),
}

impl From<ProtocolError> for InboundError {
    fn from(error: ProtocolError) -> Self {
        match error {
            ProtocolError::Overflow => InboundError::TooLarge,
            other => InboundError::Protocol(other),
        }
    }
}

/// A fragmented message being put together.
struct Fragments {
    text: bool,
    bytes: BytesMut,
}

/// The messages a client sends, read from `io`.
pub struct InboundFrames<R> {
    io: R,
    /// Bytes read but not yet decoded (an incomplete frame).
    buf: BytesMut,
    codec: Codec,
    fragments: Option<Fragments>,
    /// The largest message accepted now (small until the handshake is done).
    limit: FrameLimit,
    /// After an error nothing more is decoded; what the client still sends is read and
    /// dropped until it closes, so that closing the socket does not reset it.
    failed: bool,
    done: bool,
    /// Once the connection is closing, what arrives is read and dropped.
    ending: Ending,
}

impl<R> InboundFrames<R> {
    /// Messages from `io`, starting with `already_read`; frames and messages over what `limit`
    /// allows at the time end the stream with [`InboundError::TooLarge`].
    pub fn new(io: R, already_read: BytesMut, limit: FrameLimit, ending: Ending) -> Self {
        InboundFrames {
            io,
            buf: already_read,
            codec: Codec::new().max_size(limit.full()),
            fragments: None,
            limit,
            failed: false,
            done: false,
            ending,
        }
    }

    /// Stops decoding for good and lets go of everything buffered.
    fn stop_decoding(&mut self) {
        self.failed = true;
        self.buf = BytesMut::new();
        self.fragments = None;
    }

    /// A frame whose header declares more than the limit (alone, or with the fragments before
    /// it) is refused as soon as its header is in, before its payload is buffered.
    fn announces_too_much(&self) -> bool {
        let Some(declared) = declared_length(&self.buf) else {
            return false;
        };
        let continuation = self.buf.first().is_some_and(|b| b & 0x0F == 0);
        let open = match &self.fragments {
            Some(fragments) if continuation => fragments.bytes.len() as u64,
            _ => 0,
        };
        declared.saturating_add(open) > self.limit.get() as u64
    }

    /// A whole message when `frame` completes one.
    fn assemble(&mut self, frame: Frame) -> Result<Option<Inbound>, InboundError> {
        match frame {
            Frame::Text(bytes) => {
                self.no_fragments_open()?;
                text(bytes).map(Some)
            }
            Frame::Binary(_) => {
                self.no_fragments_open()?;
                Ok(Some(Inbound::Binary))
            }
            Frame::Ping(bytes) => Ok(Some(Inbound::Ping(bytes))),
            Frame::Pong(_) => Ok(Some(Inbound::Pong)),
            Frame::Close(_) => Ok(Some(Inbound::Close)),
            Frame::Continuation(Item::FirstText(bytes)) => self.open(true, bytes),
            Frame::Continuation(Item::FirstBinary(bytes)) => self.open(false, bytes),
            Frame::Continuation(Item::Continue(bytes)) => {
                self.append(&bytes)?;
                Ok(None)
            }
            Frame::Continuation(Item::Last(bytes)) => {
                self.append(&bytes)?;
                let Some(done) = self.fragments.take() else {
                    return Err(ProtocolError::ContinuationNotStarted.into());
                };
                if done.text {
                    text(done.bytes.freeze()).map(Some)
                } else {
                    Ok(Some(Inbound::Binary))
                }
            }
        }
    }

    fn no_fragments_open(&self) -> Result<(), InboundError> {
        match self.fragments {
            Some(_) => Err(ProtocolError::ContinuationStarted.into()),
            None => Ok(()),
        }
    }

    fn open(&mut self, text: bool, first: Bytes) -> Result<Option<Inbound>, InboundError> {
        self.no_fragments_open()?;
        self.fragments = Some(Fragments {
            text,
            bytes: BytesMut::from(&first[..]),
        });
        Ok(None)
    }

    fn append(&mut self, more: &[u8]) -> Result<(), InboundError> {
        let Some(open) = self.fragments.as_mut() else {
            return Err(ProtocolError::ContinuationNotStarted.into());
        };
        if open.bytes.len() + more.len() > self.limit.get() {
            return Err(InboundError::TooLarge);
        }
        open.bytes.extend_from_slice(more);
        Ok(())
    }
}

impl<R> InboundFrames<R> {
    /// The next whole message in what was read, or an error (after which nothing more is
    /// decoded); `None` when more bytes are needed.
    fn decode_one(&mut self) -> Option<Result<Inbound, InboundError>> {
        loop {
            if self.announces_too_much() {
                self.stop_decoding();
                return Some(Err(InboundError::TooLarge));
            }
            let decoded = self.codec.decode(&mut self.buf);
            if self.buf.is_empty() && self.buf.capacity() > 0 {
                // Nothing pending: hold no memory while the client is quiet.
                self.buf = BytesMut::new();
            }
            let result = match decoded {
                Ok(Some(frame)) => match self.assemble(frame) {
                    Ok(Some(message)) => Ok(message),
                    Ok(None) => continue,
                    Err(error) => Err(error),
                },
                Ok(None) => return None,
                Err(error) => Err(error.into()),
            };
            if result.is_err() {
                self.stop_decoding();
            }
            return Some(result);
        }
    }
}

/// The payload length declared by the frame header at the start of `buf`, once the header's
/// length field has arrived (RFC 6455 §5.2).
fn declared_length(buf: &[u8]) -> Option<u64> {
    let second = *buf.get(1)?;
    match second & 0x7F {
        126 => Some(u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]))),
        127 => {
            let bytes: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
            Some(u64::from_be_bytes(bytes))
        }
        short => Some(u64::from(short)),
    }
}

fn text(bytes: Bytes) -> Result<Inbound, InboundError> {
    ByteString::try_from(bytes)
        .map(Inbound::Text)
        .map_err(|_| InboundError::NotUtf8)
}

impl<R: AsyncRead + Unpin> Stream for InboundFrames<R> {
    type Item = Result<Inbound, InboundError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if this.ending.is_closing() && !this.failed {
                this.stop_decoding();
            }
            if !this.failed {
                if let Some(item) = this.decode_one() {
                    return Poll::Ready(Some(item));
                }
            }
            let mut chunk = [0u8; READ_CHUNK];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.io).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => {
                    this.done = true;
                    if this.failed {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Err(ProtocolError::Io(error).into())));
                }
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(())) if this.failed => {}
                Poll::Ready(Ok(())) => this.buf.extend_from_slice(read.filled()),
            }
        }
    }
}

#[cfg(test)]
mod tests;
