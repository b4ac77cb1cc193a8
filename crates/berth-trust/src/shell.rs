//! Plans as POSIX shell and PowerShell text: what one elevated run executes,
//! and the body of `install.sh` and `install.ps1`.
//!
//! Both renderings write every path under `$BERTH_ROOT` (empty for `/`) and
//! skip commands when it is set, exactly as the executor does under a test
//! root, so a script and the executor leave the same files behind.

use std::path::Path;

use crate::plan::{Action, Step};

/// Quotes `s` for a POSIX shell: one single-quoted word.
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The helpers every rendered step calls. `berth_write` stages the new file
/// beside the old one (umask 077, so nothing is readable half-written) and
/// renames it into place.
pub(crate) const SH_FUNCTIONS: &str = r#"berth_mkdir() {
  [ -d "$1" ] && return 0
  mkdir -p "$1" && chmod "$2" "$1" && echo "created $1"
}
berth_ours() {
  [ -z "$2" ] && return 0
  berth_first=$(head -n 1 "$1")
  case $berth_first in "$2"*) return 0 ;; esac
  echo "kept $1: it was not written by Berth"
  return 1
}
berth_write() {
  if [ -e "$1" ] && ! berth_ours "$1" "${4:-}"; then return 0; fi
  mkdir -p "$(dirname "$1")"
  (umask 077 && printf '%s' "$3" > "$1.berth-tmp")
  chmod "$2" "$1.berth-tmp" && mv -f "$1.berth-tmp" "$1" && echo "wrote $1"
}
berth_remove() {
  [ -e "$1" ] || return 0
  berth_ours "$1" "${2:-}" || return 0
  rm -f "$1" && echo "removed $1"
}
berth_rmdir() {
  if [ -d "$1" ] && rmdir "$1" 2>/dev/null; then echo "removed $1"; fi
  return 0
}
berth_run() {
  if [ -n "$BERTH_ROOT" ]; then echo "skipped (BERTH_ROOT is set): $*"; return 0; fi
  echo "running $*"
  "$@"
}
berth_run_may_fail() {
  berth_run "$@" || echo "($1 failed; continuing)"
}
"#;

fn sh_path(path: &Path) -> String {
    format!("\"$BERTH_ROOT\"{}", sh_quote(&path.display().to_string()))
}

/// One step as a shell command line.
pub(crate) fn sh_step(step: &Step) -> String {
    let mut line = match &step.action {
        Action::CreateDir { path, mode } => format!("berth_mkdir {} {mode:o}", sh_path(path)),
        Action::WriteFile {
            path,
            contents,
            mode,
            ..
        } => format!(
            "berth_write {} {mode:o} {}",
            sh_path(path),
            sh_quote(contents)
        ),
        Action::RemoveFile { path, .. } => format!("berth_remove {}", sh_path(path)),
        Action::RemoveDirIfEmpty { path } => format!("berth_rmdir {}", sh_path(path)),
        Action::Run {
            argv,
            ignore_failure,
        } => {
            let f = if *ignore_failure {
                "berth_run_may_fail"
            } else {
                "berth_run"
            };
            let args: Vec<String> = argv.iter().map(|a| sh_quote(a)).collect();
            format!("{f} {}", args.join(" "))
        }
    };
    if let Some(marker) = step.action.marker() {
        line.push(' ');
        line.push_str(&sh_quote(marker));
    }
    line
}

/// A complete script that performs `steps` on `/` (for one elevated run).
pub(crate) fn sh_script(steps: &[&Step]) -> String {
    let mut script = String::from("set -eu\nBERTH_ROOT=''\n");
    script.push_str(SH_FUNCTIONS);
    for step in steps {
        script.push_str(&sh_step(step));
        script.push('\n');
    }
    script
}

/// Quotes `s` for PowerShell: one single-quoted string.
pub(crate) fn ps_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// PowerShell helpers. `%VAR%` in paths is expanded (the CurrentUser store
/// lives under `%USERPROFILE%`); with `$env:BERTH_ROOT` set, paths go under it
/// (drive letter dropped) and commands are skipped.
pub(crate) const PS_FUNCTIONS: &str = r#"$BerthRoot = $env:BERTH_ROOT
function Berth-Path([string]$p) {
  $p = [Environment]::ExpandEnvironmentVariables($p)
  if ($BerthRoot) { Join-Path $BerthRoot ($p -replace '^[A-Za-z]:\\', '') } else { $p }
}
function Berth-Mkdir([string]$p) {
  $p = Berth-Path $p
  if (-not (Test-Path -LiteralPath $p)) { New-Item -ItemType Directory -Force -Path $p | Out-Null; "created $p" }
}
function Berth-Write([string]$p, [string]$text) {
  $p = Berth-Path $p
  $dir = Split-Path -Parent $p
  if (-not (Test-Path -LiteralPath $dir)) { New-Item -ItemType Directory -Force -Path $dir | Out-Null }
  [IO.File]::WriteAllText("$p.berth-tmp", $text)
  Move-Item -Force -LiteralPath "$p.berth-tmp" -Destination $p
  "wrote $p"
}
function Berth-Remove([string]$p) {
  $p = Berth-Path $p
  if (Test-Path -LiteralPath $p) { Remove-Item -Force -LiteralPath $p; "removed $p" }
}
function Berth-Rmdir([string]$p) {
  $p = Berth-Path $p
  if ((Test-Path -LiteralPath $p) -and -not (Get-ChildItem -Force -LiteralPath $p)) { Remove-Item -LiteralPath $p; "removed $p" }
}
function Berth-Run([bool]$mayFail, [string[]]$argv) {
  $argv = @($argv | ForEach-Object { [Environment]::ExpandEnvironmentVariables($_) })
  if ($BerthRoot) { "skipped (BERTH_ROOT is set): $argv"; return }
  "running $argv"
  & $argv[0] @($argv | Select-Object -Skip 1)
  if ($LASTEXITCODE -ne 0 -and -not $mayFail) { throw "$($argv[0]) failed with exit code $LASTEXITCODE" }
}
"#;

/// One step as a PowerShell statement.
pub(crate) fn ps_step(step: &Step) -> String {
    let p = |path: &Path| ps_quote(&path.display().to_string());
    match &step.action {
        Action::CreateDir { path, .. } => format!("Berth-Mkdir {}", p(path)),
        Action::WriteFile { path, contents, .. } => {
            format!("Berth-Write {} {}", p(path), ps_quote(contents))
        }
        Action::RemoveFile { path, .. } => format!("Berth-Remove {}", p(path)),
        Action::RemoveDirIfEmpty { path } => format!("Berth-Rmdir {}", p(path)),
        Action::Run {
            argv,
            ignore_failure,
        } => {
            let args: Vec<String> = argv.iter().map(|a| ps_quote(a)).collect();
            format!(
                "Berth-Run ${} @({})",
                if *ignore_failure { "true" } else { "false" },
                args.join(", ")
            )
        }
    }
}

/// A complete PowerShell script that performs `steps`.
pub(crate) fn ps_script(steps: &[&Step]) -> String {
    let mut script = String::from("$ErrorActionPreference = 'Stop'\n");
    script.push_str(PS_FUNCTIONS);
    for step in steps {
        script.push_str(&ps_step(step));
        script.push('\n');
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Target;

    fn step(action: Action) -> Step {
        Step {
            target: Target::System,
            action,
            elevated: true,
        }
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(ps_quote("it's"), "'it''s'");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s' {}", sh_quote("a'b\"c$d`e\\f\n")))
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"a'b\"c$d`e\\f\n");
    }

    #[test]
    fn steps_render() {
        let write = step(Action::WriteFile {
            path: "/etc/x/ca.crt".into(),
            contents: "PEM\n".into(),
            mode: 0o644,
            only_replacing: Some("# Written by Berth:".into()),
        });
        assert_eq!(
            sh_step(&write),
            "berth_write \"$BERTH_ROOT\"'/etc/x/ca.crt' 644 'PEM\n' '# Written by Berth:'"
        );
        let run = step(Action::Run {
            argv: vec![
                "trust".into(),
                "anchor".into(),
                "--remove".into(),
                "/a b".into(),
            ],
            ignore_failure: true,
        });
        assert_eq!(
            sh_step(&run),
            "berth_run_may_fail 'trust' 'anchor' '--remove' '/a b'"
        );
        assert_eq!(
            ps_step(&run),
            "Berth-Run $true @('trust', 'anchor', '--remove', '/a b')"
        );
        assert_eq!(
            ps_step(&step(Action::RemoveFile {
                path: r"C:\ProgramData\Berth\x.crt".into(),
                only_if_first_line: None
            })),
            r"Berth-Remove 'C:\ProgramData\Berth\x.crt'"
        );
    }

    #[test]
    fn the_helpers_keep_foreign_files_and_skip_commands_under_a_root() {
        let root = tempfile::tempdir().unwrap();
        let foreign = root.path().join("etc/hosts.toml");
        std::fs::create_dir_all(foreign.parent().unwrap()).unwrap();
        std::fs::write(&foreign, "server = \"mine\"\n").unwrap();
        let steps = [
            step(Action::WriteFile {
                path: "/etc/hosts.toml".into(),
                contents: "# Written by Berth: x\n".into(),
                mode: 0o644,
                only_replacing: Some("# Written by Berth:".into()),
            }),
            step(Action::CreateDir {
                path: "/a/b".into(),
                mode: 0o755,
            }),
            step(Action::WriteFile {
                path: "/a/b/f".into(),
                contents: "no newline".into(),
                mode: 0o600,
                only_replacing: None,
            }),
            step(Action::Run {
                argv: vec!["false".into()],
                ignore_failure: false,
            }),
        ];
        let refs: Vec<&Step> = steps.iter().collect();
        let script = sh_script(&refs).replacen("BERTH_ROOT=''", "", 1);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("BERTH_ROOT", root.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("kept"), "{stdout}");
        assert!(
            stdout.contains("skipped (BERTH_ROOT is set): false"),
            "{stdout}"
        );
        assert_eq!(
            std::fs::read_to_string(&foreign).unwrap(),
            "server = \"mine\"\n"
        );
        assert_eq!(
            std::fs::read(root.path().join("a/b/f")).unwrap(),
            b"no newline"
        );
        assert_eq!(
            crate::files::mode_of(&root.path().join("a/b/f")),
            Some(0o600)
        );
    }
}
