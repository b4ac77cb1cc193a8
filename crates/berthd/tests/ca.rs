//! `berthd ca` end to end: a CA made by `berthd ca init`, a real `berthd
//! serve` with its certificate, and real clients (curl, skopeo) that must
//! fail before `berthd ca trust --root`, pass after it, and fail again after
//! `berthd ca untrust`, using only the files under that temporary root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_e2e::image::{LayerSpec, OciLayout, Platform};
use berth_e2e::peer;
use berth_e2e::registry::{Options, Registry, berthd_bin};
use berth_e2e::skopeo::{Access, Skopeo, docker};

fn berthd(args: &[&str]) -> Output {
    Command::new(berthd_bin())
        .args(args)
        .env_remove("BERTH_CA_DIR")
        .env_remove("BERTH_CA_HOST")
        .output()
        .expect("run berthd")
}

fn ok(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "berthd failed:\n{text}");
    text
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// `curl --cacert FILE https://HOST/v2/`: true when the TLS handshake (and
/// the request) succeeds.
fn curl_trusts(curl: &Path, ca_file: &Path, url: &str) -> (bool, String) {
    let out = Command::new(curl)
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(ca_file)
        .arg(format!("{url}/v2/"))
        .output()
        .expect("run curl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.starts_with("200"), text)
}

#[test]
fn trust_and_untrust_under_a_root_with_curl_and_skopeo() {
    let Some(curl) = peer::require("curl", "curl") else {
        return;
    };
    let Some(skopeo) = Skopeo::find() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = tmp.path().join("ca");
    let root = tmp.path().join("root");
    for dir in ["etc/docker", "etc/containers"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(
        root.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"12\"\n",
    )
    .unwrap();

    let init = ok(&berthd(&[
        "ca",
        "init",
        "--dir",
        s(&ca_dir),
        "--hostname",
        "berth-e2e-host",
    ]));
    assert!(init.contains("created the CA"), "{init}");
    assert!(init.contains("certificate: "), "{init}");
    let again = ok(&berthd(&[
        "ca",
        "init",
        "--dir",
        s(&ca_dir),
        "--hostname",
        "berth-e2e-host",
    ]));
    assert!(
        again.contains("kept the CA") && again.contains("kept the server certificate"),
        "{again}"
    );

    let mut registry = Registry::berthd(Options {
        tls: Some((ca_dir.join("server.crt"), ca_dir.join("server.key"))),
        ..Default::default()
    });
    let host = registry.host();
    let url = registry.url();
    assert!(url.starts_with("https://"));

    // Something to inspect and pull: a small image, pushed without verification.
    let layout = OciLayout::create(tmp.path().join("layout"));
    layout.add_image("1", Platform::LINUX_AMD64, &[LayerSpec::new(7, 4096)]);
    let reference = docker(&host, "trust/app:1");
    skopeo.push(&layout, "1", &reference, &Access::insecure());

    let anchor = root.join("usr/local/share/ca-certificates/berth-127.0.0.1.crt");
    let containers_dir = root.join("etc/containers/certs.d").join(&host);
    let docker_dir = root.join("etc/docker/certs.d").join(&host);
    // Every `berthd ca` command here acts on the temporary root; all but
    // `verify` (which needs no CA) read the CA directory.
    let run = |cmd: &[&str]| {
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend(["--root", s(&root), "--host", host.as_str()]);
        if cmd[1] != "verify" {
            args.extend(["--dir", s(&ca_dir)]);
        }
        berthd(&args)
    };

    // Before: nothing under the root trusts the registry.
    let (trusted, why) = curl_trusts(&curl, &anchor, &url);
    assert!(!trusted, "curl trusted it before `trust`: {why}");
    let before = skopeo.try_inspect_raw(&reference, &Access::verified(&containers_dir));
    let failure = before.expect_err("skopeo trusted the registry before `trust`");
    assert!(failure.stderr.contains("certificate"), "{failure}");
    let verify = run(&["ca", "verify"]);
    assert!(!verify.status.success(), "verify passed before trust");
    assert!(String::from_utf8_lossy(&verify.stdout).contains("not trusted"));

    // The dry run lists the files and touches nothing.
    let dry = ok(&run(&["ca", "trust", "--dry-run"]));
    assert!(dry.contains(s(&anchor)), "{dry}");
    assert!(
        dry.contains("run update-ca-certificates (skipped: not the live root)"),
        "{dry}"
    );
    assert!(!anchor.exists());

    // Trust: the files appear; curl and skopeo verify with only them.
    let trust = ok(&run(&["ca", "trust"]));
    assert!(trust.contains("skipped"), "{trust}");
    let ca_pem = std::fs::read_to_string(ca_dir.join("ca.crt")).unwrap();
    for file in [
        anchor.clone(),
        containers_dir.join("ca.crt"),
        docker_dir.join("ca.crt"),
    ] {
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            ca_pem,
            "{}",
            file.display()
        );
    }
    let (trusted, why) = curl_trusts(&curl, &anchor, &url);
    assert!(trusted, "curl does not trust it after `trust`: {why}");
    let raw = skopeo
        .try_inspect_raw(&reference, &Access::verified(&containers_dir))
        .unwrap_or_else(|f| panic!("skopeo with the containers cert dir: {f}"));
    assert!(!raw.is_empty());
    // Docker's certs.d has the same layout; skopeo reads it as well.
    skopeo
        .try_pull(
            &reference,
            &tmp.path().join("pulled"),
            "1",
            &Access::verified(&docker_dir),
            false,
        )
        .unwrap_or_else(|f| panic!("skopeo with the docker cert dir: {f}"));
    let verify = ok(&run(&["ca", "verify"]));
    assert!(verify.contains("trusted"), "{verify}");
    let status = ok(&run(&["ca", "status", "--json"]));
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let clients = status["clients"].as_array().unwrap();
    let state = |t: &str| {
        clients
            .iter()
            .find(|c| c["target"] == t)
            .map(|c| c["state"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(state("system"), "trusted");
    assert_eq!(state("docker"), "trusted");
    assert_eq!(state("containers"), "trusted");
    assert_eq!(state("containerd"), "not-present");
    assert!(
        status["certificates"]["server"]["names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "berth-e2e-host")
    );

    // Untrust: exactly those files go, and verification fails again.
    let untrust = ok(&run(&["ca", "untrust"]));
    assert!(
        untrust.contains("removed") || untrust.contains("done"),
        "{untrust}"
    );
    assert!(!anchor.exists());
    assert!(!containers_dir.exists() && !docker_dir.exists());
    assert!(root.join("etc/containers/certs.d").is_dir(), "parents stay");
    let after = skopeo.try_inspect_raw(&reference, &Access::verified(&containers_dir));
    let failure = after.expect_err("skopeo trusted the registry after `untrust`");
    assert!(failure.stderr.contains("certificate"), "{failure}");
    let (trusted, why) = curl_trusts(&curl, &anchor, &url);
    assert!(!trusted, "curl trusted it after `untrust`: {why}");
    assert!(!run(&["ca", "verify"]).status.success());

    registry.stop();
}

#[test]
fn insecure_edits_client_configs_under_a_root_and_undoes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    for dir in ["etc/docker", "etc/containerd", "etc/containers"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(root.join("etc/os-release"), "ID=fedora\n").unwrap();
    let daemon_json = root.join("etc/docker/daemon.json");
    std::fs::write(&daemon_json, "{\"log-driver\": \"journald\"}\n").unwrap();
    let conf = root.join("etc/containers/registries.conf");
    std::fs::write(&conf, "# the distribution's comments\n").unwrap();

    let args = |extra: &[&str]| -> Vec<String> {
        [
            "ca",
            "insecure",
            "--root",
            s(&root),
            "--host",
            "10.1.2.3:5000",
        ]
        .iter()
        .chain(extra)
        .map(|a| a.to_string())
        .collect()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        berthd(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = ok(&run(&[]));
    assert!(out.contains("systemctl reload docker"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&daemon_json).unwrap()).unwrap();
    assert_eq!(json["log-driver"], "journald");
    assert_eq!(json["insecure-registries"][0], "10.1.2.3:5000");
    let hosts: PathBuf = root.join("etc/containerd/certs.d/10.1.2.3:5000/hosts.toml");
    assert!(
        std::fs::read_to_string(&hosts)
            .unwrap()
            .contains("skip_verify = true")
    );
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.starts_with("# the distribution's comments\n"),
        "{text}"
    );
    assert!(
        text.contains("location = \"10.1.2.3:5000\"\ninsecure = true"),
        "{text}"
    );

    ok(&run(&["--undo"]));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&daemon_json).unwrap()).unwrap();
    assert_eq!(json, serde_json::json!({"log-driver": "journald"}));
    assert!(!hosts.exists());
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        "# the distribution's comments\n"
    );
}
