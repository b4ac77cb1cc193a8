//! `berthd`: the Berth registry and its command line.
//!
//! `berthd serve` is an OCI Distribution registry (CNCF Distribution's
//! config.yml, storage layout and API); with no config it serves a local
//! registry on 127.0.0.1:5000 from the user's data directory.

mod ca_cmd;
mod capabilities;
mod config_cmd;
mod console_cmd;
mod du_cmd;
mod gc_cmd;
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
        REGISTRY_HTTP_ADDR=0.0.0.0:5000 berthd serve\n  \
        sleep infinity | berthd serve --exit-with-parent    # stops when `sleep` is killed\n\n\
        Without --config, berthd stores images under $BERTH_DATA_DIR (default: the user's \
        data directory, e.g. ~/.local/share/berth/registry) and listens on 127.0.0.1:5000."
    )]
    Serve {
        /// A CNCF Distribution config.yml.
        #[arg(long, short, env = "BERTH_CONFIG")]
        config: Option<PathBuf>,
        /// Stop (as on SIGTERM) when standard input reaches end of file: for a
        /// parent process that runs berthd with a pipe as its stdin, so that
        /// berthd does not outlive it, even when the parent is killed.
        #[arg(long)]
        exit_with_parent: bool,
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
    /// The admin UI and its JSON API for a browser (the desktop app's pages).
    #[command(
        after_help = "Examples:\n  berthd console\n  berthd console --listen 127.0.0.1:8080\n  \
        berthd console --listen 0.0.0.0:5080    # prints a URL with a token; every API call needs it\n\n\
        The console runs the registry (berthd serve) as its sidecar, with the config in its data \
        directory (shared with the desktop app), and stops it on exit."
    )]
    Console {
        /// Where to listen; an address beyond loopback requires the printed token.
        #[arg(long, default_value = "127.0.0.1:5080", env = "BERTH_CONSOLE_LISTEN")]
        listen: std::net::SocketAddr,
        /// The data directory (config.yml, state); default: the desktop app's.
        #[arg(long, env = "BERTH_APP_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// The built UI (ui/dist).
        #[arg(long, env = "BERTH_UI_DIR")]
        ui_dir: Option<PathBuf>,
    },
    /// Print the minimal AWS IAM policy the s3 driver needs for a bucket.
    #[command(
        name = "iam-policy",
        after_help = "Example:\n  berthd iam-policy --bucket my-registry > policy.json\n  \
        aws iam put-user-policy --user-name registry --policy-name berth --policy-document file://policy.json"
    )]
    IamPolicy {
        /// The bucket's name.
        #[arg(long)]
        bucket: String,
    },
    /// Storage usage: totals, reclaimable blobs, unique and shared bytes per repository and tag.
    #[command(
        after_help = "Examples:\n  berthd du\n  berthd du --config /etc/berth/config.yml\n  \
        berthd du --config config.yml --json | jq '.repositories[] | {name, uniqueBytes}'\n\n\
        Walks the configured store (any driver) in this process. Unique bytes are what deleting \
        a repository frees (after `berthd gc`); shared bytes are layers other repositories use too; \
        reclaimable blobs are referred to by no manifest. A running berthd serves the same figures, \
        kept up to date, at GET /berth/v1/usage on its http.debug.addr."
    )]
    Du {
        /// A CNCF Distribution config.yml; the embedded default without it.
        #[arg(long, short, env = "BERTH_CONFIG")]
        config: Option<PathBuf>,
        /// Print JSON (the shape of GET /berth/v1/usage) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Garbage collection: delete blobs no manifest refers to (Distribution's mark and sweep).
    #[command(
        after_help = "Examples:\n  berthd gc --dry-run\n  berthd gc --config /etc/berth/config.yml\n  \
        berthd gc --config config.yml --delete-untagged --grace-period 30m\n\n\
        Runs in this process against the configured store, like `registry garbage-collect`. \
        Next to a running berthd only the grace period (default 1h) protects pushes: blobs \
        younger than it are never swept, but a push that reuses an old unreferenced blob while \
        the sweep runs can lose it. With pushes going on, use the online collection of the \
        running berthd instead (the desktop app's \"Reclaim space\", POST /berth/v1/gc on \
        http.debug.addr), which also spares every blob a client uses while it runs. Uploads \
        abandoned for longer than storage.maintenance.uploadpurging.age (default 168h) are \
        purged too."
    )]
    Gc {
        /// A CNCF Distribution config.yml; the embedded default without it.
        #[arg(long, short, env = "BERTH_CONFIG")]
        config: Option<PathBuf>,
        /// Report what would be deleted; delete nothing.
        #[arg(long, short = 'd')]
        dry_run: bool,
        /// Also delete manifests that no tag reaches (kept: index children and referrers of tagged ones).
        #[arg(long, short = 'm')]
        delete_untagged: bool,
        /// Never sweep blobs written more recently than this (Go duration: 1h, 30m, 0s).
        #[arg(long, default_value = "1h", value_parser = gc_cmd::parse_grace)]
        grace_period: std::time::Duration,
        /// Print the report as JSON (the shape of POST /berth/v1/gc).
        #[arg(long)]
        json: bool,
    },
    /// Check or show a config.yml.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// The registry's CA: create it, issue its certificate, make clients trust it.
    Ca {
        #[command(subcommand)]
        action: ca_cmd::CaAction,
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

fn iam_policy(bucket: &str) -> anyhow::Result<ExitCode> {
    berth_drivers::iam::validate_bucket_name(bucket)?;
    use std::io::Write;
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = writeln!(
        std::io::stdout(),
        "{}",
        berth_drivers::iam::minimal_policy(bucket)
    );
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            config,
            exit_with_parent,
        } => serve::run(config.as_deref(), exit_with_parent),
        Command::Console {
            listen,
            data_dir,
            ui_dir,
        } => console_cmd::run(listen, data_dir.as_deref(), ui_dir.as_deref()),
        Command::IamPolicy { bucket } => iam_policy(&bucket),
        Command::Du { config, json } => du_cmd::run(config.as_deref(), json),
        Command::Gc {
            config,
            dry_run,
            delete_untagged,
            grace_period,
            json,
        } => gc_cmd::run(gc_cmd::Request {
            config: config.as_deref(),
            dry_run,
            delete_untagged,
            grace_period,
            json,
        }),
        Command::CheckStorage { config } => storage_cmd::check(config.as_deref()),
        Command::Ca { action } => ca_cmd::run(action),
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
