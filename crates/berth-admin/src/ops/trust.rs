//! `trustStatus`, `trustPlan`, `trustApply`, `trustVerify`, `trustOneLiners`:
//! the registry's CA and whether this machine's clients trust it, through
//! berth-trust's plans and executor, for the Trust page.
//!
//! The machine is the one at `Tuning::trust_root` (`/`, or a temporary
//! directory in tests: then files are written there and no command runs).

use std::net::SocketAddr;
use std::time::Duration;

use berth_config::Config;
use berth_trust::ca::Origin;
use berth_trust::exec::{DryRun, Elevation, Executor, Outcome};
use berth_trust::insecure::{self, INSECURE_TARGETS, Transport};
use berth_trust::script::{self, OneLiner};
use berth_trust::state::{self, InsecureState, TargetStatus, TrustState};
use berth_trust::verify::{self, Verdict, VerifyState};
use berth_trust::{Certificate, Machine, Plan, RegistryAddr, Target, plan};
use serde::{Deserialize, Serialize};

use crate::Admin;
use crate::endpoint::Endpoint;
use crate::error::{AdminError, ErrorCode};
use crate::tls::{self, CertificateView};

/// How long a verification handshake may take.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// The machine whose clients the Trust page manages.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineView {
    /// `debian`, `fedora`, `arch`, `suse`, `macos`, `windows`.
    pub platform: Option<String>,
    /// The filesystem root (`/` is this machine).
    pub root: String,
    /// Commands run (the root is `/`); otherwise only files are written.
    pub live: bool,
    /// Why the platform is not known, when it is not.
    pub error: Option<String>,
}

/// What `trustStatus` answers.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustStatus {
    /// The registry as clients on this machine name it (`127.0.0.1:5000`).
    pub registry: String,
    /// The registry serves TLS.
    pub tls: bool,
    /// It serves the certificate Berth issues from its CA.
    pub berth_certificate: bool,
    /// The CA directory.
    pub ca_dir: String,
    /// Where the certificates came from; `null` before there is a CA.
    pub origin: Option<Origin>,
    /// The CA clients are asked to trust.
    pub ca: Option<CertificateView>,
    /// The certificate the registry serves.
    pub server: Option<CertificateView>,
    /// The names the admin added for Berth's certificate.
    pub extra_names: Vec<String>,
    /// Every name Berth's certificate is issued for (the extra ones, the
    /// hostname, localhost and the loopback addresses).
    pub certificate_names: Vec<String>,
    /// This machine.
    pub machine: MachineView,
    /// How administrator rights would be asked for (`pkexec`, `sudo`, …).
    pub elevation: Option<Elevation>,
    /// Each client's trust in the CA.
    pub clients: Vec<TargetStatus<TrustState>>,
    /// Each container client's insecure-registry setting.
    pub insecure: Vec<TargetStatus<InsecureState>>,
}

/// What a plan does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustAction {
    /// Install the CA.
    Trust,
    /// Remove what `trust` installed.
    Untrust,
    /// Add the registry to the clients' insecure registries.
    Insecure,
    /// Take it out again.
    Secure,
}

/// The arguments of `trustPlan` and `trustApply`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanArgs {
    action: TrustAction,
    /// Only these clients; default: the installed ones.
    #[serde(default)]
    targets: Option<Vec<String>>,
    /// For `insecure`: the registry speaks plain HTTP.
    #[serde(default)]
    plain_http: bool,
    /// For `trustApply`: the `planId` the admin reviewed. When the plan
    /// would now be different, nothing is done.
    #[serde(default)]
    plan_id: Option<String>,
}

/// What `trustPlan` answers: the dry run.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanView {
    /// The action.
    pub action: TrustAction,
    /// The registry the plan is for.
    pub registry: String,
    /// Identifies this exact plan; `trustApply` takes it back.
    pub plan_id: String,
    /// Some step needs administrator rights.
    pub needs_elevation: bool,
    /// The files and commands, and how rights would be asked for.
    #[serde(flatten)]
    pub dry_run: DryRun,
}

/// What `trustApply` answers.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyView {
    /// The action.
    pub action: TrustAction,
    /// Every step went through.
    pub succeeded: bool,
    /// The command that asked for administrator rights, when one ran.
    pub elevated_with: Option<String>,
    /// One per step, in order.
    pub outcomes: Vec<Outcome>,
    /// The plan's notes.
    pub notes: Vec<String>,
    /// The state afterwards.
    pub status: TrustStatus,
}

/// What `trustVerify` answers.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyView {
    /// The registry checked.
    pub registry: String,
    /// Every installed client trusts it.
    pub all_trusted: bool,
    /// One per client.
    pub verdicts: Vec<Verdict>,
}

/// What `trustOneLiners` answers.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OneLiners {
    /// The registry as other machines name it.
    pub registry: String,
    /// Where the scripts are fetched from (`https://host:port`).
    pub base_url: String,
    /// Linux (curl, sha256sum, sudo).
    pub linux: String,
    /// macOS (curl, shasum, sudo).
    pub macos: String,
    /// Windows PowerShell (curl.exe, Get-FileHash).
    pub windows: String,
    /// SHA-256 of `install.sh` and `install.ps1` as served.
    pub sh_sha256: String,
    /// SHA-256 of `install.ps1`.
    pub ps1_sha256: String,
    /// The CA's fingerprint, which the script prints as it installs it.
    pub ca_fingerprint: String,
    /// Why other machines may not get there, if so.
    pub note: Option<String>,
}

fn trust_error(e: berth_trust::Error) -> AdminError {
    use berth_trust::Error;
    match e {
        Error::NoCa(_) | Error::OwnCertificate(_) => AdminError::invalid_input(
            e.to_string(),
            "restart the registry with TLS on (Berth creates its CA then), or run `berthd ca init`",
        ),
        Error::ExistingConfig { .. } => AdminError::invalid_input(
            e.to_string(),
            "fix that file by hand (or move it away), then try again",
        ),
        Error::NotSupported(_) | Error::Address(_) | Error::UnknownPlatform { .. } => {
            AdminError::invalid_input(
                e.to_string(),
                "see docs/trust.md for what Berth manages where",
            )
        }
        _ => AdminError::internal(
            e.to_string(),
            "see the message; nothing after the failing step ran",
        ),
    }
}

/// The registry as clients on this machine name it: `http.host` when set,
/// else the address the registry answers on here.
fn local_registry(config: &Config) -> Result<RegistryAddr, AdminError> {
    if let Some(host) = tls::http_host(config) {
        return Ok(host);
    }
    Endpoint::of(config)
        .connect
        .parse()
        .map_err(|e: berth_trust::Error| {
            AdminError::invalid_input(e.to_string(), "set http.addr to host:port")
        })
}

/// The registry as other machines name it, and a note when they may not
/// reach it: `http.host`, else a specific `http.addr`, else (a wildcard)
/// this machine's hostname with the port.
fn remote_registry(config: &Config) -> Result<(RegistryAddr, Option<String>), AdminError> {
    if let Some(host) = tls::http_host(config) {
        return Ok((host, None));
    }
    let endpoint = Endpoint::of(config);
    let listen: std::net::SocketAddr = endpoint
        .listen
        .parse()
        .or_else(|_| endpoint.connect.parse())
        .map_err(|_| {
            AdminError::invalid_input(
                format!("http.addr {:?} is not host:port", config.http.addr),
                "set http.addr to host:port",
            )
        })?;
    let bad = |e: berth_trust::Error| AdminError::invalid_input(e.to_string(), "set http.host");
    if listen.ip().is_unspecified() {
        let name = format!("{}:{}", berth_trust::ca::hostname(), listen.port());
        return Ok((name.parse().map_err(bad)?, None));
    }
    let addr: RegistryAddr = endpoint.connect.parse().map_err(bad)?;
    let note = listen.ip().is_loopback().then(|| {
        format!(
            "The registry listens on {} only, so other machines cannot reach it: set http.addr \
             to :{} (or this machine's address) on the Configuration page first.",
            endpoint.listen,
            listen.port()
        )
    });
    Ok((addr, note))
}

fn parse_targets(names: &[String]) -> Result<Vec<Target>, AdminError> {
    names
        .iter()
        .map(|n| n.parse::<Target>().map_err(trust_error))
        .collect()
}

impl Admin {
    fn trust_machine(&self) -> Result<Machine, berth_trust::Error> {
        Machine::detect(&self.tuning.trust_root)
    }

    fn ca_dir(&self) -> berth_trust::CaDir {
        tls::ca_dir(&self.options.data_dir)
    }

    fn trusted_ca(&self) -> Result<Certificate, AdminError> {
        self.ca_dir().ca_certificate().map_err(trust_error)
    }

    /// `trustStatus`.
    pub(crate) fn trust_status(&self) -> Result<TrustStatus, AdminError> {
        let config = self.current();
        let registry = local_registry(&config)?;
        let ca_dir = self.ca_dir();
        let certificates = ca_dir.status().map_err(trust_error)?;
        let ca = ca_dir.ca_certificate().ok();
        let machine = self.trust_machine();
        let (clients, insecure) = match (&machine, &ca) {
            (Ok(m), Some(ca)) => (
                state::trust_status(m, &registry, ca),
                insecure_status(m, &registry),
            ),
            (Ok(m), None) => (Vec::new(), insecure_status(m, &registry)),
            _ => (Vec::new(), Vec::new()),
        };
        // As the executor asks: on the live machine, unless already privileged.
        let elevation = machine
            .as_ref()
            .ok()
            .filter(|m| m.is_live())
            .and_then(|m| Elevation::detect(m.platform));
        Ok(TrustStatus {
            registry: registry.authority(),
            tls: config.http.tls.is_some(),
            berth_certificate: tls::uses_berth_certificate(&config, &ca_dir),
            ca_dir: ca_dir.path().display().to_string(),
            origin: certificates.origin,
            ca: certificates.ca.as_ref().map(CertificateView::from),
            server: tls::served_certificate(&config)
                .or_else(|| certificates.server.as_ref().map(CertificateView::from)),
            extra_names: ca_dir.extra_names().map_err(trust_error)?,
            certificate_names: tls::server_names(&config, &ca_dir),
            machine: MachineView {
                platform: machine.as_ref().ok().map(|m| m.platform.to_string()),
                root: self.tuning.trust_root.display().to_string(),
                live: machine.as_ref().is_ok_and(Machine::is_live),
                error: machine.as_ref().err().map(ToString::to_string),
            },
            elevation,
            clients,
            insecure,
        })
    }

    /// The plan `args` asks for, on this machine, for the local registry.
    fn trust_plan_for(&self, args: &PlanArgs) -> Result<(Machine, Plan), AdminError> {
        let config = self.current();
        let registry = local_registry(&config)?;
        let machine = self.trust_machine().map_err(trust_error)?;
        let chosen = args.targets.as_deref().map(parse_targets).transpose()?;
        let plan = match args.action {
            TrustAction::Trust => {
                let targets = chosen.unwrap_or_else(|| plan::present_targets(&machine));
                plan::trust(&machine, &registry, &self.trusted_ca()?, &targets)
            }
            TrustAction::Untrust => {
                let targets =
                    chosen.unwrap_or_else(|| Target::for_platform(machine.platform).to_vec());
                plan::untrust(&machine, &registry, &self.trusted_ca()?, &targets)
            }
            TrustAction::Insecure | TrustAction::Secure => {
                let targets = chosen.unwrap_or_else(|| {
                    INSECURE_TARGETS
                        .into_iter()
                        .filter(|t| plan::target_present(&machine, *t))
                        .collect()
                });
                if args.action == TrustAction::Secure {
                    insecure::secure(&machine, &registry, &targets)
                } else {
                    let transport = if args.plain_http || config.http.tls.is_none() {
                        Transport::PlainHttp
                    } else {
                        Transport::UnverifiedTls
                    };
                    insecure::insecure(&machine, &registry, transport, &targets)
                }
            }
        }
        .map_err(trust_error)?;
        Ok((machine, plan))
    }

    /// `trustPlan`.
    pub(crate) fn trust_plan(&self, args: PlanArgs) -> Result<PlanView, AdminError> {
        let (machine, plan) = self.trust_plan_for(&args)?;
        Ok(PlanView {
            action: args.action,
            registry: plan.registry.authority(),
            plan_id: plan_id(&plan),
            needs_elevation: plan.needs_elevation(),
            dry_run: Executor::new(machine).dry_run(&plan),
        })
    }

    /// `trustApply`.
    pub(crate) async fn trust_apply(&self, args: PlanArgs) -> Result<ApplyView, AdminError> {
        let (machine, plan) = self.trust_plan_for(&args)?;
        if let Some(reviewed) = &args.plan_id
            && *reviewed != plan_id(&plan)
        {
            return Err(AdminError::new(
                ErrorCode::InvalidInput,
                "what this would change is no longer what was shown (a client's files changed \
                 meanwhile); nothing was done",
                "look at the plan again, then apply it",
            ));
        }
        let notes = plan.notes.clone();
        // Commands and an elevation prompt can take a while: off the runtime.
        let report = tokio::task::spawn_blocking(move || Executor::new(machine).apply(&plan))
            .await
            .map_err(|e| {
                AdminError::internal(format!("the executor failed: {e}"), "report this as a bug")
            })?;
        Ok(ApplyView {
            action: args.action,
            succeeded: report.succeeded(),
            elevated_with: report.elevated_with,
            outcomes: report.outcomes,
            notes,
            status: self.trust_status()?,
        })
    }

    /// `trustVerify`: a TLS handshake per client with only that client's CA files.
    pub(crate) async fn trust_verify(&self) -> Result<VerifyView, AdminError> {
        let config = self.current();
        let registry = local_registry(&config)?;
        let machine = self.trust_machine().map_err(trust_error)?;
        let connect: Option<SocketAddr> = Endpoint::of(&config).connect.parse().ok();
        let name = registry.clone();
        let verdicts = tokio::task::spawn_blocking(move || {
            verify::verify(&machine, &name, connect, VERIFY_TIMEOUT)
        })
        .await
        .map_err(|e| {
            AdminError::internal(format!("verification failed: {e}"), "report this as a bug")
        })?;
        let all_trusted = verdicts.iter().all(|v| {
            matches!(
                v.state,
                VerifyState::Trusted | VerifyState::NotPresent | VerifyState::NotChecked
            )
        });
        Ok(VerifyView {
            registry: registry.authority(),
            all_trusted,
            verdicts,
        })
    }

    /// `trustOneLiners`: the commands other machines run; each checks the
    /// script's SHA-256 before running it (see docs/trust.md).
    pub(crate) fn trust_one_liners(&self) -> Result<OneLiners, AdminError> {
        let config = self.current();
        let ca = self.trusted_ca()?;
        let (registry, mut note) = remote_registry(&config)?;
        if config.http.tls.is_none() {
            note = Some(
                "The registry serves plain HTTP, so it does not publish its CA: turn TLS on \
                 (http.tls) for these commands to work."
                    .into(),
            );
        }
        let prefix = config.http.prefix.trim_matches('/');
        let base_url = if prefix.is_empty() {
            format!("https://{registry}")
        } else {
            format!("https://{registry}/{prefix}")
        };
        let sh = script::install_sh(&registry, &ca).map_err(trust_error)?;
        let ps1 = script::install_ps1(&registry, &ca).map_err(trust_error)?;
        Ok(OneLiners {
            registry: registry.authority(),
            linux: script::one_liner(OneLiner::Linux, &base_url, &sh),
            macos: script::one_liner(OneLiner::MacOs, &base_url, &sh),
            windows: script::one_liner(OneLiner::PowerShell, &base_url, &ps1),
            sh_sha256: script::script_sha256(&sh),
            ps1_sha256: script::script_sha256(&ps1),
            ca_fingerprint: ca.sha256_fingerprint().to_string(),
            base_url,
            note,
        })
    }
}

fn insecure_status(machine: &Machine, registry: &RegistryAddr) -> Vec<TargetStatus<InsecureState>> {
    if machine.platform.is_linux() {
        state::insecure_status(machine, registry)
    } else {
        Vec::new()
    }
}

/// Identifies a plan by its content: the same steps, files and contents
/// give the same id.
fn plan_id(plan: &Plan) -> String {
    let json = serde_json::to_string(plan).unwrap_or_default();
    script::script_sha256(&json)[..16].to_string()
}
