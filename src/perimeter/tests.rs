use super::*;

fn loopback_server() -> Perimeter {
    Perimeter::new(&Reach {
        local: "127.0.0.1:8787".parse().unwrap(),
        scheme: "http",
        public_url: None,
        allowed_hosts: &[],
        allowed_origins: &[],
    })
    .unwrap()
}

fn public_server() -> Perimeter {
    Perimeter::new(&Reach {
        local: "0.0.0.0:8787".parse().unwrap(),
        scheme: "https",
        public_url: Some("https://relay.example.ts.net"),
        allowed_hosts: &["box.lan".into()],
        allowed_origins: &["https://app.example".into()],
    })
    .unwrap()
}

#[test]
fn a_loopback_server_answers_its_loopback_names_only() {
    let p = loopback_server();
    for host in [
        "127.0.0.1:8787",
        "localhost:8787",
        "LOCALHOST",
        "localhost.:8787",
        "[::1]:8787",
        "127.0.0.2",
    ] {
        assert!(p.is_own_host(host), "{host}");
    }
    for host in [
        "evil.example:8787",
        "127.0.0.1.evil.example",
        "localhost.evil.example",
        "evil.localhost.example",
        "",
        ":8787",
        "127.0.0.1:99999",
        "127.0.0.1:8787/x",
        "user@127.0.0.1",
        "[::1",
        "192.168.1.5:8787",
        "0.0.0.0:8787",
    ] {
        assert!(!p.is_own_host(host), "{host}");
    }
}

#[test]
fn the_own_origin_comes_from_the_configuration_not_the_request() {
    let p = loopback_server();
    for origin in [
        "http://127.0.0.1:8787",
        "http://localhost:8787",
        "http://[::1]:8787",
    ] {
        assert!(p.is_allowed_origin(origin), "{origin}");
    }
    for origin in [
        "http://evil.example:8787",
        "http://localhost:3000",
        "https://127.0.0.1:8787",
        "http://127.0.0.1",
        "null",
        "",
        "http://127.0.0.1:8787/",
        "http://127.0.0.1:8787@evil.example",
        "file://",
        "http://evil.example#@127.0.0.1:8787",
    ] {
        assert!(!p.is_allowed_origin(origin), "{origin}");
    }
}

#[test]
fn a_public_server_answers_its_public_url_and_allowed_hosts() {
    let p = public_server();
    for host in [
        "relay.example.ts.net",
        "relay.example.ts.net:443",
        "box.lan:8787",
        "localhost:8787",
    ] {
        assert!(p.is_own_host(host), "{host}");
    }
    assert!(!p.is_own_host("evil.example"));
    assert!(p.is_allowed_origin("https://relay.example.ts.net"));
    assert!(p.is_allowed_origin("https://relay.example.ts.net:443"));
    assert!(p.is_allowed_origin("https://box.lan:8787"));
    assert!(p.is_allowed_origin("https://app.example"));
    assert!(!p.is_allowed_origin("http://relay.example.ts.net"));
    assert!(!p.is_allowed_origin("https://box.lan"));
}

#[test]
fn bad_configuration_is_refused() {
    let reach = |public_url, hosts: &'static [String]| Reach {
        local: "127.0.0.1:1".parse().unwrap(),
        scheme: "http",
        public_url,
        allowed_hosts: hosts,
        allowed_origins: &[],
    };
    assert!(Perimeter::new(&reach(Some("ftp://x"), &[])).is_err());
    assert!(Perimeter::new(&reach(Some("not a url"), &[])).is_err());
}

#[test]
fn state_changes_need_an_allowed_origin_and_reads_do_not() {
    let p = loopback_server();
    let headers = |pairs: &[(&'static str, &str)]| {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                header::HeaderName::from_static(name),
                value.parse().unwrap(),
            );
        }
        map
    };
    let own = headers(&[("host", "127.0.0.1:8787")]);
    assert!(p.check_request(&Method::POST, &own).is_ok());
    let foreign = headers(&[
        ("host", "127.0.0.1:8787"),
        ("origin", "http://evil.example"),
    ]);
    assert!(p.check_request(&Method::GET, &foreign).is_ok());
    assert!(p.check_request(&Method::POST, &foreign).is_err());
    assert!(p.check_request(&Method::DELETE, &foreign).is_err());
    assert!(p.check_upgrade(&foreign).is_err());
    let cross = headers(&[("host", "127.0.0.1:8787"), ("sec-fetch-site", "cross-site")]);
    assert!(p.check_request(&Method::POST, &cross).is_err());
    let rebound = headers(&[("host", "evil.example:8787")]);
    assert!(p.check_request(&Method::GET, &rebound).is_err());
    assert!(p.check_upgrade(&rebound).is_err());
}
