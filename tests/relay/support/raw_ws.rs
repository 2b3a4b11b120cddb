//! A WebSocket spoken byte by byte over a plain TCP socket, for what a WebSocket library will not
//! do: never answer pings, fragment a message, send text that is not UTF-8, pipeline the first
//! frame behind the upgrade request.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::PATIENCE;

pub const TEXT: u8 = 0x1;
pub const CONTINUATION: u8 = 0x0;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// The upgrade request for `/ws` on `host`, with `extra` header lines (each ending in `\r\n`).
pub fn upgrade_request(host: &str, path: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// A masked client frame.
pub fn client_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= u16::MAX as usize => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A masked, final client text frame.
pub fn client_text(text: &str) -> Vec<u8> {
    client_frame(TEXT, true, text.as_bytes())
}

/// The frames the server sent, as (opcode, payload); an incomplete last frame is left out.
pub fn parse_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 0x0f;
        let (len, header) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 if bytes.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&bytes[2..10]);
                (u64::from_be_bytes(n) as usize, 10)
            }
            n if n < 126 => (n as usize, 2),
            _ => break,
        };
        if bytes.len() < header + len {
            break;
        }
        frames.push((opcode, bytes[header..header + len].to_vec()));
        bytes = &bytes[header + len..];
    }
    frames
}

/// A raw connection to the server and everything it has sent so far.
pub struct RawSocket {
    pub socket: TcpStream,
    pub received: Vec<u8>,
}

impl RawSocket {
    /// Connects to `host` and writes `bytes` in one write.
    pub async fn open(host: &str, bytes: &[u8]) -> RawSocket {
        RawSocket::open_with_receive_buffer(host, bytes, None).await
    }

    /// [`RawSocket::open`] with `SO_RCVBUF` set, for a client that fills up like a phone on a
    /// bad link.
    pub async fn open_with_receive_buffer(
        host: &str,
        bytes: &[u8],
        receive_buffer: Option<u32>,
    ) -> RawSocket {
        let addr = tokio::net::lookup_host(host)
            .await
            .expect("resolve")
            .next()
            .expect("an address");
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        if let Some(size) = receive_buffer {
            socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
        }
        let mut socket = socket.connect(addr).await.expect("connect");
        socket.write_all(bytes).await.expect("write");
        RawSocket {
            socket,
            received: Vec::new(),
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        self.socket.write_all(bytes).await.expect("write");
    }

    /// Writes `bytes`; false when the server has hung up (or takes nothing for [`PATIENCE`]).
    pub async fn try_write(&mut self, bytes: &[u8]) -> bool {
        matches!(
            tokio::time::timeout(PATIENCE, self.socket.write_all(bytes)).await,
            Ok(Ok(()))
        )
    }

    /// The HTTP head the server answered with, once it has arrived.
    pub async fn head(&mut self) -> String {
        self.read_until(|raw| raw.header_end().is_some()).await;
        let end = self.header_end().expect("a head");
        String::from_utf8_lossy(&self.received[..end]).into_owned()
    }

    /// The frames after the HTTP head.
    pub fn frames(&self) -> Vec<(u8, Vec<u8>)> {
        match self.header_end() {
            Some(end) => parse_frames(&self.received[end..]),
            None => Vec::new(),
        }
    }

    /// Reads until `done` holds; fails the test if the server closes first or after [`PATIENCE`].
    pub async fn read_until(&mut self, done: impl Fn(&RawSocket) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut buf = [0u8; 8192];
        while !done(self) {
            let n = tokio::time::timeout_at(deadline, self.socket.read(&mut buf))
                .await
                .expect("the server should have answered in time")
                .unwrap_or(0);
            assert!(
                n > 0,
                "the server hung up early; it sent {:?}",
                String::from_utf8_lossy(&self.received)
            );
            self.received.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads everything until the server hangs up, which it must do cleanly (a reset would
    /// throw away what the client had not read yet).
    pub async fn read_to_end(&mut self) {
        self.read_to_end_within(PATIENCE).await;
    }

    /// [`RawSocket::read_to_end`], with the hang-up due within `wait`.
    pub async fn read_to_end_within(&mut self, wait: std::time::Duration) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(wait, self.socket.read_to_end(&mut rest))
            .await
            .expect("the server should hang up in time");
        self.received.extend_from_slice(&rest);
        if let Err(error) = read {
            panic!(
                "the connection ended with {error} after {} bytes",
                self.received.len()
            );
        }
    }

    /// The text frames received so far, as JSON.
    pub fn texts(&self) -> Vec<serde_json::Value> {
        self.frames()
            .into_iter()
            .filter(|(op, _)| *op == TEXT)
            .filter_map(|(_, payload)| serde_json::from_slice(&payload).ok())
            .collect()
    }

    /// The code of the close frame received, if any.
    pub fn close_code(&self) -> Option<u16> {
        self.frames()
            .into_iter()
            .find(|(op, _)| *op == CLOSE)
            .and_then(|(_, p)| (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]])))
    }

    fn header_end(&self) -> Option<usize> {
        self.received
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
    }
}
