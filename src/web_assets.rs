//! The phone app's files, embedded at build time (see `build.rs`): looking one up by URL path,
//! and choosing the encoding a request accepts. Knows nothing of HTTP frameworks.

/// One file of `web/dist/`, with the compressed copies that came out smaller than it.
#[derive(Debug)]
pub struct EmbeddedFile {
    /// The URL path, starting with `/` (`/index.html`, `/assets/app-1a2b3c4d.js`).
    pub path: &'static str,
    pub content_type: &'static str,
    /// Hex of the first 128 bits of the file's SHA-256: the base of its `ETag`s.
    pub hash: &'static str,
    pub identity: &'static [u8],
    pub gzip: Option<&'static [u8]>,
    pub brotli: Option<&'static [u8]>,
}

/// Every embedded file, sorted by `path`.
pub static FILES: &[EmbeddedFile] = include!(concat!(env!("OUT_DIR"), "/web_files.rs"));

/// How a response body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    /// The `Content-Encoding` value, if any.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Brotli => Some("br"),
            Encoding::Gzip => Some("gzip"),
            Encoding::Identity => None,
        }
    }
}

impl EmbeddedFile {
    /// The file at URL `path` (`/` is `/index.html`).
    pub fn find(path: &str) -> Option<&'static EmbeddedFile> {
        let path = if path == "/" { "/index.html" } else { path };
        FILES
            .binary_search_by(|file| file.path.cmp(path))
            .ok()
            .and_then(|at| FILES.get(at))
    }

    /// Whether the name carries a content hash (everything under `/assets/`): such a file never
    /// changes, so it may be cached for good.
    pub fn immutable(&self) -> bool {
        self.path.starts_with("/assets/")
    }

    /// The best copy for an `Accept-Encoding` value: brotli, then gzip, then the file itself.
    pub fn negotiate(&self, accept_encoding: Option<&str>) -> (Encoding, &'static [u8]) {
        let accepts = |name: &str| accept_encoding.is_some_and(|value| accepts(value, name));
        match (self.brotli, self.gzip) {
            (Some(bytes), _) if accepts("br") => (Encoding::Brotli, bytes),
            (_, Some(bytes)) if accepts("gzip") => (Encoding::Gzip, bytes),
            _ => (Encoding::Identity, self.identity),
        }
    }

    /// The strong `ETag` of the copy in `encoding`: the content hash, with the encoding named, since
    /// each copy is a different representation.
    pub fn etag(&self, encoding: Encoding) -> String {
        match encoding.header() {
            Some(name) => format!("\"{}-{name}\"", self.hash),
            None => format!("\"{}\"", self.hash),
        }
    }
}

/// Whether an `Accept-Encoding` value accepts `name` (by name or `*`) with a q-value above 0.
fn accepts(value: &str, name: &str) -> bool {
    let mut by_name = None;
    let mut by_star = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let token = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if token.eq_ignore_ascii_case(name) || (name == "gzip" && token == "x-gzip") {
            by_name = Some(q > 0.0);
        } else if token == "*" {
            by_star = Some(q > 0.0);
        }
    }
    by_name.or(by_star).unwrap_or(false)
}

/// Whether an `If-None-Match` value names `etag` (weak comparison, `*` matches anything).
pub fn none_match(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_read_with_q_values() {
        assert!(accepts("gzip, deflate, br", "br"));
        assert!(accepts("gzip;q=0.5, br;q=1.0", "gzip"));
        assert!(!accepts("gzip, br;q=0", "br"));
        assert!(accepts("*", "br"));
        assert!(!accepts("*, br;q=0", "br"));
        assert!(!accepts("identity", "gzip"));
        assert!(accepts("x-gzip", "gzip"));
    }

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        assert!(none_match("\"a\", W/\"b\"", "\"b\""));
        assert!(none_match("*", "\"x\""));
        assert!(!none_match("\"a-br\"", "\"a\""));
    }

    #[test]
    fn the_table_is_sorted_and_has_the_app() {
        assert!(FILES.windows(2).all(|pair| pair[0].path < pair[1].path));
        let index = EmbeddedFile::find("/").expect("index.html is embedded");
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert!(EmbeddedFile::find("/nope").is_none());
    }
}
