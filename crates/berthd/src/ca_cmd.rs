//! `berthd ca`: the registry's CA and its clients' trust, headless — the
//! same plans the desktop app shows, for servers and scripts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use berth_registry::ca::CaDownloads;
use berth_trust::exec::{DryRun, Executor, Report};
use berth_trust::insecure::{self, INSECURE_TARGETS, Transport};
use berth_trust::script::{self, OneLiner};
use berth_trust::state::{self, TrustState};
use berth_trust::verify::{self, VerifyState};
use berth_trust::{CaDir, Certificate, Machine, Plan, Platform, RegistryAddr, Target, plan};
use clap::{Args, Subcommand};

/// The desktop app's identifier; the CA lives in its data directory so the
/// app, the console and `berthd ca` share one.
const APP_ID: &str = "dev.berth.app";

/// `berthd ca …`
#[derive(Subcommand)]
pub enum CaAction {
    /// Create the CA (once) and issue or renew the registry's certificate.
    #[command(after_help = "Examples:\n  berthd ca init\n  \
        berthd ca init --name registry.example.com --name 10.0.0.5\n  \
        berthd ca init --own-ca corp-ca.crt --own-ca-key corp-ca.key\n  \
        berthd ca init --own-cert registry.crt --own-key registry.key\n\n\
        Prints the http.tls lines for config.yml. Run it again (e.g. daily) to renew \
        the certificate within 30 days of its end.")]
    Init {
        #[command(flatten)]
        dir: DirArg,
        /// Extra names or IP addresses for the certificate (besides localhost,
        /// 127.0.0.1, ::1 and the hostname); they replace the names kept in
        /// the CA directory, which later runs without --name reuse.
        #[arg(long = "name", value_delimiter = ',')]
        names: Vec<String>,
        /// The hostname to put in the CA's name and the certificate.
        #[arg(long)]
        hostname: Option<String>,
        /// Use your own CA certificate (PEM) instead of a Berth CA.
        #[arg(long, requires = "own_ca_key", conflicts_with = "own_cert")]
        own_ca: Option<PathBuf>,
        /// Your CA's private key (PKCS#8 PEM).
        #[arg(long, requires = "own_ca")]
        own_ca_key: Option<PathBuf>,
        /// Use your own server certificate chain (PEM); Berth issues nothing.
        #[arg(long, requires = "own_key")]
        own_cert: Option<PathBuf>,
        /// Its private key (PKCS#8 PEM).
        #[arg(long, requires = "own_cert")]
        own_key: Option<PathBuf>,
        /// The CA certificate(s) clients should trust for --own-cert; the last
        /// certificate of the chain without it.
        #[arg(long, requires = "own_cert")]
        own_ca_bundle: Option<PathBuf>,
    },
    /// Show the CA and the server certificate, and which clients trust the CA.
    #[command(after_help = "Examples:\n  berthd ca status\n  \
        berthd ca status --host registry.example.com:5000 --json\n  \
        berthd ca status --root /mnt/image --host registry.example.com:5000")]
    Status {
        #[command(flatten)]
        dir: DirArg,
        #[command(flatten)]
        machine: MachineArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make this machine (or the filesystem at --root) trust the CA.
    #[command(after_help = "Examples:\n  berthd ca trust --dry-run\n  \
        berthd ca trust --host registry.example.com:5000\n  \
        berthd ca trust --host registry.example.com:5000 --target docker,containers\n  \
        berthd ca trust --ca-file ca.crt --host registry.example.com:5000   # another registry's CA\n  \
        berthd ca trust --root /tmp/root --host 127.0.0.1:5000             # files only, no commands\n\n\
        Targets: system, docker, containerd, containers, nss; default: those installed. \
        Steps that need root run once through sudo (or pkexec with a display).")]
    Trust {
        #[command(flatten)]
        plan: PlanArgs,
        /// Trust this CA certificate (PEM) instead of the CA directory's.
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
    /// Remove exactly what `trust` installed.
    #[command(after_help = "Examples:\n  berthd ca untrust --dry-run\n  \
        berthd ca untrust --host registry.example.com:5000")]
    Untrust {
        #[command(flatten)]
        plan: PlanArgs,
        /// The CA certificate that was trusted, when the CA directory no
        /// longer has it (macOS and Windows remove it by thumbprint/serial).
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
    /// Connect to the registry over TLS and say, per client, whether it trusts it.
    #[command(
        after_help = "Examples:\n  berthd ca verify --host registry.example.com:5000\n  \
        berthd ca verify --root /tmp/root --host 127.0.0.1:5000\n\n\
        Each client is checked with only the CA files it reads on the root. Exits \
        non-zero unless every installed client trusts the registry."
    )]
    Verify {
        #[command(flatten)]
        machine: MachineArgs,
        /// Connect here instead of resolving --host (the certificate is still
        /// checked for --host's name).
        #[arg(long)]
        connect: Option<SocketAddr>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Let clients use the registry without verifying it (or over plain HTTP).
    #[command(
        after_help = "Examples:\n  berthd ca insecure --host 10.0.0.5:5000 --dry-run\n  \
        berthd ca insecure --host 10.0.0.5:5000 --plain-http\n  \
        berthd ca insecure --host 10.0.0.5:5000 --undo\n\n\
        Edits Docker's daemon.json (insecure-registries), a containerd hosts.toml \
        (skip_verify) and podman's registries.conf ([[registry]] insecure = true), \
        keeping everything else in them."
    )]
    Insecure {
        #[command(flatten)]
        plan: PlanArgs,
        /// The registry speaks plain HTTP (containerd needs to know).
        #[arg(long)]
        plain_http: bool,
        /// Remove the registry from the insecure registries again.
        #[arg(long)]
        undo: bool,
    },
}

/// Where the CA lives.
#[derive(Args)]
pub struct DirArg {
    /// The CA directory; default: the desktop app's (…/dev.berth.app/ca).
    #[arg(long = "dir", env = "BERTH_CA_DIR")]
    dir: Option<PathBuf>,
}

/// Which machine and registry.
#[derive(Args)]
pub struct MachineArgs {
    /// The filesystem root to act on; `/` is this machine (commands run only there).
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// The registry as clients name it.
    #[arg(long, default_value = "127.0.0.1:5000", env = "BERTH_CA_HOST")]
    host: String,
    /// The platform, instead of detecting it (debian, fedora, arch, suse,
    /// macos, windows, windows-user).
    #[arg(long)]
    platform: Option<String>,
}

/// A plan's options.
#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    dir: DirArg,
    #[command(flatten)]
    machine: MachineArgs,
    /// Only these clients (comma-separated or repeated).
    #[arg(long = "target", value_delimiter = ',')]
    targets: Vec<String>,
    /// Show the files and commands, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Run commands under a --root other than / too (through chroot).
    #[arg(long)]
    run_commands: bool,
}

impl DirArg {
    fn ca_dir(&self) -> anyhow::Result<CaDir> {
        if let Some(dir) = &self.dir {
            return Ok(CaDir::new(dir));
        }
        let base = dirs::data_dir().context(
            "cannot find the user's data directory: set HOME or XDG_DATA_HOME, or pass --dir",
        )?;
        Ok(CaDir::new(base.join(APP_ID).join("ca")))
    }
}

impl MachineArgs {
    fn machine(&self) -> anyhow::Result<Machine> {
        let mut machine = match &self.platform {
            Some(p) => {
                let platform: Platform = p.parse()?;
                let home = std::env::var_os("HOME").map(PathBuf::from);
                Machine::new(platform, &self.root, home)
            }
            None => Machine::detect(&self.root)?,
        };
        if machine.platform.is_windows() && machine.home.is_none() {
            machine.home = std::env::var_os("USERPROFILE").map(PathBuf::from);
        }
        Ok(machine)
    }

    fn registry(&self) -> anyhow::Result<RegistryAddr> {
        Ok(self.host.parse()?)
    }
}

impl PlanArgs {
    fn targets(&self, default: impl FnOnce() -> Vec<Target>) -> anyhow::Result<Vec<Target>> {
        if self.targets.is_empty() {
            return Ok(default());
        }
        self.targets
            .iter()
            .map(|t| t.parse::<Target>().map_err(anyhow::Error::from))
            .collect()
    }

    fn executor(&self, machine: &Machine) -> Executor {
        let exec = Executor::new(machine.clone());
        if self.run_commands {
            exec.run_commands(true)
        } else {
            exec
        }
    }
}

/// Runs `berthd ca …`.
pub fn run(action: CaAction) -> anyhow::Result<ExitCode> {
    match action {
        CaAction::Init {
            dir,
            names,
            hostname,
            own_ca,
            own_ca_key,
            own_cert,
            own_key,
            own_ca_bundle,
        } => {
            let ca_dir = dir.ca_dir()?;
            let hostname = hostname.unwrap_or_else(berth_trust::ca::hostname);
            if let (Some(cert), Some(key)) = (&own_ca, &own_ca_key) {
                let ca = ca_dir.import_ca(&read(cert)?, &read(key)?)?;
                println!(
                    "using your CA {}: {}",
                    ca.info().subject,
                    ca.sha256_fingerprint()
                );
            } else if let (Some(cert), Some(key)) = (&own_cert, &own_key) {
                let bundle = own_ca_bundle.as_deref().map(read).transpose()?;
                let leaf = ca_dir.import_server_certificate(
                    &read(cert)?,
                    &read(key)?,
                    bundle.as_deref(),
                )?;
                println!(
                    "using your certificate for {}",
                    leaf.info().names.join(", ")
                );
            } else {
                let init = ca_dir.init(&hostname)?;
                let verb = if init.created { "created" } else { "kept" };
                println!(
                    "{verb} the CA in {}: {}\n  SHA-256 {}\n  valid until {}",
                    ca_dir.path().display(),
                    init.ca.info().subject,
                    init.ca.sha256_fingerprint(),
                    init.ca.info().not_after_rfc3339
                );
            }
            // --name replaces the kept extra names; without it they are kept,
            // so a daily `berthd ca init` renews for the same names.
            let extra = if names.is_empty() {
                ca_dir.extra_names()?
            } else {
                ca_dir.set_extra_names(&names)?
            };
            let names = berth_trust::ca::server_names(&hostname, &extra);
            let server = ca_dir.ensure_server_certificate(&names, SystemTime::now())?;
            let info = server.certificate.info();
            match &server.issued {
                Some(reason) => println!(
                    "issued the server certificate ({reason}) for {}, valid until {}",
                    info.names.join(", "),
                    info.not_after_rfc3339
                ),
                None => println!(
                    "kept the server certificate for {}, valid until {}",
                    info.names.join(", "),
                    info.not_after_rfc3339
                ),
            }
            println!(
                "\nIn config.yml:\nhttp:\n  tls:\n    certificate: {}\n    key: {}",
                ca_dir.server_cert_path().display(),
                ca_dir.server_key_path().display()
            );
            Ok(ExitCode::SUCCESS)
        }
        CaAction::Status { dir, machine, json } => status(&dir, &machine, json),
        CaAction::Trust {
            plan: args,
            ca_file,
        } => {
            let machine = args.machine.machine()?;
            let registry = args.machine.registry()?;
            let ca = match &ca_file {
                Some(file) => Certificate::from_pem(&read(file)?)?,
                None => args.dir.ca_dir()?.ca_certificate()?,
            };
            let targets = args.targets(|| plan::present_targets(&machine))?;
            let plan = plan::trust(&machine, &registry, &ca, &targets)?;
            println!(
                "Trusting {} ({}) for {registry}:",
                ca.info().subject,
                ca.sha256_fingerprint()
            );
            execute(&args, &machine, &plan)
        }
        CaAction::Untrust {
            plan: args,
            ca_file,
        } => {
            let machine = args.machine.machine()?;
            let registry = args.machine.registry()?;
            let ca = trusted_ca(&args, &machine, &registry, ca_file.as_deref())?;
            let targets = args.targets(|| Target::for_platform(machine.platform).to_vec())?;
            let plan = plan::untrust(&machine, &registry, &ca, &targets)?;
            execute(&args, &machine, &plan)
        }
        CaAction::Verify {
            machine: args,
            connect,
            json,
        } => {
            let machine = args.machine()?;
            let registry = args.registry()?;
            let verdicts = verify::verify(&machine, &registry, connect, Duration::from_secs(10));
            if json {
                println!("{}", serde_json::to_string_pretty(&verdicts)?);
            } else {
                for v in &verdicts {
                    println!(
                        "{:<11} {:<12} {}",
                        v.target.as_str(),
                        verify_word(v.state),
                        v.detail
                    );
                }
            }
            let all_trusted = verdicts.iter().all(|v| {
                matches!(
                    v.state,
                    VerifyState::Trusted | VerifyState::NotPresent | VerifyState::NotChecked
                )
            });
            Ok(if all_trusted {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        CaAction::Insecure {
            plan: args,
            plain_http,
            undo,
        } => {
            let machine = args.machine.machine()?;
            let registry = args.machine.registry()?;
            let targets = args.targets(|| {
                INSECURE_TARGETS
                    .into_iter()
                    .filter(|t| plan::target_present(&machine, *t))
                    .collect()
            })?;
            let plan = if undo {
                insecure::secure(&machine, &registry, &targets)?
            } else {
                let transport = if plain_http {
                    Transport::PlainHttp
                } else {
                    Transport::UnverifiedTls
                };
                insecure::insecure(&machine, &registry, transport, &targets)?
            };
            execute(&args, &machine, &plan)
        }
    }
}

/// The CA `berthd serve` publishes at `/ca`: the one in `$BERTH_CA_DIR`,
/// else the one `berthd ca init` (or the app) keeps next to
/// `http.tls.certificate`. `None` (after a warning when `$BERTH_CA_DIR`
/// names a directory without a CA) when there is none.
pub fn published_ca(config: &berth_config::Config) -> anyhow::Result<Option<(CaDir, CaDownloads)>> {
    let explicit = std::env::var_os("BERTH_CA_DIR").filter(|d| !d.is_empty());
    let ca_dir = match (
        &explicit,
        config
            .http
            .tls
            .as_ref()
            .and_then(|t| t.certificate.as_deref()),
    ) {
        (Some(dir), _) => CaDir::new(dir),
        (None, Some(cert)) => match cert.parent() {
            Some(dir) if dir.join(berth_trust::ca::CA_CERT_FILE).is_file() => CaDir::new(dir),
            _ => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    if ca_dir.origin()?.is_none() || !ca_dir.ca_cert_path().is_file() {
        if explicit.is_some() {
            eprintln!(
                "warning: BERTH_CA_DIR={} holds no CA (berthd ca init makes one); /ca is not served",
                ca_dir.path().display()
            );
        }
        return Ok(None);
    }
    let pem = ca_dir.ca_pem()?;
    let downloads = CaDownloads::from_pem(pem)
        .with_context(|| format!("the CA in {}", ca_dir.ca_cert_path().display()))?;
    Ok(Some((ca_dir, downloads)))
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The CA to untrust: --ca-file, the CA directory's, or the copy `trust`
/// left in the OS store (the CA directory may be gone by now).
fn trusted_ca(
    args: &PlanArgs,
    machine: &Machine,
    registry: &RegistryAddr,
    ca_file: Option<&Path>,
) -> anyhow::Result<Certificate> {
    if let Some(file) = ca_file {
        return Ok(Certificate::from_pem(&read(file)?)?);
    }
    if let Ok(ca) = args.dir.ca_dir().and_then(|d| Ok(d.ca_certificate()?)) {
        return Ok(ca);
    }
    let anchor = machine.path(&plan::system_anchor(machine, registry)?);
    match std::fs::read_to_string(&anchor) {
        Ok(pem) => Ok(Certificate::from_pem(&pem)?),
        Err(_) => bail!(
            "no CA to untrust: the CA directory has none and {} does not exist; pass --ca-file",
            anchor.display()
        ),
    }
}

fn execute(args: &PlanArgs, machine: &Machine, plan: &Plan) -> anyhow::Result<ExitCode> {
    let exec = args.executor(machine);
    if plan.steps.is_empty() {
        println!("Nothing to do.");
        for note in &plan.notes {
            println!("note: {note}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let dry: DryRun = exec.dry_run(plan);
    if args.dry_run {
        print!("{dry}");
        return Ok(ExitCode::SUCCESS);
    }
    let report: Report = exec.apply(plan);
    print!("{report}");
    for note in &plan.notes {
        println!("note: {note}");
    }
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn status(dir: &DirArg, args: &MachineArgs, json: bool) -> anyhow::Result<ExitCode> {
    let ca_dir = dir.ca_dir()?;
    let status = ca_dir.status()?;
    let registry = args.registry()?;
    let machine = args.machine().ok();
    let ca = ca_dir.ca_certificate().ok();
    let clients = match (&machine, &ca) {
        (Some(m), Some(ca)) => state::trust_status(m, &registry, ca),
        _ => Vec::new(),
    };
    let insecure = machine
        .as_ref()
        .filter(|m| m.platform.is_linux())
        .map(|m| state::insecure_status(m, &registry))
        .unwrap_or_default();
    let one_liners = match &ca {
        Some(ca) => one_liners(&registry, ca)?,
        None => Vec::new(),
    };
    if json {
        let value = serde_json::json!({
            "certificates": status,
            "registry": registry,
            "clients": clients,
            "insecure": insecure,
            "oneLiners": one_liners
                .iter()
                .map(|(kind, line)| (kind.as_str(), line.as_str()))
                .collect::<std::collections::BTreeMap<_, _>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("CA directory: {}", status.dir.display());
    let Some(ca_info) = &status.ca else {
        println!("No CA yet: run `berthd ca init`.");
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "CA:     {}\n        SHA-256 {}\n        valid until {}",
        ca_info.subject, ca_info.sha256_fingerprint, ca_info.not_after_rfc3339
    );
    match &status.server {
        Some(s) => println!(
            "Server: {}\n        SHA-256 {}\n        valid until {}\n        {}",
            s.names.join(", "),
            s.sha256_fingerprint,
            s.not_after_rfc3339,
            status.server_cert_path.display()
        ),
        None => println!("Server: no certificate yet: run `berthd ca init`."),
    }
    println!(
        "\nOn another machine, this fetches the install script from https://{registry}/ca, \
         checks its SHA-256 and runs it:"
    );
    for (kind, line) in &one_liners {
        println!("  {kind}:\n    {line}");
    }
    if let Some(m) = &machine {
        println!(
            "\nClients of {registry} on {} ({}):",
            m.root.display(),
            m.platform
        );
        for c in &clients {
            let word = match c.state {
                TrustState::Trusted => "trusted",
                TrustState::NotTrusted => "not trusted",
                TrustState::NotPresent => "not present",
            };
            println!("  {:<11} {word:<12} {}", c.target.as_str(), c.detail);
        }
        for c in insecure
            .iter()
            .filter(|c| c.state == state::InsecureState::Insecure)
        {
            println!(
                "  {:<11} skips verification for {registry} ({})",
                c.target.as_str(),
                c.detail
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The one-line commands for other machines, by system: each fetches the
/// script `GET /ca/install.sh` (or `.ps1`) serves for `registry` and runs it
/// only if its SHA-256 matches.
fn one_liners(registry: &RegistryAddr, ca: &Certificate) -> anyhow::Result<Vec<(String, String)>> {
    let base = format!("https://{registry}");
    let sh = script::install_sh(registry, ca)?;
    let ps1 = script::install_ps1(registry, ca)?;
    Ok(vec![
        (
            "linux".into(),
            script::one_liner(OneLiner::Linux, &base, &sh),
        ),
        (
            "macos".into(),
            script::one_liner(OneLiner::MacOs, &base, &sh),
        ),
        (
            "windows".into(),
            script::one_liner(OneLiner::PowerShell, &base, &ps1),
        ),
    ])
}

fn verify_word(state: VerifyState) -> &'static str {
    match state {
        VerifyState::Trusted => "trusted",
        VerifyState::NotTrusted => "not trusted",
        VerifyState::NotPresent => "not present",
        VerifyState::Unreachable => "unreachable",
        VerifyState::NotChecked => "not checked",
    }
}
