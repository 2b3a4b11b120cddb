//! `claude.run_as`: a relay user's Claude Code runs as their own OS account.
//!
//! The relay starts it as `sudo -n -H -u ACCOUNT -- /usr/bin/env -C CWD -- NAME=VALUE… CLAUDE ARGS…`
//! (see [`sudo`]): `sudo` switches the account and sets `HOME` to the account's home; `env`
//! enters the session's directory *as the account* and adds `claude.env`, so sudoers needs no
//! `SETENV`. The one sudoers rule this needs is `RELAY ALL=(ACCOUNTS) NOPASSWD: /usr/bin/env`.
//! Accounts are looked up once, at start: an unknown one is a configuration error.

mod sudo;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::ClaudeConfig;

pub use sudo::{signal_group, CwdCheckError, ENV, SUDO};

/// An OS account that a relay user's Claude runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsAccount {
    /// The account name, as `sudo -u` takes it.
    pub name: String,
    pub uid: u32,
    /// The account's home directory (from the password database): `~` in its sessions.
    pub home: PathBuf,
}

/// Why `claude.run_as` cannot be used as configured.
#[derive(Debug, thiserror::Error)]
pub enum RunAsError {
    #[error("claude.run_as maps {user:?} to the OS account {account:?}, which does not exist")]
    UnknownAccount { user: String, account: String },
    #[error("claude.run_as maps {user:?} to {account:?}, which is not a valid account name")]
    BadName { user: String, account: String },
    #[error("claude.run_as: cannot look up the OS account {account:?}: {source}")]
    Lookup {
        account: String,
        source: nix::errno::Errno,
    },
}

/// A user without an OS account while `claude.run_as_required` is set.
#[derive(Debug, thiserror::Error)]
#[error("claude.run_as_required is set and the user {0:?} has no OS account in claude.run_as")]
pub struct NotMapped(pub String);

impl OsAccount {
    /// Looks the account up in the password database (NSS included).
    pub fn lookup(user: &str, name: &str) -> Result<OsAccount, RunAsError> {
        let valid = !name.is_empty()
            && !name.starts_with(['-', '#', '+'])
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'));
        if !valid {
            return Err(RunAsError::BadName {
                user: user.into(),
                account: name.into(),
            });
        }
        match nix::unistd::User::from_name(name) {
            Ok(Some(found)) => Ok(OsAccount {
                name: found.name,
                uid: found.uid.as_raw(),
                home: found.dir,
            }),
            Ok(None) => Err(RunAsError::UnknownAccount {
                user: user.into(),
                account: name.into(),
            }),
            Err(source) => Err(RunAsError::Lookup {
                account: name.into(),
                source,
            }),
        }
    }
}

/// `claude.run_as` with every account looked up.
#[derive(Clone, Debug, Default)]
pub struct RunAsAccounts {
    accounts: BTreeMap<String, OsAccount>,
    required: bool,
}

impl RunAsAccounts {
    /// Looks up every account of `claude.run_as`.
    pub fn resolve(config: &ClaudeConfig) -> Result<RunAsAccounts, RunAsError> {
        let accounts = config
            .run_as
            .iter()
            .map(|(user, account)| Ok((user.clone(), OsAccount::lookup(user, account)?)))
            .collect::<Result<_, RunAsError>>()?;
        Ok(RunAsAccounts {
            accounts,
            required: config.run_as_required,
        })
    }

    /// The account `user`'s Claude runs as; `None` for the relay's own account.
    pub fn for_user(&self, user: &str) -> Result<Option<&OsAccount>, NotMapped> {
        match self.accounts.get(user) {
            Some(account) => Ok(Some(account)),
            None if self.required => Err(NotMapped(user.into())),
            None => Ok(None),
        }
    }
}
