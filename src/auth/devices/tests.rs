//! Pairing codes and devices on a real store file: single use, expiry, one live device per key,
//! and a revocation that takes the device's tokens with it and cannot be overtaken by a sign-in.

use super::*;
use crate::auth::tokens::Tokens;
use chrono::TimeZone;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti phone";
const OTHER_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFyQAHKHGlYxmV3o0q05VJ8LqOJyW/XeMPB2j7eVTi+Z tablet";

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + seconds, 0)
        .single()
        .expect("a valid time")
}

fn key_data(line: &str) -> KeyData {
    PublicKey::from_openssh(line)
        .expect("a key")
        .key_data()
        .clone()
}

fn unauthorized<T: std::fmt::Debug>(result: Result<T, AuthError>) {
    assert!(
        matches!(result, Err(AuthError::Unauthorized)),
        "expected Unauthorized, got {result:?}"
    );
}

#[test]
fn a_code_pairs_once_before_it_expires_and_only_its_hash_is_stored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("relay.db");
    let devices = Devices::open(&path).expect("open");
    let cli = Devices::open(&path).expect("open again");
    let code = cli.new_code("alice", 300, t(0)).expect("a code");
    assert_eq!(code.code.len(), CODE_LEN);
    assert!(!format!("{code:?}").contains(&code.code));

    // Bad requests leave the code usable; the pairing uses it up.
    for (key, name) in [("ssh-rsa AAAA", "x"), (KEY, ""), (KEY, "a\u{7}b")] {
        assert!(matches!(
            devices.pair(&code.code, key, name, t(1)),
            Err(AuthError::BadRequest(_))
        ));
    }
    let paired = devices
        .pair(&code.code, KEY, "  Alice's phone ", t(1))
        .expect("paired");
    assert_eq!(paired.user, "alice");
    unauthorized(devices.pair(&code.code, OTHER_KEY, "tablet", t(2)));
    unauthorized(devices.pair("short", OTHER_KEY, "tablet", t(2)));

    let found = devices
        .find_live(&key_data(KEY))
        .expect("lookup")
        .expect("live");
    assert_eq!(found.id, paired.device_id);
    assert_eq!(found.name, "Alice's phone");
    assert!(
        !found.public_key.ends_with("phone"),
        "stored without comment"
    );

    // An expired code fails, and stays used up.
    let late = cli.new_code("alice", 300, t(0)).expect("a code");
    unauthorized(devices.pair(&late.code, OTHER_KEY, "tablet", t(300)));
    unauthorized(devices.pair(&late.code, OTHER_KEY, "tablet", t(1)));

    // A key already paired is a conflict that leaves the code usable.
    let code = cli.new_code("alice", 300, t(0)).expect("a code");
    assert!(matches!(
        devices.pair(&code.code, KEY, "again", t(3)),
        Err(AuthError::Conflict(_))
    ));
    devices
        .pair(&code.code, OTHER_KEY, "tablet", t(3))
        .expect("the code still works");

    let conn = rusqlite::Connection::open(&path).expect("raw");
    let stored: Vec<String> = conn
        .prepare("SELECT hash FROM pairing_codes")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("hashes");
    assert!(stored.iter().all(|h| h.len() == 64 && *h != code.code));
    assert!(stored.contains(&hash(&code.code)));
}

#[test]
fn revoking_a_device_revokes_its_tokens_and_no_new_one_is_issued() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("relay.db");
    let devices = Devices::open(&path).expect("open");
    let tokens = Tokens::open(&path).expect("tokens");
    let code = devices.new_code("alice", 300, t(0)).expect("a code");
    let phone = devices
        .pair(&code.code, KEY, "phone", t(0))
        .expect("paired");
    let id = phone.device_id.as_str();
    let token = tokens
        .issue("alice", Some("device"), 3600, t(1), Some(id))
        .expect("a token");
    let bearer = tokens.authenticate(&token.token, t(2)).expect("valid");
    assert_eq!(bearer.device_id.as_deref(), Some(id));
    let plain = tokens
        .issue("alice", None, 3600, t(1), None)
        .expect("plain");
    devices.touch(id, t(2)).expect("touch");
    let listed = devices.list(Some("alice"), false).expect("list");
    assert_eq!(
        listed[0].last_seen_at.as_deref(),
        Some("2023-11-14T22:13:22.000Z")
    );

    // Another user's device does not exist for them.
    assert!(matches!(
        devices.revoke(id, Some("bob"), t(3)),
        Err(AuthError::NotFound(_))
    ));
    devices.revoke(id, Some("alice"), t(3)).expect("revoked");
    unauthorized(tokens.authenticate(&token.token, t(4)));
    assert!(tokens.authenticate(&plain.token, t(4)).is_ok());
    assert_eq!(devices.find_live(&key_data(KEY)).expect("lookup"), None);
    unauthorized(tokens.issue("alice", None, 3600, t(5), Some(id)));
    assert!(matches!(
        devices.revoke(id, None, t(6)),
        Err(AuthError::NotFound(_))
    ));
    assert_eq!(devices.count_live(None).expect("count"), 0);
    assert_eq!(devices.list(None, true).expect("all").len(), 1);

    // Its key may be paired again, as a new device.
    let code = devices.new_code("alice", 300, t(0)).expect("a code");
    let again = devices
        .pair(&code.code, KEY, "phone", t(7))
        .expect("paired");
    assert_ne!(again.device_id, phone.device_id);
}
