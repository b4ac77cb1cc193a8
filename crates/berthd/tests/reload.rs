//! Files `berthd serve` reads again when they change, without a restart:
//! the htpasswd file (a new password works, the old one stops working) and
//! the TLS certificate and key (a new handshake sees the new certificate).
//! The files are changed as an admin changes them: with `htpasswd`, and by
//! moving new PEM files over the old ones.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_e2e::credentials;
use berth_e2e::peer;
use berth_e2e::registry::{Options, Registry, client};

/// Polls `done` until it holds, for at most 30 s.
fn eventually(what: &str, registry: &Registry, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} never happened; log:\n{}",
            registry.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_changed_htpasswd_file_counts_without_a_restart() {
    let secrets = tempfile::tempdir().unwrap();
    let Some(file) = credentials::htpasswd(secrets.path(), "admin", "first-pass") else {
        return;
    };
    let registry = Registry::berthd(Options {
        htpasswd: Some(file.clone()),
        ..Options::default()
    });
    let status = |user: &str, password: &str| {
        client()
            .get(format!("{}/v2/", registry.url()))
            .basic_auth(user, Some(password))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(status("admin", "first-pass"), 200);
    assert_eq!(status("dev", "dev-pass"), 401);
    let pid = registry.pid();

    let htpasswd = peer::find("htpasswd").expect("found above");
    for (user, password) in [("admin", "second-pass"), ("dev", "dev-pass")] {
        let ok = Command::new(&htpasswd)
            .args(["-Bb"])
            .arg(&file)
            .args([user, password])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success());
    }
    eventually("the new password working", &registry, || {
        status("admin", "second-pass") == 200
    });
    assert_eq!(
        status("admin", "first-pass"),
        401,
        "the old password stops working"
    );
    assert_eq!(status("dev", "dev-pass"), 200, "an added user can log in");
    assert_eq!(registry.pid(), pid, "no restart");
}

/// The SHA-256 fingerprint of a PEM certificate file, as openssl prints it.
fn fingerprint_of_file(cert: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(cert)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The fingerprint of the certificate a new TLS handshake with `host` shows.
fn served_fingerprint(host: &str) -> String {
    let shown = Command::new("openssl")
        .args(["s_client", "-connect", host])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    x509.stdin.take().unwrap().write_all(&shown.stdout).unwrap();
    let out = x509.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn replaced_certificate_files_serve_the_new_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    std::fs::create_dir_all(&first).unwrap();
    std::fs::create_dir_all(&second).unwrap();
    let Some(old) = credentials::self_signed_certificate(&first) else {
        return;
    };
    let Some(new) = credentials::self_signed_certificate(&second) else {
        return;
    };
    // The registry's own files, which the admin replaces.
    let live = dir.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    let (cert, key) = (live.join("registry.crt"), live.join("registry.key"));
    std::fs::copy(&old.cert, &cert).unwrap();
    std::fs::copy(&old.key, &key).unwrap();
    let registry = Registry::berthd(Options {
        tls: Some((cert.clone(), key.clone())),
        ..Options::default()
    });
    let (old_print, new_print) = (
        fingerprint_of_file(&old.cert),
        fingerprint_of_file(&new.cert),
    );
    assert_ne!(old_print, new_print);
    assert!(old_print.contains("Fingerprint="), "{old_print}");
    assert_eq!(served_fingerprint(&registry.host()), old_print);

    // Moved into place, key first: in between, the pair does not match and
    // the registry keeps serving the old one.
    for (from, to) in [(&new.key, &key), (&new.cert, &cert)] {
        let staged = to.with_extension("new");
        std::fs::copy(from, &staged).unwrap();
        std::fs::rename(&staged, to).unwrap();
    }
    eventually("the new certificate being served", &registry, || {
        served_fingerprint(&registry.host()) == new_print
    });
    let resp = client()
        .get(format!("{}/v2/", registry.url()))
        .send()
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "requests still work over the new certificate"
    );
}
