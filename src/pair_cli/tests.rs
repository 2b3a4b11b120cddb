//! The default user of `pocket-relay pair`, the link's URL, and `devices` on a fresh store.

use super::*;

fn config(dir: &tempfile::TempDir) -> Config {
    let mut config = Config::default();
    config.storage.path = dir.path().join("relay.db");
    config.auth.enabled = true;
    config
}

#[test]
fn the_default_user_is_the_one_obvious_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = config(&dir);
    let devices = Devices::open(&config.storage.path).expect("open");
    config.auth.operators = vec!["alice".into()];
    config.auth.users.insert("SHA256:x".into(), "alice".into());
    assert_eq!(default_user(&config, &devices).expect("one"), "alice");
    config.auth.users.insert("laptop".into(), "bob".into());
    let error = default_user(&config, &devices).expect_err("two");
    assert!(error.to_string().contains("alice, bob"), "{error}");
    config.auth.enabled = false;
    assert_eq!(default_user(&config, &devices).expect("local"), "local");
}

#[test]
fn pair_prints_a_qr_code_and_the_link_and_devices_list_shows_nothing_yet() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(&dir);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let args = PairArgs {
        user: Some("alice".into()),
        url: Some("https://relay.example/".into()),
    };
    pair(&config, &args, &mut out, &mut err).expect("pair");
    let out = String::from_utf8_lossy(&out);
    let link = out.lines().last().expect("the link");
    assert!(link.starts_with("https://relay.example/#pair="), "{out}");
    assert!(
        out.contains('\u{2580}') || out.contains('\u{2584}'),
        "{out}"
    );
    let code = link.rsplit('=').next().expect("a code");
    assert!(!String::from_utf8_lossy(&err).contains(code));

    for url in ["ftp://relay.example", "https://relay.example/#x", "relay"] {
        let args = PairArgs {
            user: Some("alice".into()),
            url: Some(url.into()),
        };
        let refused = pair(&config, &args, &mut Vec::new(), &mut Vec::new());
        assert!(matches!(refused, Err(PairCliError::Invalid(_))), "{url}");
    }
    let bad_user = PairArgs {
        user: Some("two words".into()),
        url: None,
    };
    let refused = pair(&config, &bad_user, &mut Vec::new(), &mut Vec::new());
    assert!(matches!(refused, Err(PairCliError::Invalid(_))));

    let mut listed = Vec::new();
    devices(&config, &DevicesCommand::List, &mut listed, &mut Vec::new()).expect("list");
    assert!(listed.is_empty());
    let revoke = DevicesCommand::Revoke { id: "nope".into() };
    let unknown = devices(&config, &revoke, &mut Vec::new(), &mut Vec::new());
    assert!(matches!(
        unknown,
        Err(PairCliError::Auth(AuthError::NotFound(_)))
    ));
}

#[test]
fn a_bind_a_phone_cannot_open_needs_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.storage.path = dir.path().join("store.db");
    config.server.bind = "0.0.0.0:8787".parse().unwrap();
    let args = PairArgs {
        user: Some("alice".into()),
        url: None,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let error = pair(&config, &args, &mut out, &mut err).expect_err("no address for the phone");
    assert!(error.to_string().contains("--url"), "{error}");
}
