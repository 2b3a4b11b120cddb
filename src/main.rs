//! The `pocket-relay` command: `pocket-relay [--config PATH] [serve]`,
//! `pocket-relay token issue|list|revoke` (see [`pocket_relay::token_cli`]), and
//! `pocket-relay pair`, `pocket-relay devices list|revoke` (see [`pocket_relay::pair_cli`]).

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pocket_relay::config::Config;
use pocket_relay::pair_cli::{self, DevicesCommand, PairArgs};
use pocket_relay::server::Server;
use pocket_relay::token_cli::{self, TokenCommand};

/// jemalloc rather than glibc's malloc. Events are allocated on the sessions' thread and freed
/// wherever their last holder drops them, often a connection's thread. When a hundred cut-off
/// clients' queues (up to `limits.client_buffer` events each) were freed at once, glibc's
/// allocator then kept the sessions' thread busy in `_int_malloc` for about a second, and every
/// other client's events waited (`pocket-relay-bench slow-consumers`: latency max 1.1–1.4 s with
/// glibc, 0.3–0.5 s with jemalloc). jemalloc also keeps an idle connection within 8 KiB.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Drive your machine's Claude Code sessions from a phone, a browser or a script.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (default: ./config.toml when present, else built-in defaults).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Issue, list or revoke bearer tokens (works while the server runs).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print a QR code and a one-time link that pairs a phone (works while the server runs).
    Pair(PairArgs),
    /// List or revoke paired devices (works while the server runs).
    Devices {
        #[command(subcommand)]
        command: DevicesCommand,
    },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("pocket-relay: {error}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Token { command } => exit(|out, err| token_cli::run(&config, &command, out, err)),
        Command::Pair(args) => exit(|out, err| pair_cli::pair(&config, &args, out, err)),
        Command::Devices { command } => {
            exit(|out, err| pair_cli::devices(&config, &command, out, err))
        }
    }
}

/// Runs a command that writes to stdout and stderr: exit 0, or 1 with its error on stderr.
fn exit<E: std::fmt::Display>(
    command: impl FnOnce(&mut dyn Write, &mut dyn Write) -> Result<(), E>,
) -> ExitCode {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
    match command(&mut out, &mut err) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pocket-relay: {error}");
            ExitCode::from(1)
        }
    }
}

/// Every connection is a file descriptor, and the soft limit is often 1,024: take every open file
/// the hard limit allows.
fn raise_open_files() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => log::info!("open files: up to {limit}"),
        Err(error) => log::warn!("cannot raise the open-file limit: {error}"),
    }
}

fn serve(config: Config) -> ExitCode {
    raise_open_files();
    let listener = match TcpListener::bind(config.server.bind) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "pocket-relay: cannot listen on {}: {error}",
                config.server.bind
            );
            return ExitCode::from(1);
        }
    };
    let config_for_pairing = config.clone();
    let result = actix_web::rt::System::new().block_on(async move {
        let server = Server::build(config, listener)?;
        println!("listening on {}", server.url());
        let _ = std::io::stdout().flush();
        pair_cli::print_at_start(&config_for_pairing, server.url(), &mut std::io::stdout());
        server.run_until_signal().await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pocket-relay: {error}");
            ExitCode::from(1)
        }
    }
}
