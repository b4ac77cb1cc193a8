//! The `berthd` command line as a user runs it: real processes, real files,
//! real sockets.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn berthd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_berthd"))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn validate_accepts_a_servable_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "config.yml",
        "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /srv/registry\nhttp:\n  addr: :5000\n",
    );
    let (ok, out) = run(berthd().args(["config", "validate"]).arg(&file));
    assert!(ok, "{out}");
    assert!(
        out.contains("OK — filesystem storage at /srv/registry"),
        "{out}"
    );
}

#[test]
fn validate_names_line_and_column_of_a_type_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "config.yml",
        "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /srv\n  delete:\n    enabled: maybe\n",
    );
    let (ok, out) = run(berthd().args(["config", "validate"]).arg(&file));
    assert!(!ok, "{out}");
    assert!(
        out.contains("config.yml:6:"),
        "line of `enabled: maybe` named: {out}"
    );
}

#[test]
fn validate_says_precisely_what_berth_cannot_serve() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "config.yml",
        "version: 0.1\nstorage:\n  storj:\n    bucket: b\nhttp:\n  addr: :5000\n",
    );
    let (ok, out) = run(berthd().args(["config", "validate"]).arg(&file));
    assert!(!ok, "{out}");
    assert!(out.contains("cannot serve"), "{out}");
    assert!(out.contains("\"storj\""), "driver named: {out}");
}

#[test]
fn serve_refuses_an_unavailable_driver_without_listening() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "config.yml",
        "version: 0.1\nstorage:\n  rados:\n    poolname: x\nhttp:\n  addr: 127.0.0.1:0\n",
    );
    let (ok, out) = run(berthd().arg("serve").arg("--config").arg(&file));
    assert!(!ok);
    assert!(
        out.contains("rados") && out.contains("not available"),
        "{out}"
    );
}

#[test]
fn print_redacts_secrets_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "config.yml",
        "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /srv\nhttp:\n  addr: :5000\n  secret: hunter2-very-secret\n",
    );
    let (ok, out) = run(berthd().args(["config", "print", "--config"]).arg(&file));
    assert!(ok, "{out}");
    assert!(!out.contains("hunter2"), "{out}");
    let (ok, out) = run(berthd()
        .args(["config", "print", "--show-secrets", "--config"])
        .arg(&file));
    assert!(ok && out.contains("hunter2-very-secret"), "{out}");
}

#[test]
fn serve_without_config_uses_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let port = berth_e2e::registry::free_port();
    let mut child = berthd()
        .arg("serve")
        .env("BERTH_DATA_DIR", dir.path().join("data"))
        .env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env_remove("BERTH_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.contains(&format!("http://127.0.0.1:{port}/v2/")),
        "address printed: {line}"
    );
    assert!(
        line.contains(&dir.path().join("data").display().to_string()),
        "storage path printed: {line}"
    );
    let mut answered = false;
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            answered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        answered,
        "berthd listened on the embedded default's address"
    );
}

#[test]
fn check_storage_passes_every_step_on_a_writable_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let file = write(
        dir.path(),
        "config.yml",
        &format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n",
            root.display()
        ),
    );
    let (ok, out) = run(berthd().args(["check-storage", "--config"]).arg(&file));
    assert!(ok, "{out}");
    for step in ["list", "write", "read", "check", "delete"] {
        assert!(
            out.contains(&format!("ok   {step}")),
            "{step} reported: {out}"
        );
    }
    assert!(out.contains("storage OK"), "{out}");
    let left: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".berth-tmp")
        .collect();
    assert!(left.is_empty(), "the probe object is gone: {left:?}");
}

#[test]
fn check_storage_names_the_failing_step_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    // The root directory's place is taken by a plain file: nothing can be
    // stored there, for root too.
    let root = write(dir.path(), "not-a-directory", "x");
    let file = write(
        dir.path(),
        "config.yml",
        &format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}/sub\n",
            root.display()
        ),
    );
    let (ok, out) = run(berthd().args(["check-storage", "--config"]).arg(&file));
    assert!(!ok, "{out}");
    assert!(out.contains("FAIL"), "{out}");
    assert!(out.contains("not-a-directory"), "the path is named: {out}");
}

#[test]
fn iam_policy_names_the_bucket_and_refuses_a_bad_name() {
    let (ok, out) = run(berthd().args(["iam-policy", "--bucket", "team-registry"]));
    assert!(ok, "{out}");
    let policy: serde_json::Value = serde_json::from_str(&out).expect("the policy is JSON");
    let text = policy.to_string();
    for action in [
        "s3:ListAllMyBuckets",
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "s3:ListBucketMultipartUploads",
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
    ] {
        assert!(text.contains(action), "{action} in {text}");
    }
    assert!(text.contains("arn:aws:s3:::team-registry/*"), "{text}");
    let (ok, out) = run(berthd().args(["iam-policy", "--bucket", "Team_Registry"]));
    assert!(!ok);
    assert!(out.contains("not a valid S3 bucket name"), "{out}");
}
