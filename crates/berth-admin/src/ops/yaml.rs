//! `configDownload`, `configReview`, `configSave`: the whole config.yml.

use berth_config::{Change, Config, ConfigError, Loaded};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Admin;
use crate::error::{AdminError, ErrorCode};
use crate::save::SaveOutcome;
use crate::secrets;
use crate::store::CONFIG_FILE;

/// The arguments of `configDownload`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadArgs {
    /// Put the secrets (from the keychain) in place of the placeholders.
    #[serde(default)]
    include_secrets: bool,
}

/// A config.yml to save.
#[derive(Debug, Serialize)]
pub struct Download {
    yaml: String,
    filename: &'static str,
}

/// config.yml as saved, with or without its secrets.
pub async fn download(admin: &Admin, args: DownloadArgs) -> Result<Download, AdminError> {
    let yaml = if args.include_secrets {
        admin.effective().await?.to_yaml(false)
    } else {
        admin.current().to_yaml(true)
    };
    Ok(Download {
        yaml,
        filename: CONFIG_FILE,
    })
}

/// The arguments of `configReview` and `configSave`.
#[derive(Debug, Deserialize)]
pub struct YamlArgs {
    yaml: String,
}

/// One error or warning, located when it can be.
#[derive(Clone, Debug, Serialize)]
pub struct Note {
    line: Option<usize>,
    column: Option<usize>,
    message: String,
}

impl Note {
    fn at(line: usize, column: usize, message: impl Into<String>) -> Note {
        Note {
            line: (line > 0).then_some(line),
            column: (line > 0).then_some(column),
            message: message.into(),
        }
    }

    fn plain(message: impl Into<String>) -> Note {
        Note::at(0, 0, message)
    }
}

/// One changed value.
#[derive(Clone, Debug, Serialize)]
pub struct ChangeOut {
    path: String,
    kind: &'static str,
    before: Option<String>,
    after: Option<String>,
}

impl From<Change> for ChangeOut {
    fn from(c: Change) -> ChangeOut {
        let kind = match (&c.old, &c.new) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "changed",
        };
        ChangeOut {
            path: c.key_path,
            kind,
            before: c.old,
            after: c.new,
        }
    }
}

/// What `configReview` answers.
#[derive(Debug, Serialize)]
pub struct Review {
    ok: bool,
    errors: Vec<Note>,
    warnings: Vec<Note>,
    current: String,
    proposed: String,
    changes: Vec<ChangeOut>,
}

/// The errors of a config that does not load, each located when it can be.
fn error_notes(e: &ConfigError) -> Vec<Note> {
    match e {
        ConfigError::Syntax {
            line,
            column,
            message,
            ..
        } => vec![Note::at(*line, *column, message.clone())],
        ConfigError::Invalid { problems, .. } => problems
            .iter()
            .map(|p| Note::at(p.line, p.column, p.message.clone()))
            .collect(),
        other => vec![Note::plain(other.to_string())],
    }
}

fn parse(yaml: &str) -> Result<Loaded, ConfigError> {
    Config::parse(yaml, CONFIG_FILE, [])
}

/// Checks an uploaded config.yml and shows what saving it would change.
pub async fn review(admin: &Admin, args: YamlArgs) -> Review {
    let current_config = admin.current();
    let current = current_config.to_yaml(true);
    let loaded = match parse(&args.yaml) {
        Ok(l) => l,
        Err(e) => {
            return Review {
                ok: false,
                errors: error_notes(&e),
                warnings: Vec::new(),
                current,
                proposed: String::new(),
                changes: Vec::new(),
            };
        }
    };
    let proposed = loaded.config;
    let mut errors = Vec::new();
    let mut warnings: Vec<Note> = loaded
        .warnings
        .iter()
        .map(|w| Note::at(w.line, w.column, w.message.clone()))
        .collect();
    if let Err(e) = berth_drivers::check_available(&proposed.storage.driver.name) {
        errors.push(Note::plain(e.to_string()));
    }
    // The diff of what the files say, secrets as placeholders on both sides…
    let redacted = match parse(&proposed.to_yaml(true)) {
        Ok(l) => l.config,
        Err(_) => proposed.clone(),
    };
    let mut changes: Vec<ChangeOut> = current_config
        .diff(&redacted)
        .into_iter()
        .map(ChangeOut::from)
        .collect();
    // …plus the secrets whose value changes.
    let given = secrets::extract(&proposed);
    let names: Vec<String> = given.keys().cloned().collect();
    let placeholders = secrets::placeholders(&proposed);
    let mut lookup = names.clone();
    lookup.extend(placeholders.iter().cloned());
    match admin.keychain.get_many(&lookup).await {
        Ok(stored) => {
            for (name, value) in &given {
                if stored.get(name) != Some(value) && !changes.iter().any(|c| &c.path == name) {
                    changes.push(ChangeOut {
                        path: name.clone(),
                        kind: if stored.contains_key(name) {
                            "changed"
                        } else {
                            "added"
                        },
                        before: stored.get(name).map(|_| berth_config::REDACTED.to_string()),
                        after: Some(berth_config::REDACTED.to_string()),
                    });
                }
            }
            for name in placeholders.iter().filter(|n| !stored.contains_key(*n)) {
                errors.push(Note::plain(format!(
                    "{name} reads {} but the keychain holds no value for it: write the secret itself",
                    berth_config::REDACTED
                )));
            }
        }
        Err(e) if !lookup.is_empty() => errors.push(Note::plain(format!(
            "{} ({}): this file has secrets ({}) and they cannot be kept",
            e.message,
            e.hint,
            lookup.join(", ")
        ))),
        Err(_) => {}
    }
    if !names.is_empty() {
        warnings.push(Note::plain(format!(
            "the secrets in this file ({}) will be kept in the OS keychain and left out of config.yml",
            names.join(", ")
        )));
    }
    for name in names
        .iter()
        .filter(|n| berth_config::env_var_for(n).is_none())
    {
        warnings.push(Note::plain(format!(
            "{name} is kept in the keychain and put back on download, but the registry does not read it"
        )));
    }
    Review {
        ok: errors.is_empty(),
        errors,
        warnings,
        current,
        proposed: proposed.to_yaml(true),
        changes,
    }
}

/// Saves an uploaded config.yml: its secrets go to the keychain, the rest
/// to config.yml, after the storage probe passes; then the registry restarts.
pub async fn save(admin: &Admin, args: YamlArgs) -> Result<SaveOutcome, AdminError> {
    let proposed = match parse(&args.yaml) {
        Ok(l) => l.config,
        Err(e) => {
            let notes = error_notes(&e);
            return Err(AdminError::new(
                ErrorCode::InvalidConfig,
                format!("the uploaded config.yml does not load: {e}"),
                "fix the lines named, or use Review to see every problem",
            )
            .with_details(json!({ "errors": notes })));
        }
    };
    let _change = admin.changes.lock().await;
    let candidate = admin.with_stored_secrets(&proposed).await?;
    admin.save(candidate).await
}
