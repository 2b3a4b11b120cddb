//! The phone app at `/`: embedded at build time, served with the encoding the browser accepts,
//! cached by content hash, under the app's CSP, and loadable without a token.

use std::io::Read;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::home::Settings;
use crate::support::http::{get, parse_response, request, Response};
use crate::support::in_process::InProcessServer;
use crate::support::operator::issue;
use crate::support::PATIENCE;

const APP_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; manifest-src 'self'; worker-src 'self'; \
base-uri 'none'; frame-ancestors 'none'; form-action 'self'; object-src 'none'";

async fn get_with(server: &InProcessServer, path: &str, headers: &[(&str, &str)]) -> Response {
    request(&server.url, "GET", path, headers, None).await
}

/// The first `/assets/….js` file that `index.html` names (the app's script).
fn first_asset(index: &str) -> String {
    let start = index
        .match_indices("/assets/")
        .map(|(at, _)| at)
        .find(|at| {
            index[*at..]
                .split(['"', '\''])
                .next()
                .is_some_and(|p| p.ends_with(".js"))
        })
        .expect("index.html names a script asset");
    let end = index[start..]
        .find(['"', '\''])
        .map(|n| start + n)
        .expect("a quoted asset path");
    index[start..end].to_string()
}

fn decode(response: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    match response.header("content-encoding") {
        Some("br") => brotli::Decompressor::new(response.raw.as_slice(), 4096)
            .read_to_end(&mut out)
            .expect("brotli decodes"),
        Some("gzip") => flate2::read::GzDecoder::new(response.raw.as_slice())
            .read_to_end(&mut out)
            .expect("gzip decodes"),
        None => return response.raw.clone(),
        Some(other) => panic!("unexpected encoding {other}"),
    };
    out
}

fn assert_security_headers(response: &Response) {
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(response.header("content-security-policy"), Some(APP_CSP));
}

#[tokio::test]
async fn the_app_is_served_at_the_root_with_its_csp() {
    let server = InProcessServer::start();
    let index = get(&server.url, "/").await;
    assert_eq!(index.status, 200, "{}", index.body);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert!(index
        .header("vary")
        .is_some_and(|v| v.contains("Accept-Encoding")));
    assert_eq!(index.header("content-encoding"), None);
    assert_security_headers(&index);
    assert!(index.body.contains("<html"), "{}", index.body);
    assert!(index.header("etag").is_some());
    // The same file under its own name.
    let named = get(&server.url, "/index.html").await;
    assert_eq!(named.raw, index.raw);

    // The API keeps the JSON envelope and its restrictive CSP; unknown paths stay JSON 404.
    let sessions = get(&server.url, "/api/v1/sessions").await;
    assert_eq!(sessions.header("content-security-policy"), None);
    for path in ["/api/v1/x", "/api/v1/", "/no-such-page"] {
        let missing = get_with(&server, path, &[("Accept", "text/html")]).await;
        assert_eq!(missing.status, 404, "{path}");
        assert_eq!(missing.json()["error"]["code"], "not_found", "{path}");
    }
    // Only GET and HEAD read files.
    let posted = request(&server.url, "POST", "/", &[], Some(b"")).await;
    assert_eq!(posted.status, 404);
    assert_eq!(posted.json()["error"]["code"], "not_found");
}

#[tokio::test]
async fn assets_are_immutable_precompressed_and_revalidated() {
    let server = InProcessServer::start();
    let index = get(&server.url, "/").await;
    let asset = first_asset(&index.body);
    let plain = get_with(&server, &asset, &[]).await;
    assert_eq!(plain.status, 200, "{asset}: {}", plain.body);
    assert_eq!(
        plain.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        plain.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(plain.header("content-encoding"), None);
    assert_security_headers(&plain);

    let br = get_with(&server, &asset, &[("Accept-Encoding", "gzip, deflate, br")]).await;
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert!(br.raw.len() < plain.raw.len());
    assert_eq!(decode(&br), plain.raw);
    let gzip = get_with(&server, &asset, &[("Accept-Encoding", "gzip, br;q=0")]).await;
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert_eq!(decode(&gzip), plain.raw);
    let identity = get_with(&server, &asset, &[("Accept-Encoding", "identity")]).await;
    assert_eq!(identity.raw, plain.raw);

    // Each copy has its own ETag; naming it revalidates with 304 and no body.
    let tags = [&plain, &br, &gzip].map(|r| r.header("etag").expect("etag").to_string());
    assert!(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2]);
    let again = get_with(
        &server,
        &asset,
        &[("Accept-Encoding", "br"), ("If-None-Match", &tags[1])],
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.raw.is_empty());
    assert_eq!(again.header("etag"), Some(tags[1].as_str()));
    let stale = get_with(&server, &asset, &[("If-None-Match", "\"something-else\"")]).await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.raw, plain.raw);

    // HEAD: the headers of GET, no body.
    let head = request(
        &server.url,
        "HEAD",
        &asset,
        &[("Accept-Encoding", "br")],
        None,
    )
    .await;
    assert_eq!(head.status, 200);
    assert!(head.raw.is_empty());
    assert_eq!(head.header("etag"), Some(tags[1].as_str()));
    assert_eq!(head.header("content-encoding"), Some("br"));
    assert_eq!(
        head.header("content-length"),
        Some(br.raw.len().to_string().as_str())
    );
}

#[tokio::test]
async fn the_app_loads_without_a_token_while_the_api_needs_one() {
    let server = InProcessServer::start_with(Settings::default().set("auth", "enabled = true"));
    let index = get(&server.url, "/").await;
    assert_eq!(index.status, 200, "{}", index.body);
    let asset = get(&server.url, &first_asset(&index.body)).await;
    assert_eq!(asset.status, 200);
    let refused = get(&server.url, "/api/v1/sessions").await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["error"]["code"], "unauthorized");
    let token = issue(&server, "alice");
    let bearer = format!("Bearer {token}");
    let allowed = get_with(&server, "/api/v1/sessions", &[("Authorization", &bearer)]).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    // A foreign Host is refused for the app as for the API (DNS rebinding).
    let host = server.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let head = "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("an answer in time")
        .expect("read");
    assert_eq!(parse_response(&raw).status, 403);
}
