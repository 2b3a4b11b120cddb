//! `pocket-relay pair [--user U] [--url URL]` and `pocket-relay devices list|revoke ID`
//! (issue 16), on the same store file as the server, which may be running. Also the pairing link
//! the server prints once at start when nobody can sign in yet ([`print_at_start`]).
//!
//! `pair` prints to stdout a QR code (Unicode half blocks) of the link `<url>/#pair=<code>`, then
//! the link itself on a line of its own; what it is for goes to stderr. The code is in the URL
//! fragment, which a browser never sends, so it reaches no server log; it is single use and
//! expires after `auth.pairing_ttl_s`. The user: `--user`, else (see [`default_user`]) `local`
//! with auth off, else the one user the configuration and the paired devices name, else the OS
//! account's name when they name nobody; several candidates need `--user`.
//!
//! `devices list` prints `ID USER CREATED_AT LAST_SEEN_AT REVOKED NAME` per device (`-` for
//! never and for not revoked; the name, which may hold blanks, last). Must never: log a code.

use std::collections::BTreeSet;
use std::io::Write;

use chrono::Utc;
use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;

use crate::auth::devices::Devices;
use crate::auth::keys::AuthorizedKeys;
use crate::auth::AuthError;
use crate::config::Config;

/// The options of `pocket-relay pair`.
#[derive(Clone, Debug, clap::Args)]
pub struct PairArgs {
    /// The user the device signs in as (default: see docs/sign-in.md, "Pair a phone").
    #[arg(long)]
    pub user: Option<String>,
    /// The address the phone reaches the server by (default: server.public_url, else the bound
    /// address).
    #[arg(long)]
    pub url: Option<String>,
}

/// The `devices` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum DevicesCommand {
    /// List every device: ID USER CREATED_AT LAST_SEEN_AT REVOKED NAME.
    List,
    /// Revoke a device: its tokens are revoked and its live connections close.
    Revoke {
        /// The id `devices list` showed.
        id: String,
    },
}

/// Why `pair` or `devices` failed.
#[derive(Debug, thiserror::Error)]
pub enum PairCliError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("cannot make the QR code: {0}")]
    Qr(String),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs `pocket-relay pair` on the store of `config`, writing to `out` (stdout) and `err`.
pub fn pair(
    config: &Config,
    args: &PairArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), PairCliError> {
    let devices = Devices::open(&config.storage.path)?;
    let user = match &args.user {
        Some(user) => check_user(user)?.to_string(),
        None => default_user(config, &devices)?,
    };
    let base = match (&args.url, &config.server.public_url) {
        (Some(url), _) | (None, Some(url)) => check_url(url)?,
        (None, None) => {
            let bind = config.server.bind;
            if bind.ip().is_unspecified() || bind.port() == 0 {
                // Not an address a phone can open: every interface, or a port chosen at start.
                return Err(PairCliError::Invalid(format!(
                    "server.bind {bind} is not an address a phone can open: pass --url (the \
                     address the phone reaches this machine by) or set server.public_url"
                )));
            }
            let scheme = if config.tls.enabled() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{bind}")
        }
    };
    if !config.auth.enabled {
        writeln!(
            err,
            "note: auth.enabled is false, so every client on this machine is the user local; \
             the device will sign in once auth.enabled = true"
        )?;
    }
    show(config, &devices, &user, &base, out, err)
}

/// Runs `pocket-relay devices list|revoke`.
pub fn devices(
    config: &Config,
    command: &DevicesCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), PairCliError> {
    let devices = Devices::open(&config.storage.path)?;
    match command {
        DevicesCommand::List => {
            for device in devices.list(None, true)? {
                writeln!(
                    out,
                    "{} {} {} {} {} {}",
                    device.id,
                    device.user,
                    device.created_at,
                    device.last_seen_at.as_deref().unwrap_or("-"),
                    device.revoked_at.as_deref().unwrap_or("-"),
                    device.name
                )?;
            }
            out.flush()?;
        }
        DevicesCommand::Revoke { id } => {
            let device = devices.revoke(id, None, Utc::now())?;
            writeln!(
                err,
                "device {id} ({}, user {}) revoked: its tokens are revoked and its live \
                 connections close",
                device.name, device.user
            )?;
        }
    }
    Ok(())
}

/// At the server's start (after its `listening on` line): when sign-in is on and nobody can
/// sign in yet (no paired device, no key in `auth.authorized_keys`), prints a pairing link and
/// its QR code for the default user to `out`, once. Failures are logged, never fatal.
pub fn print_at_start(config: &Config, server_url: &str, out: &mut dyn Write) {
    if !config.auth.enabled {
        return;
    }
    // Called on the server's async thread: the store is read and written on a thread of its
    // own, which this waits for (once, at start).
    let printed = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("store-pairing".into())
            .spawn_scoped(scope, || link_at_start(config, server_url))
            .map(|thread| thread.join())
    });
    match printed {
        Ok(Ok(text)) => {
            let _ = out.write_all(&text).and_then(|()| out.flush());
        }
        Ok(Err(_)) => log::warn!("the pairing link thread panicked"),
        Err(error) => log::warn!("cannot start the pairing link thread: {error}"),
    }
}

/// What [`print_at_start`] prints, made on the calling thread.
fn link_at_start(config: &Config, server_url: &str) -> Vec<u8> {
    let mut printed = Vec::new();
    let out: &mut dyn Write = &mut printed;
    let mut first = || -> Result<Option<String>, PairCliError> {
        let devices = Devices::open(&config.storage.path)?;
        let keys = AuthorizedKeys::new(&config.auth.authorized_keys, true);
        if !keys.is_empty() || devices.count_live(None)? > 0 {
            return Ok(None);
        }
        let user = default_user(config, &devices)?;
        let base = match &config.server.public_url {
            Some(url) => check_url(url)?,
            None => server_url.to_string(),
        };
        show(config, &devices, &user, &base, out, &mut std::io::sink())?;
        Ok(Some(user))
    };
    match first() {
        Ok(Some(user)) => log::info!(
            "no device is paired and no key is authorized: printed a pairing link for user \
             {user} to stdout (valid {} s, single use; `pocket-relay pair` makes another)",
            config.auth.pairing_ttl_s
        ),
        Ok(None) => {}
        Err(error) => log::warn!(
            "no device is paired and no key is authorized, and no pairing link was printed: \
             {error}; run `pocket-relay pair --user USER`"
        ),
    }
    printed
}

/// Makes a code for `user` and prints the QR code and the link to `out`.
fn show(
    config: &Config,
    devices: &Devices,
    user: &str,
    base: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), PairCliError> {
    let code = devices.new_code(user, config.auth.pairing_ttl_s, Utc::now())?;
    log::info!(
        "auth: pairing code made for user {user} (expires {})",
        code.expires_at
    );
    let link = format!("{}/#pair={}", base.trim_end_matches('/'), code.code);
    writeln!(out, "{}\n", qr(&link)?)?;
    writeln!(out, "{link}")?;
    out.flush()?;
    writeln!(
        err,
        "Open the link on the phone (scan the QR code) to pair it for user {user}: single use, \
         valid until {}.",
        code.expires_at
    )?;
    Ok(())
}

/// `link` as a QR code of Unicode half blocks, light on dark (for a terminal's dark background;
/// phone cameras read both), with its quiet zone.
pub fn qr(link: &str) -> Result<String, PairCliError> {
    let code = QrCode::new(link.as_bytes()).map_err(|e| PairCliError::Qr(e.to_string()))?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .build())
}

/// The user a device is paired for without `--user`: `local` with auth off; else the one user
/// named by `auth.users`, `auth.operators` and the live devices together; else, when those name
/// nobody, the OS account's name (`$USER`, `$LOGNAME`). Several candidates: an error naming them.
pub fn default_user(config: &Config, devices: &Devices) -> Result<String, PairCliError> {
    if !config.auth.enabled {
        return Ok("local".into());
    }
    let mut named: BTreeSet<String> = config.auth.users.values().cloned().collect();
    named.extend(config.auth.operators.iter().cloned());
    named.extend(devices.list(None, false)?.into_iter().map(|d| d.user));
    let mut named = named.into_iter();
    match (named.next(), named.next()) {
        (Some(one), None) => Ok(one),
        (None, _) => ["USER", "LOGNAME"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .find(|user| check_user(user).is_ok())
            .ok_or_else(|| PairCliError::Invalid("no user is obvious: pass --user USER".into())),
        (Some(first), Some(second)) => {
            let rest: Vec<String> = named.collect();
            Err(PairCliError::Invalid(format!(
                "several users are known ({first}, {second}{}{}): pass --user USER",
                if rest.is_empty() { "" } else { ", " },
                rest.join(", ")
            )))
        }
    }
}

/// A user name: one word of printable characters, as `token issue --user` wants it.
fn check_user(user: &str) -> Result<&str, PairCliError> {
    let fine = !user.is_empty()
        && user.len() <= actors::ids::MAX_ID_LEN
        && user.chars().all(|c| !c.is_whitespace() && !c.is_control());
    if fine {
        Ok(user)
    } else {
        Err(PairCliError::Invalid(format!(
            "--user must be one word of at most {} printable characters",
            actors::ids::MAX_ID_LEN
        )))
    }
}

/// An `http` or `https` URL without a fragment, as text without a trailing `/`.
fn check_url(url: &str) -> Result<String, PairCliError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| PairCliError::Invalid(format!("not a URL: {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.fragment().is_some() {
        return Err(PairCliError::Invalid(format!(
            "the URL must be http:// or https:// and have no #fragment: {url:?}"
        )));
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests;
