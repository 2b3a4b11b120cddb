//! An HTTP/1.1 response followed as it arrives (SSE or NDJSON), line by line, over a real socket.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::PATIENCE;

/// A streaming response: its status, then its body's lines.
pub struct Streaming {
    reader: BufReader<TcpStream>,
    pub status: u16,
    chunked: bool,
    /// Decoded body bytes not yet returned as lines.
    body: Vec<u8>,
    done: bool,
}

impl Streaming {
    /// Sends `method path` with `headers` and `body`, and reads the status line and headers.
    pub async fn open(
        base: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Streaming {
        let host = base.trim_start_matches("http://");
        let mut socket = TcpStream::connect(host).await.expect("connect");
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        socket.write_all(&request).await.expect("send");
        let mut reader = BufReader::new(socket);
        let mut status = 0;
        let mut chunked = false;
        loop {
            let line = read_line(&mut reader).await.expect("the headers");
            if status == 0 {
                status = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
            } else if line.is_empty() {
                break;
            } else if line
                .to_ascii_lowercase()
                .starts_with("transfer-encoding: chunked")
            {
                chunked = true;
            }
        }
        Streaming {
            reader,
            status,
            chunked,
            body: Vec::new(),
            done: false,
        }
    }

    /// The next body line without its line break; `None` once the body has ended.
    pub async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.body.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.body.drain(..=end).collect();
                return Some(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            if self.done {
                return None;
            }
            self.fill().await;
        }
    }

    /// Reads one chunk (or, unchunked, whatever arrives).
    async fn fill(&mut self) {
        if !self.chunked {
            let mut buf = [0u8; 8192];
            let read = tokio::time::timeout(PATIENCE, self.reader.read(&mut buf))
                .await
                .expect("data in time")
                .unwrap_or(0);
            self.done = read == 0;
            self.body.extend_from_slice(&buf[..read]);
            return;
        }
        let size = read_line(&mut self.reader)
            .await
            .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok());
        match size {
            None | Some(0) => self.done = true,
            Some(size) => {
                let mut chunk = vec![0u8; size + 2];
                let read = tokio::time::timeout(PATIENCE, self.reader.read_exact(&mut chunk))
                    .await
                    .expect("a chunk in time");
                match read {
                    Ok(_) => self.body.extend_from_slice(&chunk[..size]),
                    Err(_) => self.done = true,
                }
            }
        }
    }
}

/// One CRLF-terminated line, without it; `None` at the end of the connection.
async fn read_line(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    let read = tokio::time::timeout(PATIENCE, reader.read_line(&mut line))
        .await
        .expect("a line in time")
        .ok()?;
    (read > 0).then(|| line.trim_end_matches(['\r', '\n']).to_string())
}
