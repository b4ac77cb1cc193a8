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

/// A CA made by `berthd ca init`, a `berthd serve` with its certificate and
/// an image in it, and an empty Debian-like root with Docker and podman.
struct Served {
    tmp: tempfile::TempDir,
    curl: PathBuf,
    skopeo: Skopeo,
    ca_dir: PathBuf,
    root: PathBuf,
    registry: Registry,
    host: String,
    url: String,
    reference: String,
}

impl Served {
    /// `None` (the test is skipped) without curl or skopeo.
    fn start() -> Option<Served> {
        let curl = peer::require("curl", "curl")?;
        let skopeo = Skopeo::find()?;
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

        let registry = Registry::berthd(Options {
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
        Some(Served {
            tmp,
            curl,
            skopeo,
            ca_dir,
            root,
            registry,
            host,
            url,
            reference,
        })
    }

    /// The OS store's anchor under the root (what curl is pointed at).
    fn anchor(&self) -> PathBuf {
        self.root
            .join("usr/local/share/ca-certificates/berth-127.0.0.1.crt")
    }

    /// A client's `certs.d/<host:port>` under the root.
    fn certs_d(&self, client: &str) -> PathBuf {
        self.root
            .join("etc")
            .join(client)
            .join("certs.d")
            .join(&self.host)
    }

    /// The CA is in the OS store and in podman's and Docker's certs.d under
    /// the root, byte for byte.
    fn assert_installed(&self) {
        let ca_pem = std::fs::read_to_string(self.ca_dir.join("ca.crt")).unwrap();
        for file in [
            self.anchor(),
            self.certs_d("containers").join("ca.crt"),
            self.certs_d("docker").join("ca.crt"),
        ] {
            let installed = std::fs::read_to_string(&file).unwrap_or_default();
            assert_eq!(installed, ca_pem, "{}", file.display());
        }
    }

    /// Whether curl (with the OS anchor) and skopeo (with podman's cert
    /// directory) verify the registry using only the files under the root.
    fn clients_trust(&self) -> (bool, bool, String) {
        let (curl, why) = curl_trusts(&self.curl, &self.anchor(), &self.url);
        let access = Access::verified(self.certs_d("containers"));
        match self.skopeo.try_inspect_raw(&self.reference, &access) {
            Ok(raw) => (curl, !raw.is_empty(), why),
            Err(f) => {
                assert!(f.stderr.contains("certificate"), "{f}");
                (curl, false, format!("{why}; skopeo: {f}"))
            }
        }
    }
}

#[test]
fn trust_and_untrust_under_a_root_with_curl_and_skopeo() {
    let Some(mut served) = Served::start() else {
        return;
    };
    let again = ok(&berthd(&[
        "ca",
        "init",
        "--dir",
        s(&served.ca_dir),
        "--hostname",
        "berth-e2e-host",
    ]));
    assert!(
        again.contains("kept the CA") && again.contains("kept the server certificate"),
        "{again}"
    );
    let anchor = served.anchor();
    let containers_dir = served.certs_d("containers");
    let docker_dir = served.certs_d("docker");
    // Every `berthd ca` command here acts on the temporary root; all but
    // `verify` (which needs no CA) read the CA directory.
    let run = |cmd: &[&str]| {
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend(["--root", s(&served.root), "--host", served.host.as_str()]);
        if cmd[1] != "verify" {
            args.extend(["--dir", s(&served.ca_dir)]);
        }
        berthd(&args)
    };

    // Before: nothing under the root trusts the registry.
    let (curl, skopeo, why) = served.clients_trust();
    assert!(!curl && !skopeo, "trusted before `trust`: {why}");
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
    served.assert_installed();
    let (curl, skopeo, why) = served.clients_trust();
    assert!(curl && skopeo, "not trusted after `trust`: {why}");
    // Docker's certs.d has the same layout; skopeo reads it as well.
    served
        .skopeo
        .try_pull(
            &served.reference,
            &served.tmp.path().join("pulled"),
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
    assert!(
        served.root.join("etc/containers/certs.d").is_dir(),
        "parents stay"
    );
    let (curl, skopeo, why) = served.clients_trust();
    assert!(!curl && !skopeo, "trusted after `untrust`: {why}");
    assert!(!run(&["ca", "verify"]).status.success());

    served.registry.stop();
}

/// `curl -fsSLk URL`: what a client that does not trust the registry yet
/// can fetch.
fn curl_unverified(curl: &Path, url: &str) -> String {
    let out = Command::new(curl)
        .args(["-fsSLk", url])
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a one-liner as a client would, in `cwd`, with `sudo sh` as plain
/// `sh` (the install goes under `BERTH_ROOT`, which needs no root).
fn run_one_liner(line: &str, cwd: &Path, root: &Path) -> Output {
    assert!(line.contains("&& sudo sh berth-install.sh"), "{line}");
    let line = line.replace("&& sudo sh ", "&& sh ");
    Command::new("sh")
        .args(["-c", &line])
        .current_dir(cwd)
        .env("BERTH_ROOT", root)
        .output()
        .expect("run sh")
}

#[test]
fn another_machine_installs_the_ca_with_the_one_liner_from_the_registry() {
    let Some(mut served) = Served::start() else {
        return;
    };
    // What berthd serve publishes, without credentials or verification.
    let ca_pem = std::fs::read_to_string(served.ca_dir.join("ca.crt")).unwrap();
    assert_eq!(
        curl_unverified(&served.curl, &format!("{}/ca", served.url)),
        ca_pem
    );
    let served_script = curl_unverified(&served.curl, &format!("{}/ca/install.sh", served.url));
    let ca = berth_trust::Certificate::from_pem(&ca_pem).unwrap();
    assert!(served_script.contains(ca.sha256_fingerprint()));
    assert!(served_script.contains(&format!("/etc/containers/certs.d/{}", served.host)));
    let ps1 = curl_unverified(&served.curl, &format!("{}/ca/install.ps1", served.url));
    assert!(ps1.contains("Root"), "{ps1}");
    assert!(
        served.registry.log().contains("publishing the CA of"),
        "{}",
        served.registry.log()
    );

    // The one-liner `berthd ca status` prints (as the Trust page shows it).
    let status = ok(&berthd(&[
        "ca",
        "status",
        "--json",
        "--dir",
        s(&served.ca_dir),
        "--host",
        &served.host,
        "--root",
        s(&served.root),
    ]));
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let linux = status["oneLiners"]["linux"].as_str().unwrap().to_string();
    assert!(
        linux.contains(&format!("{}/ca/install.sh", served.url)),
        "{linux}"
    );

    // A script that is not byte for byte the one the hash was made from
    // never runs.
    let cwd = served.tmp.path().join("client");
    std::fs::create_dir_all(&cwd).unwrap();
    let hash = berth_trust::script::script_sha256(&served_script);
    let forged = linux.replace(&hash, &"0".repeat(64));
    let out = run_one_liner(&forged, &cwd, &served.root);
    assert!(!out.status.success(), "a wrong hash ran the script");
    assert!(!served.anchor().exists());

    let (curl, skopeo, why) = served.clients_trust();
    assert!(!curl && !skopeo, "trusted before the install: {why}");
    let out = run_one_liner(&linux, &cwd, &served.root);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("berth-install.sh: OK"), "{text}");
    assert!(text.contains("Done: this machine now trusts"), "{text}");
    served.assert_installed();
    let (curl, skopeo, why) = served.clients_trust();
    assert!(curl && skopeo, "not trusted after the install: {why}");
    served.registry.stop();
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

#[test]
fn extra_names_are_kept_for_later_renewals() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let first = ok(&berthd(&[
        "ca",
        "init",
        "--dir",
        s(&dir),
        "--hostname",
        "names-host",
        "--name",
        "Registry.Example.com,10.0.0.5",
    ]));
    assert!(
        first.contains("registry.example.com") && first.contains("10.0.0.5"),
        "{first}"
    );
    // A later run without --name (a daily renewal) keeps them.
    let again = ok(&berthd(&[
        "ca",
        "init",
        "--dir",
        s(&dir),
        "--hostname",
        "names-host",
    ]));
    assert!(again.contains("kept the server certificate"), "{again}");
    assert!(again.contains("registry.example.com"), "{again}");
    // A name no certificate can hold is refused, and nothing changes.
    let bad = berthd(&[
        "ca",
        "init",
        "--dir",
        s(&dir),
        "--hostname",
        "names-host",
        "--name",
        "bad name",
    ]);
    assert!(!bad.status.success());
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(said.contains("not a name a certificate can hold"), "{said}");
    let names = std::fs::read_to_string(dir.join("names")).unwrap();
    assert!(names.contains("registry.example.com"), "{names}");
}
