//! The executor: applies a plan on a machine's root, asking for
//! administrator rights once for the privileged steps, and reports what each
//! step did. Its dry run lists the files and commands a plan would touch.
//!
//! Commands run only on the live machine (root `/`), or under another root
//! when asked (`chroot ROOT …`); under a test root they are reported as
//! skipped, so a plan can be applied to a temporary directory on any Linux.

use std::fmt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine;
use serde::Serialize;

use crate::files;
use crate::plan::{Action, Plan, Step, Target};
use crate::platform::{Machine, Platform};
use crate::shell;

/// How to get administrator rights for the privileged steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Elevation {
    /// polkit's `pkexec`: a graphical password prompt (desktop Linux).
    Pkexec,
    /// `sudo`, in a terminal.
    Sudo,
    /// macOS's administrator prompt (`osascript … with administrator privileges`).
    MacOsPrompt,
    /// Windows' UAC prompt (`Start-Process -Verb RunAs`).
    WindowsUac,
}

impl Elevation {
    /// The way to elevate on `platform` from this process: `None` when it
    /// is already privileged or no tool is available. On Linux, `pkexec`
    /// when there is a display and a polkit agent can prompt, else `sudo`.
    pub fn detect(platform: Platform) -> Option<Elevation> {
        if is_privileged() {
            return None;
        }
        match platform {
            Platform::MacOs => Some(Elevation::MacOsPrompt),
            Platform::Windows | Platform::WindowsUser => Some(Elevation::WindowsUac),
            _ => {
                let graphical = std::env::var_os("DISPLAY").is_some()
                    || std::env::var_os("WAYLAND_DISPLAY").is_some();
                if graphical && on_path("pkexec") {
                    Some(Elevation::Pkexec)
                } else if on_path("sudo") {
                    Some(Elevation::Sudo)
                } else {
                    None
                }
            }
        }
    }

    /// The command line that runs `script` (POSIX sh, or PowerShell for
    /// [`Elevation::WindowsUac`]) with administrator rights.
    pub fn argv(self, script: &str) -> Vec<String> {
        match self {
            Elevation::Pkexec => vec![
                "pkexec".into(),
                "/bin/sh".into(),
                "-c".into(),
                script.into(),
            ],
            Elevation::Sudo => vec![
                "sudo".into(),
                "--".into(),
                "/bin/sh".into(),
                "-c".into(),
                script.into(),
            ],
            Elevation::MacOsPrompt => {
                let escaped = script.replace('\\', "\\\\").replace('"', "\\\"");
                vec![
                    "osascript".into(),
                    "-e".into(),
                    format!("do shell script \"{escaped}\" with administrator privileges"),
                ]
            }
            Elevation::WindowsUac => {
                let utf16: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
                let encoded = base64::engine::general_purpose::STANDARD.encode(utf16);
                vec![
                    "powershell.exe".into(),
                    "-NoProfile".into(),
                    "-Command".into(),
                    format!(
                        "$p = Start-Process powershell.exe -Verb RunAs -Wait -PassThru \
                         -ArgumentList '-NoProfile','-EncodedCommand','{encoded}'; exit $p.ExitCode"
                    ),
                ]
            }
        }
    }
}

/// True when this process already has administrator rights (Unix: euid 0).
pub fn is_privileged() -> bool {
    #[cfg(unix)]
    {
        rustix::process::geteuid().is_root()
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// True when a step that keeps other people's files must keep this one: it
/// asks for Berth's `marker` and the file does not begin with it.
fn someone_elses(text: &str, marker: Option<&str>) -> bool {
    marker.is_some_and(|m| !text.lines().next().unwrap_or("").starts_with(m))
}

fn kept() -> (StepStatus, String) {
    (
        StepStatus::Skipped,
        "kept: it was not written by Berth".into(),
    )
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// What happened to one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// Done now.
    Done,
    /// Already so; nothing to do.
    Unchanged,
    /// Deliberately not done (a command under a test root, a file someone
    /// else wrote); the detail says why.
    Skipped,
    /// Failed; the plan stopped here.
    Failed,
    /// Failed, and the plan allows it (e.g. removing what is already gone).
    FailedIgnored,
    /// Not attempted because an earlier step failed.
    NotRun,
}

/// One step's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The client the step was for.
    pub target: Target,
    /// What the step does, with the real path (`write /tmp/root/etc/…`).
    pub description: String,
    /// What happened.
    pub status: StepStatus,
    /// Why, or what a command printed.
    pub detail: String,
}

/// What applying a plan did.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// One entry per step, in plan order.
    pub outcomes: Vec<Outcome>,
    /// The command that asked for administrator rights, without the script
    /// (`pkexec /bin/sh -c …`), when one ran.
    pub elevated_with: Option<String>,
}

impl Report {
    /// No step failed (ignored failures aside).
    pub fn succeeded(&self) -> bool {
        !self
            .outcomes
            .iter()
            .any(|o| matches!(o.status, StepStatus::Failed | StepStatus::NotRun))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(how) = &self.elevated_with {
            writeln!(f, "administrator steps ran through {how}")?;
        }
        for o in &self.outcomes {
            let status = match o.status {
                StepStatus::Done => "done",
                StepStatus::Unchanged => "unchanged",
                StepStatus::Skipped => "skipped",
                StepStatus::Failed => "FAILED",
                StepStatus::FailedIgnored => "failed (ignored)",
                StepStatus::NotRun => "not run",
            };
            write!(f, "{status:<16} {}", o.description)?;
            if !o.detail.is_empty() {
                write!(f, ": {}", o.detail.trim())?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// One line of a dry run.
#[derive(Clone, Debug, Serialize)]
pub struct DryRunLine {
    /// The client.
    pub target: Target,
    /// What the step would do, with the real path.
    pub description: String,
    /// The file or directory it touches, under the root.
    pub path: Option<PathBuf>,
    /// It needs administrator rights.
    pub elevated: bool,
    /// The new contents, for file writes.
    pub contents: Option<String>,
}

/// What applying a plan would touch: the UI shows this before asking.
#[derive(Clone, Debug, Serialize)]
pub struct DryRun {
    /// One line per step.
    pub lines: Vec<DryRunLine>,
    /// How administrator rights would be asked for, if they would.
    pub elevation: Option<Elevation>,
    /// The plan's notes.
    pub notes: Vec<String>,
}

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = self.elevation {
            writeln!(
                f,
                "These steps (#) need administrator rights; Berth asks once through {}:",
                match e {
                    Elevation::Pkexec => "pkexec",
                    Elevation::Sudo => "sudo",
                    Elevation::MacOsPrompt => "the macOS administrator prompt",
                    Elevation::WindowsUac => "a Windows UAC prompt",
                }
            )?;
        }
        for line in &self.lines {
            let mark = if line.elevated { '#' } else { '$' };
            writeln!(f, "{mark} [{}] {}", line.target, line.description)?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

/// Applies plans on one machine.
#[derive(Clone, Debug)]
pub struct Executor {
    machine: Machine,
    run_commands: bool,
    elevation: Option<Elevation>,
}

impl Executor {
    /// An executor for `machine`: on the live machine commands run and
    /// privileged steps are elevated the platform's way when this process
    /// is not privileged; under another root commands are skipped.
    pub fn new(machine: Machine) -> Executor {
        let live = machine.is_live();
        let elevation = if live {
            Elevation::detect(machine.platform)
        } else {
            None
        };
        Executor {
            machine,
            run_commands: live,
            elevation,
        }
    }

    /// Runs commands even under a non-`/` root (through `chroot`), or never.
    pub fn run_commands(mut self, run: bool) -> Executor {
        self.run_commands = run;
        self
    }

    /// Uses this elevation (or none: privileged steps run as this process).
    pub fn elevation(mut self, elevation: Option<Elevation>) -> Executor {
        self.elevation = elevation;
        self
    }

    /// The machine.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    fn elevates(&self, plan: &Plan) -> Option<Elevation> {
        self.elevation
            .filter(|_| self.machine.is_live() && plan.needs_elevation())
    }

    /// The command line the privileged steps of `plan` would run as, or
    /// `None` when no elevation is needed.
    pub fn elevated_argv(&self, plan: &Plan) -> Option<Vec<String>> {
        let elevation = self.elevates(plan)?;
        let steps: Vec<&Step> = plan.steps.iter().filter(|s| s.elevated).collect();
        let script = if self.machine.platform.is_windows() {
            shell::ps_script(&steps)
        } else {
            shell::sh_script(&steps)
        };
        Some(elevation.argv(&script))
    }

    /// Which files and commands `plan` would touch here.
    pub fn dry_run(&self, plan: &Plan) -> DryRun {
        DryRun {
            lines: plan
                .steps
                .iter()
                .map(|step| DryRunLine {
                    target: step.target,
                    description: self.describe(step),
                    path: step.action.path().map(|p| self.machine.path(p)),
                    elevated: step.elevated,
                    contents: match &step.action {
                        Action::WriteFile { contents, .. } => Some(contents.clone()),
                        _ => None,
                    },
                })
                .collect(),
            elevation: self.elevates(plan),
            notes: plan.notes.clone(),
        }
    }

    fn describe(&self, step: &Step) -> String {
        let real = |p: &std::path::Path| self.machine.path(p).display().to_string();
        match &step.action {
            Action::CreateDir { path, mode } => format!("create {} ({mode:o})", real(path)),
            Action::WriteFile {
                path,
                contents,
                mode,
                ..
            } => format!(
                "write {} ({mode:o}, {} bytes{})",
                real(path),
                contents.len(),
                if step.action.marker().is_some() {
                    "; kept if someone else wrote it"
                } else {
                    ""
                }
            ),
            Action::RemoveFile { path, .. } => format!("remove {}", real(path)),
            Action::RemoveDirIfEmpty { path } => format!("remove {} if empty", real(path)),
            Action::Run { argv, .. } => {
                let line: Vec<String> = argv
                    .iter()
                    .map(|a| {
                        if a.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@".contains(c))
                        {
                            a.clone()
                        } else {
                            shell::sh_quote(a)
                        }
                    })
                    .collect();
                let mut text = format!("run {}", line.join(" "));
                if !self.machine.is_live() && !self.run_commands {
                    text.push_str(" (skipped: not the live root)");
                }
                text
            }
        }
    }

    /// Applies `plan`. The privileged steps run first, together, in one
    /// elevated shell when needed; then the user's own steps in this
    /// process. Stops at the first failure.
    pub fn apply(&self, plan: &Plan) -> Report {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; plan.steps.len()];
        let mut elevated_with = None;
        let mut failed = false;
        if let (Some(argv), true) = (self.elevated_argv(plan), self.run_commands) {
            elevated_with = Some(argv[..argv.len() - 1].join(" "));
            let result = run_argv(&argv);
            for (i, step) in plan.steps.iter().enumerate().filter(|(_, s)| s.elevated) {
                let (status, detail) = match &result {
                    Ok(out) => (StepStatus::Done, last_lines(out)),
                    Err(e) => (StepStatus::Failed, e.clone()),
                };
                outcomes[i] = Some(self.outcome(step, status, detail));
            }
            failed = result.is_err();
        }
        for (i, step) in plan.steps.iter().enumerate() {
            if outcomes[i].is_some() {
                continue;
            }
            let (status, detail) = if failed {
                (StepStatus::NotRun, String::new())
            } else {
                self.apply_step(step)
            };
            failed |= status == StepStatus::Failed;
            outcomes[i] = Some(self.outcome(step, status, detail));
        }
        Report {
            outcomes: outcomes
                .into_iter()
                .map(|o| o.expect("every step"))
                .collect(),
            elevated_with,
        }
    }

    fn outcome(&self, step: &Step, status: StepStatus, detail: String) -> Outcome {
        Outcome {
            target: step.target,
            description: self.describe(step),
            status,
            detail,
        }
    }

    fn apply_step(&self, step: &Step) -> (StepStatus, String) {
        let fail = |e: crate::Error| (StepStatus::Failed, e.to_string());
        match &step.action {
            Action::CreateDir { path, mode } => {
                let real = self.machine.path(path);
                if real.is_dir() {
                    return (StepStatus::Unchanged, String::new());
                }
                match files::create_dir_all(&real, *mode) {
                    Ok(()) => (StepStatus::Done, String::new()),
                    Err(e) => fail(e),
                }
            }
            Action::WriteFile {
                path,
                contents,
                mode,
                ..
            } => {
                let real = self.machine.path(path);
                match files::read_optional(&real) {
                    Ok(Some(old)) if someone_elses(&old, step.action.marker()) => return kept(),
                    Ok(Some(old)) if old == *contents && files::mode_of(&real) == Some(*mode) => {
                        return (StepStatus::Unchanged, String::new());
                    }
                    Ok(_) => {}
                    Err(e) => return fail(e),
                }
                let parent = real.parent().map(PathBuf::from).unwrap_or_default();
                match files::create_dir_all(&parent, 0o755)
                    .and_then(|()| files::write_atomically(&real, contents.as_bytes(), *mode))
                {
                    Ok(()) => (StepStatus::Done, String::new()),
                    Err(e) => fail(e),
                }
            }
            Action::RemoveFile { path, .. } => {
                let real = self.machine.path(path);
                match files::read_optional(&real) {
                    Ok(None) => return (StepStatus::Unchanged, String::new()),
                    Ok(Some(old)) if someone_elses(&old, step.action.marker()) => return kept(),
                    _ => {}
                }
                match std::fs::remove_file(&real) {
                    Ok(()) => (StepStatus::Done, String::new()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        (StepStatus::Unchanged, String::new())
                    }
                    Err(e) => fail(crate::Error::io("cannot remove", &real, e)),
                }
            }
            Action::RemoveDirIfEmpty { path } => {
                let real = self.machine.path(path);
                let Ok(mut entries) = std::fs::read_dir(&real) else {
                    return (StepStatus::Unchanged, String::new());
                };
                if entries.next().is_some() {
                    return (StepStatus::Skipped, "kept: not empty".into());
                }
                match std::fs::remove_dir(&real) {
                    Ok(()) => (StepStatus::Done, String::new()),
                    Err(e) => fail(crate::Error::io("cannot remove", &real, e)),
                }
            }
            Action::Run {
                argv,
                ignore_failure,
            } => {
                if !self.run_commands {
                    return (
                        StepStatus::Skipped,
                        format!("commands are not run under {}", self.machine.root.display()),
                    );
                }
                let mut full = argv.clone();
                if !self.machine.is_live() {
                    full.splice(
                        0..0,
                        [
                            "chroot".to_string(),
                            self.machine.root.display().to_string(),
                        ],
                    );
                }
                match run_argv(&full) {
                    Ok(out) => (StepStatus::Done, last_lines(&out)),
                    Err(e) if *ignore_failure => (StepStatus::FailedIgnored, e),
                    Err(e) => (StepStatus::Failed, e),
                }
            }
        }
    }
}

/// Runs a command; its output on success, its status and output otherwise.
fn run_argv(argv: &[String]) -> Result<String, String> {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{} ({})", last_lines(&text), out.status))
    }
}

fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::RegistryAddr;
    use crate::plan::{self, tests::test_ca};

    fn reg() -> RegistryAddr {
        "registry.example.com:5000".parse().unwrap()
    }

    #[test]
    fn elevation_command_lines() {
        assert_eq!(
            Elevation::Pkexec.argv("echo hi"),
            ["pkexec", "/bin/sh", "-c", "echo hi"]
        );
        assert_eq!(
            Elevation::Sudo.argv("echo hi"),
            ["sudo", "--", "/bin/sh", "-c", "echo hi"]
        );
        assert_eq!(
            Elevation::MacOsPrompt.argv(r#"echo "a\b""#),
            [
                "osascript",
                "-e",
                r#"do shell script "echo \"a\\b\"" with administrator privileges"#,
            ]
        );
        let win = Elevation::WindowsUac.argv("'hi'");
        assert_eq!(&win[..3], ["powershell.exe", "-NoProfile", "-Command"]);
        // 'hi' in UTF-16LE, base64.
        assert!(
            win[3].contains("'-EncodedCommand','JwBoAGkAJwA='"),
            "{}",
            win[3]
        );
        assert!(win[3].contains("-Verb RunAs -Wait -PassThru"));
    }

    #[test]
    fn live_plans_elevate_only_their_privileged_steps() {
        let ca = test_ca();
        let live = Machine::new(Platform::Debian, "/", Some("/home/alice".into()));
        let plan = plan::trust(&live, &reg(), &ca, &[Target::System, Target::Nss]).unwrap();
        let exec = Executor::new(live.clone()).elevation(Some(Elevation::Pkexec));
        let argv = exec.elevated_argv(&plan).unwrap();
        assert_eq!(&argv[..3], ["pkexec", "/bin/sh", "-c"]);
        let script = &argv[3];
        assert!(script.contains(
            "berth_write \"$BERTH_ROOT\"'/usr/local/share/ca-certificates/berth-registry.example.com.crt' 644"
        ));
        assert!(script.contains("berth_run 'update-ca-certificates'"));
        assert!(
            !script.contains("certutil"),
            "NSS is the user's, not root's"
        );
        let dry = exec.dry_run(&plan);
        assert_eq!(dry.elevation, Some(Elevation::Pkexec));
        let text = dry.to_string();
        assert!(text.contains("# [system] write /usr/local/share/ca-certificates/berth-registry.example.com.crt (644"), "{text}");
        assert!(text.contains("$ [nss] run certutil -d sql:/home/alice/.pki/nssdb -A -t C,, -n 'Berth CA (registry.example.com:5000)'"), "{text}");

        let windows = Machine::new(Platform::Windows, "/", None);
        let plan = plan::trust(&windows, &reg(), &ca, &[Target::System]).unwrap();
        let argv = Executor::new(windows)
            .elevation(Some(Elevation::WindowsUac))
            .elevated_argv(&plan)
            .unwrap();
        assert_eq!(argv[0], "powershell.exe");

        // Under a test root there is nothing to elevate.
        let root = tempfile::tempdir().unwrap();
        let m = Machine::new(Platform::Debian, root.path(), None);
        let plan = plan::trust(&m, &reg(), &ca, &[Target::System]).unwrap();
        let exec = Executor::new(m).elevation(Some(Elevation::Sudo));
        assert_eq!(exec.elevated_argv(&plan), None);
    }

    #[test]
    fn applies_under_a_root_skipping_commands() {
        let ca = test_ca();
        let root = tempfile::tempdir().unwrap();
        let m = Machine::new(Platform::Debian, root.path(), None);
        let plan = plan::trust(&m, &reg(), &ca, &[Target::System, Target::Docker]).unwrap();
        let exec = Executor::new(m.clone());
        let dry = exec.dry_run(&plan).to_string();
        assert!(
            dry.contains("run update-ca-certificates (skipped: not the live root)"),
            "{dry}"
        );
        assert!(
            !root.path().join("usr").exists(),
            "a dry run touches nothing"
        );

        let report = exec.apply(&plan);
        assert!(report.succeeded(), "{report}");
        let statuses: Vec<StepStatus> = report.outcomes.iter().map(|o| o.status).collect();
        assert_eq!(
            statuses,
            [
                StepStatus::Done,
                StepStatus::Skipped,
                StepStatus::Done,
                StepStatus::Done
            ]
        );
        let anchor = root
            .path()
            .join("usr/local/share/ca-certificates/berth-registry.example.com.crt");
        assert_eq!(std::fs::read_to_string(&anchor).unwrap(), ca.pem());
        assert_eq!(files::mode_of(&anchor), Some(0o644));
        let again = exec.apply(&plan);
        assert_eq!(again.outcomes[0].status, StepStatus::Unchanged);

        let undo =
            exec.apply(&plan::untrust(&m, &reg(), &ca, &[Target::System, Target::Docker]).unwrap());
        assert!(undo.succeeded(), "{undo}");
        assert!(!anchor.exists());
        assert!(
            !root
                .path()
                .join("etc/docker/certs.d/registry.example.com:5000")
                .exists()
        );
        assert!(
            root.path().join("etc/docker/certs.d").exists(),
            "parents are left"
        );
    }

    #[test]
    fn a_failure_stops_the_plan() {
        let root = tempfile::tempdir().unwrap();
        // A file where a directory must go.
        std::fs::write(root.path().join("etc"), "").unwrap();
        let m = Machine::new(Platform::Debian, root.path(), None);
        let plan = plan::trust(
            &m,
            &reg(),
            &test_ca(),
            &[Target::Docker, Target::Containers],
        )
        .unwrap();
        let report = Executor::new(m).apply(&plan);
        assert!(!report.succeeded());
        assert_eq!(report.outcomes[0].status, StepStatus::Failed);
        assert!(
            report.outcomes[1..]
                .iter()
                .all(|o| o.status == StepStatus::NotRun)
        );
    }

    #[test]
    fn commands_run_when_allowed() {
        let m = Machine::new(Platform::Debian, "/", None);
        let mut plan = Plan::new(crate::plan::PlanKind::Trust, Platform::Debian, &reg());
        plan.push(
            Target::System,
            false,
            Action::Run {
                argv: vec!["sh".into(), "-c".into(), "echo ran; exit 3".into()],
                ignore_failure: true,
            },
        );
        plan.push(
            Target::System,
            false,
            Action::Run {
                argv: vec!["true".into()],
                ignore_failure: false,
            },
        );
        let report = Executor::new(m).elevation(None).apply(&plan);
        assert_eq!(report.outcomes[0].status, StepStatus::FailedIgnored);
        assert!(report.outcomes[0].detail.contains("ran"), "{report}");
        assert_eq!(report.outcomes[1].status, StepStatus::Done);
        assert!(report.succeeded());
    }
}
