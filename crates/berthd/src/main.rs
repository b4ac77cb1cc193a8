//! `berthd`: the Berth registry and its command line.
//!
//! `berthd serve` is an OCI Distribution registry (CNCF Distribution's
//! config.yml, storage layout and API); with no config it serves a local
//! registry on 127.0.0.1:5000 from the user's data directory.

mod capabilities;
mod config_cmd;
mod serve;
mod storage_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Berth's registry daemon.
#[derive(Parser)]
#[command(name = "berthd", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the registry (the embedded default without --config).
    #[command(
        after_help = "Examples:\n  berthd serve\n  berthd serve --config /etc/berth/config.yml\n  \
        REGISTRY_HTTP_ADDR=0.0.0.0:5000 berthd serve\n\n\
        Without --config, berthd stores images under $BERTH_DATA_DIR (default: the user's \
        data directory, e.g. ~/.local/share/berth/registry) and listens on 127.0.0.1:5000."
    )]
    Serve {
        /// A CNCF Distribution config.yml.
        #[arg(long, short, env = "BERTH_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Probe the configured storage: list, write, read back, check and delete an object.
    #[command(
        name = "check-storage",
        after_help = "Examples:\n  berthd check-storage --config /etc/berth/config.yml\n  \
        REGISTRY_STORAGE_S3_SECRETKEY=... berthd check-storage --config s3.yml\n\n\
        Prints one line per step and exits non-zero when a step fails."
    )]
    CheckStorage {
        /// A CNCF Distribution config.yml; the embedded default without it.
        #[arg(long, short, env = "BERTH_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Check or show a config.yml.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Check a config.yml: syntax, schema, and whether Berth can serve it.
    #[command(after_help = "Example:\n  berthd config validate /etc/docker/registry/config.yml")]
    Validate {
        /// The file to check.
        file: PathBuf,
    },
    /// Print the effective config (file plus REGISTRY_* variables), secrets redacted.
    #[command(
        after_help = "Examples:\n  berthd config print\n  berthd config print --config config.yml\n  \
        berthd config print --config config.yml --show-secrets"
    )]
    Print {
        /// The config to print; the embedded default without it.
        #[arg(long, short, env = "BERTH_CONFIG")]
        config: Option<PathBuf>,
        /// Print secrets as they are instead of <redacted>.
        #[arg(long)]
        show_secrets: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config } => serve::run(config.as_deref()),
        Command::CheckStorage { config } => storage_cmd::check(config.as_deref()),
        Command::Config { action } => match action {
            ConfigAction::Validate { file } => config_cmd::validate(&file),
            ConfigAction::Print {
                config,
                show_secrets,
            } => config_cmd::print(config.as_deref(), show_secrets),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("berthd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
