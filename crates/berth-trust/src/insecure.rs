//! Plans that let clients reach a registry without verifying its
//! certificate (or over plain HTTP), merged into each client's own config
//! without losing what else is there, and the plans that undo them.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use toml_edit::{DocumentMut, Item, Table};

use crate::address::RegistryAddr;
use crate::error::{Error, Result};
use crate::files;
use crate::plan::{
    Action, BERTH_MARKER_PREFIX, CONTAINERD_CERTS_D, HOSTS_TOML_INSECURE_MARKER, Plan, PlanKind,
    Target, certs_d_dir, containerd_config_note,
};
use crate::platform::Machine;

/// Docker's daemon configuration.
pub const DOCKER_DAEMON_JSON: &str = "/etc/docker/daemon.json";
/// containers/image's registry configuration (podman, CRI-O, buildah, skopeo).
pub const REGISTRIES_CONF: &str = "/etc/containers/registries.conf";

/// How the registry answers when clients do not verify it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// TLS with a certificate the clients do not check.
    UnverifiedTls,
    /// Plain HTTP.
    PlainHttp,
}

/// The targets an insecure plan can change.
pub const INSECURE_TARGETS: [Target; 3] = [Target::Docker, Target::Containerd, Target::Containers];

/// Reads a client config under the machine's root and merges a change into
/// it; an existing file that does not parse is refused, never overwritten.
fn merge<T>(
    machine: &Machine,
    logical: &str,
    format: &'static str,
    change: impl FnOnce(Option<&str>) -> std::result::Result<T, String>,
) -> Result<T> {
    let path = machine.path(Path::new(logical));
    let text = files::read_optional(&path)?;
    change(text.as_deref()).map_err(|reason| Error::ExistingConfig {
        path,
        format,
        reason,
    })
}

/// Writes a merged client config, or removes it when nothing is left.
fn write_or_remove(plan: &mut Plan, target: Target, logical: &str, contents: Option<String>) {
    match contents {
        Some(contents) => plan.write_file(target, true, logical.into(), contents, None),
        None => plan.remove_file(target, true, logical.into(), None),
    }
}

/// The plan that adds `registry` to each target's insecure registries:
/// Docker's `daemon.json` `insecure-registries` (other keys kept; the
/// daemon reloads it on `systemctl reload docker`), a containerd
/// `hosts.toml` with `skip_verify` (or an `http://` server), and a
/// `[[registry]]` with `insecure = true` in `registries.conf` (comments and
/// other tables kept). Only Linux machines are supported.
pub fn insecure(
    machine: &Machine,
    registry: &RegistryAddr,
    transport: Transport,
    targets: &[Target],
) -> Result<Plan> {
    require_linux(machine)?;
    let mut plan = Plan::new(PlanKind::Insecure, machine.platform, registry);
    let auth = registry.authority();
    for &target in INSECURE_TARGETS.iter().filter(|t| targets.contains(t)) {
        match target {
            Target::Docker => {
                match merge(machine, DOCKER_DAEMON_JSON, "JSON", |text| {
                    daemon_json_add(text, &auth)
                })? {
                    Some(contents) => {
                        plan.write_file(target, true, DOCKER_DAEMON_JSON.into(), contents, None);
                        plan.push(target, true, reload_docker());
                    }
                    None => plan
                        .notes
                        .push(format!("Docker: {auth} is already an insecure registry")),
                }
            }
            Target::Containerd => {
                let dir = certs_d_dir(machine, target, registry).expect("Linux");
                let hosts = containerd_insecure_hosts_toml(registry, transport);
                let marker = Some(BERTH_MARKER_PREFIX);
                plan.create_dir(target, true, dir.clone());
                plan.write_file(target, true, dir.join("hosts.toml"), hosts, marker);
                containerd_config_note(&mut plan, machine);
            }
            Target::Containers => {
                match merge(machine, REGISTRIES_CONF, "TOML", |text| {
                    registries_conf_add(text, &auth)
                })? {
                    Some(contents) => {
                        plan.write_file(target, true, REGISTRIES_CONF.into(), contents, None);
                    }
                    None => plan.notes.push(format!(
                        "podman/CRI-O: {auth} is already insecure in {REGISTRIES_CONF}"
                    )),
                }
                user_registries_conf_note(&mut plan, machine);
            }
            _ => {}
        }
    }
    Ok(plan)
}

/// The plan that removes what [`insecure`] added: the registry's entry in
/// `daemon.json` and `registries.conf` (the files otherwise as they are),
/// Berth's insecure `hosts.toml`.
pub fn secure(machine: &Machine, registry: &RegistryAddr, targets: &[Target]) -> Result<Plan> {
    require_linux(machine)?;
    let mut plan = Plan::new(PlanKind::Secure, machine.platform, registry);
    let auth = registry.authority();
    for &target in INSECURE_TARGETS.iter().filter(|t| targets.contains(t)) {
        match target {
            Target::Docker => {
                let change = merge(machine, DOCKER_DAEMON_JSON, "JSON", |text| {
                    text.map_or(Ok(None), |text| daemon_json_remove(text, &auth))
                })?;
                if let Some(contents) = change {
                    write_or_remove(&mut plan, target, DOCKER_DAEMON_JSON, contents);
                    plan.push(target, true, reload_docker());
                }
            }
            Target::Containerd => {
                let dir = certs_d_dir(machine, target, registry).expect("Linux");
                let marker = Some(HOSTS_TOML_INSECURE_MARKER);
                plan.remove_file(target, true, dir.join("hosts.toml"), marker);
                plan.push(target, true, Action::RemoveDirIfEmpty { path: dir });
            }
            Target::Containers => {
                let change = merge(machine, REGISTRIES_CONF, "TOML", |text| {
                    text.map_or(Ok(None), |text| registries_conf_remove(text, &auth))
                })?;
                if let Some(contents) = change {
                    let left = Some(contents).filter(|c| !c.trim().is_empty());
                    write_or_remove(&mut plan, target, REGISTRIES_CONF, left);
                }
            }
            _ => {}
        }
    }
    Ok(plan)
}

fn require_linux(machine: &Machine) -> Result<()> {
    if machine.platform.is_linux() {
        return Ok(());
    }
    Err(Error::NotSupported(format!(
        "insecure registries on {} are set in Docker Desktop (Settings → Docker Engine → \
         \"insecure-registries\"), not by Berth",
        machine.platform
    )))
}

fn reload_docker() -> Action {
    // dockerd re-reads insecure-registries on SIGHUP; no restart, running
    // containers keep running. Without systemd (or without Docker running)
    // the next start reads it.
    Action::Run {
        argv: vec!["systemctl".into(), "reload".into(), "docker".into()],
        ignore_failure: true,
    }
}

fn user_registries_conf_note(plan: &mut Plan, machine: &Machine) {
    if let Some(home) = &machine.home {
        let user = home.join(".config/containers/registries.conf");
        if machine.path(&user).exists() {
            plan.notes.push(format!(
                "podman: {} exists and replaces {REGISTRIES_CONF} for rootless podman; \
                 add the registry there too",
                user.display()
            ));
        }
    }
}

/// containerd's `hosts.toml` for a registry it does not verify.
pub(crate) fn containerd_insecure_hosts_toml(
    registry: &RegistryAddr,
    transport: Transport,
) -> String {
    let auth = registry.authority();
    match transport {
        Transport::UnverifiedTls => format!(
            "{HOSTS_TOML_INSECURE_MARKER}\nserver = \"https://{auth}\"\nskip_verify = true\n"
        ),
        Transport::PlainHttp => {
            format!("{HOSTS_TOML_INSECURE_MARKER}\nserver = \"http://{auth}\"\n")
        }
    }
}

fn parse_daemon_json(text: &str) -> Result<serde_json::Map<String, Value>, String> {
    if text.trim().is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_str::<Value>(text).map_err(|e| e.to_string())? {
        Value::Object(map) => Ok(map),
        _ => Err("the top level is not a JSON object".into()),
    }
}

fn render_json(map: serde_json::Map<String, Value>) -> String {
    let mut text = serde_json::to_string_pretty(&Value::Object(map)).expect("JSON values render");
    text.push('\n');
    text
}

/// `daemon.json` with `auth` in `insecure-registries`; `None` when it is
/// there already. Other keys are kept (in serde_json's key order).
pub fn daemon_json_add(existing: Option<&str>, auth: &str) -> Result<Option<String>, String> {
    let mut map = parse_daemon_json(existing.unwrap_or(""))?;
    let list = map
        .entry("insecure-registries")
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or("insecure-registries is not a list")?;
    if list.iter().any(|v| v.as_str() == Some(auth)) {
        return Ok(None);
    }
    list.push(Value::String(auth.into()));
    Ok(Some(render_json(map)))
}

/// `daemon.json` without `auth` in `insecure-registries`: `None` when it was
/// not there, `Some(None)` when nothing is left (remove the file).
pub fn daemon_json_remove(existing: &str, auth: &str) -> Result<Option<Option<String>>, String> {
    let mut map = parse_daemon_json(existing)?;
    let Some(Value::Array(list)) = map.get_mut("insecure-registries") else {
        return Ok(None);
    };
    let before = list.len();
    list.retain(|v| v.as_str() != Some(auth));
    if list.len() == before {
        return Ok(None);
    }
    if list.is_empty() {
        map.remove("insecure-registries");
    }
    if map.is_empty() {
        return Ok(Some(None));
    }
    Ok(Some(Some(render_json(map))))
}

/// `registries.conf` with `auth` insecure; `None` when it is already.
/// Version 2 files get a `[[registry]]` table (an existing one for the
/// location gets `insecure = true`); version 1 files (`[registries.insecure]`)
/// get the address in that list. Comments and other settings are kept.
pub fn registries_conf_add(existing: Option<&str>, auth: &str) -> Result<Option<String>, String> {
    let mut doc: DocumentMut = existing
        .unwrap_or("")
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    if doc.contains_key("registries") {
        let list = doc["registries"]["insecure"]["registries"]
            .or_insert(toml_edit::value(toml_edit::Array::new()))
            .as_array_mut()
            .ok_or("registries.insecure.registries is not a list")?;
        if list.iter().any(|v| v.as_str() == Some(auth)) {
            return Ok(None);
        }
        list.push(auth);
        return Ok(Some(doc.to_string()));
    }
    // Comments at the end of the file (Debian's registries.conf is all
    // comments) stay above the new table rather than drifting below it.
    let trailing = doc.trailing().as_str().unwrap_or("").to_string();
    let tables = doc
        .entry("registry")
        .or_insert(Item::ArrayOfTables(Default::default()))
        .as_array_of_tables_mut()
        .ok_or("registry is not a list of [[registry]] tables")?;
    let existing = tables.iter().position(|t| location(t) == Some(auth));
    match existing.and_then(|i| tables.get_mut(i)) {
        Some(table) if table.get("insecure").and_then(Item::as_bool) == Some(true) => {
            return Ok(None);
        }
        Some(table) => table["insecure"] = toml_edit::value(true),
        None => {
            let mut table = Table::new();
            table["location"] = toml_edit::value(auth);
            table["insecure"] = toml_edit::value(true);
            if !trailing.trim().is_empty() {
                table
                    .decor_mut()
                    .set_prefix(format!("{}\n\n", trailing.trim_end()));
            }
            tables.push(table);
            if !trailing.trim().is_empty() {
                doc.set_trailing("");
            }
        }
    }
    Ok(Some(doc.to_string()))
}

/// `registries.conf` with `auth` no longer insecure; `None` when it was not.
/// A `[[registry]]` table that only said so is removed; one with more
/// settings loses its `insecure` key.
pub fn registries_conf_remove(existing: &str, auth: &str) -> Result<Option<String>, String> {
    let mut doc: DocumentMut = existing
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    let v1_changed = doc
        .get_mut("registries")
        .and_then(|r| r.get_mut("insecure"))
        .and_then(|i| i.get_mut("registries"))
        .and_then(Item::as_array_mut)
        .map(|list| {
            let before = list.len();
            list.retain(|v| v.as_str() != Some(auth));
            list.len() != before
        });
    if let Some(changed) = v1_changed {
        return Ok(changed.then(|| doc.to_string()));
    }
    let Some(tables) = doc
        .get_mut("registry")
        .and_then(Item::as_array_of_tables_mut)
    else {
        return Ok(None);
    };
    let mut changed = false;
    for table in tables.iter_mut() {
        if location(table) == Some(auth)
            && table.get("insecure").and_then(Item::as_bool) == Some(true)
        {
            table.remove("insecure");
            changed = true;
        }
    }
    if !changed {
        return Ok(None);
    }
    // A removed table's comments (what add moved there) go back to the end.
    let mut kept_comments = String::new();
    for t in tables.iter() {
        if location(t) == Some(auth) && t.len() == 1 {
            let prefix = t.decor().prefix().and_then(|p| p.as_str()).unwrap_or("");
            if !prefix.trim().is_empty() {
                kept_comments.push_str(prefix.trim_end());
                kept_comments.push('\n');
            }
        }
    }
    tables.retain(|t| !(location(t) == Some(auth) && t.len() == 1));
    if tables.is_empty() {
        doc.remove("registry");
    }
    if !kept_comments.is_empty() {
        let trailing = doc.trailing().as_str().unwrap_or("").to_string();
        doc.set_trailing(format!("{kept_comments}{trailing}"));
    }
    Ok(Some(doc.to_string()))
}

fn location(table: &Table) -> Option<&str> {
    table
        .get("location")
        .or_else(|| table.get("prefix"))
        .and_then(Item::as_str)
}

/// Whether a `registries.conf` text marks `auth` insecure.
pub(crate) fn registries_conf_is_insecure(text: &str, auth: &str) -> bool {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return false;
    };
    if let Some(list) = doc
        .get("registries")
        .and_then(|r| r.get("insecure"))
        .and_then(|i| i.get("registries"))
        .and_then(Item::as_array)
    {
        return list.iter().any(|v| v.as_str() == Some(auth));
    }
    doc.get("registry")
        .and_then(Item::as_array_of_tables)
        .is_some_and(|tables| {
            tables.iter().any(|t| {
                location(t) == Some(auth) && t.get("insecure").and_then(Item::as_bool) == Some(true)
            })
        })
}

/// Whether a `daemon.json` text lists `auth` as insecure.
pub(crate) fn daemon_json_is_insecure(text: &str, auth: &str) -> bool {
    parse_daemon_json(text).is_ok_and(|map| {
        map.get("insecure-registries")
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().any(|v| v.as_str() == Some(auth)))
    })
}

/// containerd's hosts directory for a registry, as the root sees it.
pub(crate) fn containerd_hosts_toml(machine: &Machine, registry: &RegistryAddr) -> PathBuf {
    machine.path(
        &Path::new(CONTAINERD_CERTS_D)
            .join(registry.authority())
            .join("hosts.toml"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Platform;

    const AUTH: &str = "registry.example.com:5000";

    #[test]
    fn daemon_json_keeps_other_keys() {
        assert_eq!(
            daemon_json_add(None, AUTH).unwrap().unwrap(),
            "{\n  \"insecure-registries\": [\n    \"registry.example.com:5000\"\n  ]\n}\n"
        );
        let existing = r#"{"log-driver": "journald", "insecure-registries": ["other:5000"],
            "registry-mirrors": ["https://mirror.example"]}"#;
        let merged = daemon_json_add(Some(existing), AUTH).unwrap().unwrap();
        let v: Value = serde_json::from_str(&merged).unwrap();
        assert_eq!(v["log-driver"], "journald");
        assert_eq!(v["registry-mirrors"][0], "https://mirror.example");
        assert_eq!(
            v["insecure-registries"],
            serde_json::json!(["other:5000", AUTH])
        );
        assert!(daemon_json_is_insecure(&merged, AUTH));
        assert_eq!(
            daemon_json_add(Some(&merged), AUTH).unwrap(),
            None,
            "idempotent"
        );

        let back = daemon_json_remove(&merged, AUTH).unwrap().unwrap().unwrap();
        let v: Value = serde_json::from_str(&back).unwrap();
        assert_eq!(v["insecure-registries"], serde_json::json!(["other:5000"]));
        assert_eq!(v["log-driver"], "journald");
        assert_eq!(daemon_json_remove(&back, AUTH).unwrap(), None);

        let only = daemon_json_add(None, AUTH).unwrap().unwrap();
        assert_eq!(daemon_json_remove(&only, AUTH).unwrap(), Some(None));

        assert!(daemon_json_add(Some("{nope"), AUTH).is_err());
        assert!(daemon_json_add(Some("[1]"), AUTH).is_err());
        assert!(daemon_json_add(Some(r#"{"insecure-registries": "x"}"#), AUTH).is_err());
    }

    #[test]
    fn registries_conf_v2_merge_keeps_comments() {
        let existing = "# Debian's registries.conf\n\
                        unqualified-search-registries = [\"docker.io\"]\n\n\
                        [[registry]]\n\
                        location = \"quay.io\"\n\
                        blocked = false\n";
        let merged = registries_conf_add(Some(existing), AUTH).unwrap().unwrap();
        assert_eq!(
            merged,
            format!("{existing}\n[[registry]]\nlocation = \"{AUTH}\"\ninsecure = true\n")
        );
        assert!(registries_conf_is_insecure(&merged, AUTH));
        assert_eq!(registries_conf_add(Some(&merged), AUTH).unwrap(), None);
        let back = registries_conf_remove(&merged, AUTH).unwrap().unwrap();
        assert_eq!(back, existing);
        assert_eq!(registries_conf_remove(&back, AUTH).unwrap(), None);

        // An existing table for the location gets the flag, and keeps the
        // rest when the flag goes.
        let mirrored = format!(
            "[[registry]]\nlocation = \"{AUTH}\"\n[[registry.mirror]]\nlocation = \"m.example\"\n"
        );
        let merged = registries_conf_add(Some(&mirrored), AUTH).unwrap().unwrap();
        assert!(registries_conf_is_insecure(&merged, AUTH));
        assert!(merged.contains("m.example"));
        let back = registries_conf_remove(&merged, AUTH).unwrap().unwrap();
        assert!(!registries_conf_is_insecure(&back, AUTH));
        assert!(back.contains("m.example"));

        // A file of comments only keeps them above the new table, and gets
        // them back whole.
        let comments =
            "# See containers-registries.conf(5).\n# unqualified-search-registries = []\n";
        let merged = registries_conf_add(Some(comments), AUTH).unwrap().unwrap();
        assert_eq!(
            merged,
            format!("{comments}\n[[registry]]\nlocation = \"{AUTH}\"\ninsecure = true\n")
        );
        assert_eq!(
            registries_conf_remove(&merged, AUTH).unwrap().unwrap(),
            comments
        );

        let fresh = registries_conf_add(None, AUTH).unwrap().unwrap();
        assert_eq!(
            fresh,
            format!("[[registry]]\nlocation = \"{AUTH}\"\ninsecure = true\n")
        );
        assert_eq!(
            registries_conf_remove(&fresh, AUTH)
                .unwrap()
                .unwrap()
                .trim(),
            ""
        );
        assert!(registries_conf_add(Some("[[registry]\n"), AUTH).is_err());
    }

    #[test]
    fn registries_conf_v1_list() {
        let v1 = "[registries.search]\nregistries = ['docker.io']\n\n\
                  [registries.insecure]\nregistries = []\n";
        let merged = registries_conf_add(Some(v1), AUTH).unwrap().unwrap();
        assert!(
            merged.contains(&format!("registries = [\"{AUTH}\"]")),
            "{merged}"
        );
        assert!(merged.contains("[registries.search]"));
        assert!(registries_conf_is_insecure(&merged, AUTH));
        let back = registries_conf_remove(&merged, AUTH).unwrap().unwrap();
        assert!(!registries_conf_is_insecure(&back, AUTH));
    }

    fn machine_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Machine) {
        let root = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = root.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let m = Machine::new(Platform::Debian, root.path(), None);
        (root, m)
    }

    #[test]
    fn insecure_and_secure_plans() {
        let (_root, m) = machine_with(&[
            (DOCKER_DAEMON_JSON, r#"{"debug": true}"#),
            (REGISTRIES_CONF, "# keep me\n"),
        ]);
        let reg: RegistryAddr = AUTH.parse().unwrap();
        let plan = insecure(&m, &reg, Transport::UnverifiedTls, &INSECURE_TARGETS).unwrap();
        let summary: Vec<String> = plan
            .steps
            .iter()
            .map(|s| match &s.action {
                Action::WriteFile { path, contents, .. } => {
                    format!("write {} {}", path.display(), contents.replace('\n', "|"))
                }
                Action::CreateDir { path, .. } => format!("mkdir {}", path.display()),
                Action::Run { argv, .. } => format!("run {}", argv.join(" ")),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(summary, [
            "write /etc/docker/daemon.json {|  \"debug\": true,|  \"insecure-registries\": [|    \"registry.example.com:5000\"|  ]|}|".to_string(),
            "run systemctl reload docker".into(),
            "mkdir /etc/containerd/certs.d/registry.example.com:5000".into(),
            format!("write /etc/containerd/certs.d/registry.example.com:5000/hosts.toml {HOSTS_TOML_INSECURE_MARKER}|server = \"https://registry.example.com:5000\"|skip_verify = true|"),
            "write /etc/containers/registries.conf # keep me||[[registry]]|location = \"registry.example.com:5000\"|insecure = true|".into(),
        ]);
        assert!(plan.steps.iter().all(|s| s.elevated));

        let http = containerd_insecure_hosts_toml(&reg, Transport::PlainHttp);
        assert_eq!(
            http,
            format!(
                "{HOSTS_TOML_INSECURE_MARKER}\nserver = \"http://registry.example.com:5000\"\n"
            )
        );

        // Nothing to undo on an untouched machine.
        let undo = secure(&m, &reg, &INSECURE_TARGETS).unwrap();
        assert!(
            undo.steps.iter().all(|s| s.target == Target::Containerd),
            "{undo:?}"
        );
        let mac = Machine::new(Platform::MacOs, "/", None);
        assert!(insecure(&mac, &reg, Transport::PlainHttp, &INSECURE_TARGETS).is_err());
    }

    #[test]
    fn a_broken_daemon_json_is_left_alone() {
        let (_root, m) = machine_with(&[(DOCKER_DAEMON_JSON, "{ not json")]);
        let reg: RegistryAddr = AUTH.parse().unwrap();
        let err = insecure(&m, &reg, Transport::PlainHttp, &[Target::Docker]).unwrap_err();
        assert!(
            matches!(err, Error::ExistingConfig { format: "JSON", .. }),
            "{err}"
        );
    }
}
