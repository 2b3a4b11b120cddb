//! `pocket-relay token issue|list|revoke` (protocol §6): bearer tokens made, shown and revoked
//! from the command line, on the same store file as the server (it may be running: the tokens
//! are read from the store on every use, so a revocation takes effect at once).
//!
//! Output: `issue` prints the token alone on stdout's first line and its id and expiry on
//! stderr; `list` prints one line per token, `ID USER LABEL EXPIRES_AT REVOKED` (`-` for no
//! label and for not revoked, else the time of the revocation); `revoke` says what it did on
//! stderr. Must never: print a token anywhere but `issue`'s stdout, or a hash anywhere.

use std::io::Write;

use chrono::Utc;

use crate::auth::tokens::Tokens;
use crate::auth::AuthError;
use crate::config::Config;
use crate::store::tokens::Revoked;

/// The `token` subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Issue a new token; prints it alone on the first line of stdout.
    Issue {
        /// The user the token signs in as.
        #[arg(long)]
        user: String,
        /// Lifetime in seconds (default: auth.token_ttl_s).
        #[arg(long)]
        ttl: Option<u64>,
        /// A note to recognise the token by in `token list`.
        #[arg(long)]
        label: Option<String>,
    },
    /// List every token: ID USER LABEL EXPIRES_AT REVOKED.
    List,
    /// Revoke a token by its id.
    Revoke {
        /// The id `token issue` or `token list` showed.
        id: String,
    },
}

/// Why a `token` command failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenCliError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs `command` on the store of `config`, writing to `out` (stdout) and `err` (stderr).
pub fn run(
    config: &Config,
    command: &TokenCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), TokenCliError> {
    match command {
        TokenCommand::Issue { user, ttl, label } => {
            check_word("--user", user)?;
            if let Some(label) = label {
                check_word("--label", label)?;
            }
            let ttl = ttl.unwrap_or(config.auth.token_ttl_s);
            let tokens = Tokens::open(&config.storage.path)?;
            let issued = tokens.issue(user, label.as_deref(), ttl, Utc::now(), None)?;
            writeln!(out, "{}", issued.token)?;
            out.flush()?;
            writeln!(
                err,
                "token {} for user {} expires {}",
                issued.id, issued.user, issued.expires_at
            )?;
        }
        TokenCommand::List => {
            let tokens = Tokens::open(&config.storage.path)?;
            for token in tokens.list()? {
                writeln!(
                    out,
                    "{} {} {} {} {}",
                    token.id,
                    token.user,
                    token.label.as_deref().unwrap_or("-"),
                    token.expires_at,
                    token.revoked_at.as_deref().unwrap_or("-")
                )?;
            }
            out.flush()?;
        }
        TokenCommand::Revoke { id } => {
            let tokens = Tokens::open(&config.storage.path)?;
            match tokens.revoke(id, Utc::now())? {
                Revoked::Now => writeln!(err, "token {id} revoked")?,
                Revoked::Already => writeln!(err, "token {id} was already revoked")?,
                Revoked::Unknown => {
                    return Err(AuthError::NotFound(format!("no token {id}")).into())
                }
            }
        }
    }
    Ok(())
}

/// A user name or label: one word of printable characters, so `token list` stays one line
/// of five fields.
fn check_word(flag: &str, value: &str) -> Result<(), TokenCliError> {
    let fine = !value.is_empty()
        && value.len() <= actors::ids::MAX_ID_LEN
        && value.chars().all(|c| !c.is_whitespace() && !c.is_control());
    if fine {
        Ok(())
    } else {
        Err(TokenCliError::Invalid(format!(
            "{flag} must be one word of at most {} printable characters",
            actors::ids::MAX_ID_LEN
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &tempfile::TempDir) -> Config {
        let mut config = Config::default();
        config.storage.path = dir.path().join("relay.db");
        config
    }

    fn run_text(config: &Config, command: TokenCommand) -> Result<(String, String), TokenCliError> {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        run(config, &command, &mut out, &mut err)?;
        Ok((
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        ))
    }

    #[test]
    fn issue_list_revoke() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = config(&dir);
        let (out, err) = run_text(
            &config,
            TokenCommand::Issue {
                user: "carol".into(),
                ttl: Some(60),
                label: Some("ci".into()),
            },
        )
        .expect("issue");
        let token = out.lines().next().expect("a line").to_string();
        assert!(token.starts_with("prt_"));
        assert!(!err.contains(&token));
        let id = err.split_whitespace().nth(1).expect("the id").to_string();

        let (listed, _) = run_text(&config, TokenCommand::List).expect("list");
        let fields: Vec<&str> = listed.split_whitespace().collect();
        assert_eq!(fields.len(), 5, "{listed}");
        assert_eq!(&fields[..3], &[id.as_str(), "carol", "ci"]);
        assert_eq!(fields[4], "-");
        assert!(!listed.contains(&token));

        run_text(&config, TokenCommand::Revoke { id: id.clone() }).expect("revoke");
        let (listed, _) = run_text(&config, TokenCommand::List).expect("list");
        assert_ne!(listed.split_whitespace().nth(4), Some("-"));
        let (_, again) = run_text(&config, TokenCommand::Revoke { id }).expect("again");
        assert!(again.contains("already"));
        assert!(matches!(
            run_text(&config, TokenCommand::Revoke { id: "nope".into() }),
            Err(TokenCliError::Auth(AuthError::NotFound(_)))
        ));
        for (user, label) in [("two words", None), ("carol", Some("a b")), ("", None)] {
            let issue = TokenCommand::Issue {
                user: user.into(),
                ttl: None,
                label: label.map(str::to_string),
            };
            assert!(matches!(
                run_text(&config, issue),
                Err(TokenCliError::Invalid(_))
            ));
        }
    }
}
