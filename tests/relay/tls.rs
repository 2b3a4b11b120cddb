//! With `tls.cert` and `tls.key` the server speaks HTTPS and WSS only.

use std::process::Command;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;

use crate::support::home::Settings;
use crate::support::in_process::InProcessServer;
use crate::support::PATIENCE;

/// Runs openssl with `args`.
fn openssl(args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl {args:?}");
}

/// A test CA and a certificate for 127.0.0.1 signed by it: (ca, cert, key) paths.
fn certificates(dir: &std::path::Path) -> (String, String, String) {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (ca, ca_key, cert, key, csr, ext) = (
        path("ca.pem"),
        path("ca.key"),
        path("cert.pem"),
        path("key.pem"),
        path("cert.csr"),
        path("ext.cnf"),
    );
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut args = vec![
        "req",
        "-x509",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
    ];
    args.extend(ec);
    openssl(&args);
    let mut args = vec![
        "req",
        "-new",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &key,
        "-out",
        &csr,
    ];
    args.extend(ec);
    openssl(&args);
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &ext,
        "-out",
        &cert,
    ]);
    (ca, cert, key)
}

fn connector(cert: &str) -> TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn with_a_certificate_the_server_speaks_https_and_wss_only() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(certs.path());
    let server = InProcessServer::start_with(
        Settings::default()
            .set("tls", &format!("cert = \"{cert}\""))
            .set("tls", &format!("key = \"{key}\"")),
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let host = server.url.trim_start_matches("https://").to_string();
    let name = ServerName::try_from("127.0.0.1").unwrap();

    // HTTPS.
    let tcp = TcpStream::connect(&host).await.unwrap();
    let mut tls = connector(&ca)
        .connect(name.clone(), tcp)
        .await
        .expect("TLS handshake");
    tls.write_all(
        format!("GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, tls.read_to_end(&mut answer))
        .await
        .unwrap()
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"status\":\"ok\""));
    assert!(answer
        .to_ascii_lowercase()
        .contains("strict-transport-security: max-age="));

    // WSS.
    let tcp = TcpStream::connect(&host).await.unwrap();
    let tls = connector(&ca).connect(name, tcp).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("wss://{host}/ws"), tls)
        .await
        .expect("WSS upgrade");
    ws.send(Message::text(r#"{"type":"hello","protocol":1}"#))
        .await
        .unwrap();
    let welcome = tokio::time::timeout(PATIENCE, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(welcome.to_text().unwrap().contains("\"welcome\""));

    // Plain HTTP is not served.
    let mut plain = TcpStream::connect(&host).await.unwrap();
    plain
        .write_all(
            format!("GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, plain.read_to_end(&mut raw)).await;
    assert!(!String::from_utf8_lossy(&raw).contains("\"status\":\"ok\""));
}
