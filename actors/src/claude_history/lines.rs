//! Reading a transcript line by line with bounded memory: a line longer than [`MAX_LINE`] is read
//! through and dropped (never held whole), and a last line without its newline (the CLI may be
//! writing it right now) is reported as incomplete so an incremental reader can come back to it.

use std::io::{BufRead, ErrorKind};

/// The longest line kept; longer ones (a pasted image, a huge tool result) are skipped.
pub const MAX_LINE: usize = 8 * 1024 * 1024;

/// One line of a transcript.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line (without its newline).
    Whole(Vec<u8>),
    /// A line longer than [`MAX_LINE`], skipped.
    Oversized,
    /// Bytes at the end of the file with no newline yet.
    Incomplete,
}

/// Reads transcript lines from `reader`, counting the bytes of complete lines.
pub struct LineReader<R> {
    reader: R,
    /// Bytes of the complete lines read so far.
    pub consumed: u64,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(reader: R) -> Self {
        LineReader {
            reader,
            consumed: 0,
        }
    }

    /// The next line, or `None` at the end of the file (or on a read error, which ends the
    /// reading like an end of file would: the files are not ours to fix).
    pub fn next_line(&mut self) -> Option<Line> {
        let mut kept = Vec::new();
        let mut length: u64 = 0;
        let mut oversized = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => {
                    log::debug!("claude history: read failed: {error}");
                    return None;
                }
            };
            if available.is_empty() {
                return (length > 0).then_some(Line::Incomplete);
            }
            let (chunk, ends) = match available.iter().position(|b| *b == b'\n') {
                Some(at) => (&available[..at], true),
                None => (available, false),
            };
            if !oversized {
                if kept.len() + chunk.len() > MAX_LINE {
                    oversized = true;
                    kept = Vec::new();
                } else {
                    kept.extend_from_slice(chunk);
                }
            }
            let used = chunk.len() + usize::from(ends);
            length += used as u64;
            self.reader.consume(used);
            if ends {
                self.consumed += length;
                return Some(if oversized {
                    Line::Oversized
                } else {
                    Line::Whole(kept)
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_then_an_incomplete_one() {
        let mut lines = LineReader::new(&b"{\"a\":1}\n\nxyz"[..]);
        assert_eq!(lines.next_line(), Some(Line::Whole(b"{\"a\":1}".to_vec())));
        assert_eq!(lines.next_line(), Some(Line::Whole(Vec::new())));
        assert_eq!(lines.consumed, 9);
        assert_eq!(lines.next_line(), Some(Line::Incomplete));
        assert_eq!(lines.next_line(), None);
        assert_eq!(lines.consumed, 9, "the incomplete line is not counted");
    }

    #[test]
    fn an_oversized_line_is_skipped_without_being_kept() {
        let mut text = vec![b'x'; MAX_LINE + 10];
        text.extend_from_slice(b"\nok\n");
        let reader = std::io::BufReader::with_capacity(4096, &text[..]);
        let mut lines = LineReader::new(reader);
        assert_eq!(lines.next_line(), Some(Line::Oversized));
        assert_eq!(lines.next_line(), Some(Line::Whole(b"ok".to_vec())));
        assert_eq!(lines.consumed, text.len() as u64);
    }
}
