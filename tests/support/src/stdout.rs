//! A child's first stdout line (the server's `listening on …`, a fake's port), read on a thread
//! so that a silent child cannot hang the caller.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ChildStdout;
use std::sync::mpsc;
use std::time::Duration;

/// The first line of `stdout` within `patience`. A thread keeps draining the pipe afterwards
/// so the child never blocks on a full one, appending every later line to the file `rest` when
/// given (what a test reads back as the server's stdout).
pub fn first_line(
    stdout: ChildStdout,
    patience: Duration,
    rest: Option<PathBuf>,
) -> Option<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        let mut file = rest.and_then(|path| std::fs::File::create(path).ok());
        for line in lines {
            match (line, file.as_mut()) {
                (Ok(line), Some(file)) => {
                    let _ = writeln!(file, "{line}");
                }
                (Ok(_), None) => {}
                // A line that is not UTF-8 is skipped; any other error ends the pipe.
                (Err(error), _) if error.kind() == std::io::ErrorKind::InvalidData => {}
                (Err(_), _) => break,
            }
        }
    });
    rx.recv_timeout(patience).ok()
}
