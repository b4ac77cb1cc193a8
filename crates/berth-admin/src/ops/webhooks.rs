//! Webhook endpoints (`notifications.endpoints`): list them with their
//! delivery state, add, edit, disable or remove one through the same
//! validate → probe → save → restart path as every settings change, send a
//! test event, and read an endpoint's delivery log from the running
//! registry. Credential headers (`Authorization`, …) go to the keychain
//! like every other secret; the app shows only that one is stored.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_config::{Config, Endpoint, Ignore, format_go_duration, parse_go_duration};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Admin;
use crate::error::{AdminError, ErrorCode};
use crate::save::SaveOutcome;

use berth_config::SECRET_HEADERS;

/// One header row of an endpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderRow {
    /// The header's name.
    pub name: String,
    /// Its value; for a secret header, empty when listed (and, when saved
    /// empty, the stored value is kept).
    #[serde(default)]
    pub value: String,
    /// Whether the value is a secret kept in the keychain.
    #[serde(default)]
    pub secret: bool,
}

/// An endpoint as the Webhooks page edits it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// Its name (unique).
    pub name: String,
    /// Where events are POSTed.
    pub url: String,
    /// Whether it is skipped.
    #[serde(default)]
    pub disabled: bool,
    /// Headers sent with each request.
    #[serde(default)]
    pub headers: Vec<HeaderRow>,
    /// Per request, as a Go duration (`1s`, `500ms`); empty for Distribution's default.
    #[serde(default)]
    pub timeout: String,
    /// Failures before backing off; 0 for the default (10).
    #[serde(default)]
    pub threshold: u64,
    /// The wait after `threshold` failures; empty for the default (1s).
    #[serde(default)]
    pub backoff: String,
    /// Media types whose events are not sent.
    #[serde(default)]
    pub ignored_media_types: Vec<String>,
    /// Actions whose events are not sent (`push`, `pull`, `mount`, `delete`).
    #[serde(default)]
    pub ignore_actions: Vec<String>,
}

/// What `webhooksList` answers.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookList {
    /// The endpoints in config order, each with its delivery state when the
    /// registry runs (`runtime`: pending, delivered, failed, lastError, …).
    pub endpoints: Vec<Listed>,
    /// Why the delivery state is missing (the registry is stopped), if it is.
    pub runtime_error: Option<String>,
}

/// One listed endpoint.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    /// The saved settings.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The running registry's counters and delivery log for it.
    pub runtime: Option<Value>,
}

/// `webhookSave`'s arguments.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SaveArgs {
    /// The name of the endpoint being edited; none to add one.
    #[serde(default)]
    pub original: Option<String>,
    /// The endpoint.
    pub webhook: Webhook,
}

/// `webhookDelete`, `webhookTest` and `webhookDeliveries` arguments.
#[derive(Clone, Debug, Deserialize)]
pub struct NameArgs {
    /// The endpoint's name.
    pub name: String,
}

fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str())
}

fn to_webhook(e: &Endpoint) -> Webhook {
    let mut headers = Vec::new();
    for (name, values) in &e.headers {
        let secret = is_secret_header(name);
        for value in values {
            headers.push(HeaderRow {
                name: name.clone(),
                value: if secret { String::new() } else { value.clone() },
                secret,
            });
        }
    }
    let duration = |d: Duration| {
        if d.is_zero() {
            String::new()
        } else {
            format_go_duration(d)
        }
    };
    Webhook {
        name: e.name.clone(),
        url: e.url.clone(),
        disabled: e.disabled,
        headers,
        timeout: duration(e.timeout),
        threshold: e.threshold,
        backoff: duration(e.backoff),
        ignored_media_types: e
            .ignored_media_types
            .iter()
            .chain(&e.ignore.media_types)
            .cloned()
            .collect(),
        ignore_actions: e.ignore.actions.clone(),
    }
}

/// The running registry's notification state, by endpoint name.
async fn runtime(admin: &Admin) -> Result<BTreeMap<String, Value>, AdminError> {
    let api = admin.sidecar_api()?;
    let status: Value = api.get("notifications").await?;
    Ok(status["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e["name"].as_str()?.to_string(), e.clone())))
        .collect())
}

/// `webhooksList`.
pub async fn list(admin: &Admin) -> WebhookList {
    let config = admin.current();
    let (runtime, runtime_error) = match runtime(admin).await {
        Ok(r) => (r, None),
        Err(e) => (BTreeMap::new(), Some(e.message)),
    };
    WebhookList {
        endpoints: config
            .notifications
            .endpoints
            .iter()
            .map(|e| Listed {
                webhook: to_webhook(e),
                runtime: runtime.get(&e.name).cloned(),
            })
            .collect(),
        runtime_error,
    }
}

/// Checks the form, field by field, as the UI shows it.
fn check(webhook: &Webhook, others: &[&Endpoint]) -> Result<(Duration, Duration), AdminError> {
    let mut fields = BTreeMap::new();
    let name = webhook.name.trim();
    if name.is_empty() {
        fields.insert("name".into(), "give the endpoint a name".into());
    } else if others.iter().any(|e| e.name == name) {
        fields.insert(
            "name".into(),
            format!("another endpoint is already named {name:?}"),
        );
    }
    let url = webhook.url.trim();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default()) {
        None => {
            fields.insert(
                "url".into(),
                "enter a URL starting with http:// or https://".into(),
            );
        }
        Some(host) if host.is_empty() || host.starts_with(':') => {
            fields.insert("url".into(), "the URL names no host".into());
        }
        Some(_) if url.chars().any(char::is_whitespace) => {
            fields.insert("url".into(), "the URL contains spaces".into());
        }
        _ => {}
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    for (i, h) in webhook.headers.iter().enumerate() {
        if h.name.is_empty() || !h.name.chars().all(token) {
            fields.insert(
                format!("headers.{i}"),
                format!("{:?} is not an HTTP header name", h.name),
            );
        } else if h.value.chars().any(|c| c.is_control() && c != '\t') {
            fields.insert(
                format!("headers.{i}"),
                "the value contains a line break".into(),
            );
        }
    }
    let duration = |key: &str, text: &str, fields: &mut BTreeMap<String, String>| {
        if text.trim().is_empty() {
            return Duration::ZERO;
        }
        parse_go_duration(text.trim()).unwrap_or_else(|_| {
            fields.insert(
                key.into(),
                format!("{text:?} is not a duration; write e.g. 500ms, 2s or 1m"),
            );
            Duration::ZERO
        })
    };
    let timeout = duration("timeout", &webhook.timeout, &mut fields);
    let backoff = duration("backoff", &webhook.backoff, &mut fields);
    for action in &webhook.ignore_actions {
        if !["push", "pull", "mount", "delete"].contains(&action.as_str()) {
            fields.insert(
                "ignoreActions".into(),
                format!("{action:?} is not an action; use push, pull, mount or delete"),
            );
        }
    }
    if fields.is_empty() {
        Ok((timeout, backoff))
    } else {
        Err(AdminError::invalid_input(
            "the endpoint's settings are not right",
            "correct the fields marked in the form",
        )
        .with_fields(fields))
    }
}

fn find(config: &Config, name: &str) -> Result<usize, AdminError> {
    config
        .notifications
        .endpoints
        .iter()
        .position(|e| e.name == name)
        .ok_or_else(|| {
            AdminError::new(
                ErrorCode::NotFound,
                format!("no webhook endpoint is named {name:?}"),
                "reload the Webhooks page; it may have been removed meanwhile",
            )
        })
}

/// `webhookSave`: adds or replaces an endpoint, then saves and restarts.
pub async fn save(admin: &Admin, args: SaveArgs) -> Result<SaveOutcome, AdminError> {
    let _change = admin.changes.lock().await;
    let mut candidate = admin.effective().await?;
    let index = match &args.original {
        Some(original) => Some(find(&candidate, original)?),
        None => None,
    };
    let endpoints = &candidate.notifications.endpoints;
    let others: Vec<&Endpoint> = endpoints
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != index)
        .map(|(_, e)| e)
        .collect();
    let (timeout, backoff) = check(&args.webhook, &others)?;
    let previous = index.map(|i| endpoints[i].clone());
    let w = &args.webhook;
    let mut headers: Vec<(String, Vec<String>)> = Vec::new();
    for h in &w.headers {
        let value = if h.value.is_empty() && is_secret_header(&h.name) {
            // Kept: the stored secret of the same header.
            previous
                .as_ref()
                .and_then(|p| {
                    p.headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(&h.name))
                })
                .and_then(|(_, v)| v.first().cloned())
                .unwrap_or_default()
        } else {
            h.value.clone()
        };
        match headers.iter_mut().find(|(n, _)| n == &h.name) {
            Some((_, values)) => values.push(value),
            None => headers.push((h.name.clone(), vec![value])),
        }
    }
    let endpoint = Endpoint {
        name: w.name.trim().to_string(),
        disabled: w.disabled,
        url: w.url.trim().to_string(),
        headers,
        timeout,
        threshold: w.threshold,
        backoff,
        ignored_media_types: Vec::new(),
        ignore: Ignore {
            media_types: w.ignored_media_types.clone(),
            actions: w.ignore_actions.clone(),
        },
    };
    match index {
        Some(i) => candidate.notifications.endpoints[i] = endpoint,
        None => candidate.notifications.endpoints.push(endpoint),
    }
    admin.save(candidate).await
}

/// `webhookDelete`: removes an endpoint, then saves and restarts.
pub async fn delete(admin: &Admin, args: NameArgs) -> Result<SaveOutcome, AdminError> {
    let _change = admin.changes.lock().await;
    let mut candidate = admin.effective().await?;
    let index = find(&candidate, &args.name)?;
    candidate.notifications.endpoints.remove(index);
    admin.save(candidate).await
}

/// `webhookTest`: the running registry sends a test event to the endpoint
/// now; answers its status code and the start of its body.
pub async fn test(admin: &Admin, args: NameArgs) -> Result<Value, AdminError> {
    find(&admin.current(), &args.name)?;
    let api = admin.sidecar_api()?;
    api.send(
        reqwest::Method::POST,
        "notifications/test",
        &serde_json::json!({ "endpoint": args.name }),
    )
    .await
}

/// `webhookDeliveries`: the endpoint's counters and recent attempts.
pub async fn deliveries(admin: &Admin, args: NameArgs) -> Result<Value, AdminError> {
    find(&admin.current(), &args.name)?;
    runtime(admin).await?.remove(&args.name).ok_or_else(|| {
        AdminError::new(
            ErrorCode::NotFound,
            format!("the running registry has no endpoint {:?}", args.name),
            "the registry may still be running on older settings: restart it on the Status page",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(name: &str, url: &str) -> Webhook {
        Webhook {
            name: name.into(),
            url: url.into(),
            disabled: false,
            headers: vec![],
            timeout: String::new(),
            threshold: 0,
            backoff: String::new(),
            ignored_media_types: vec![],
            ignore_actions: vec![],
        }
    }

    #[test]
    fn the_form_is_checked_field_by_field() {
        let taken = Endpoint {
            name: "ci".into(),
            ..Default::default()
        };
        let err = check(&webhook("ci", "hooks.example.com"), &[&taken]).unwrap_err();
        assert!(err.fields.contains_key("name"));
        assert!(err.fields.contains_key("url"));
        let mut w = webhook("new", "https://hooks.example.com/x");
        w.timeout = "soon".into();
        w.headers.push(HeaderRow {
            name: "Bad Name".into(),
            value: "v".into(),
            secret: false,
        });
        let err = check(&w, &[&taken]).unwrap_err();
        assert!(err.fields.contains_key("timeout"));
        assert!(err.fields.contains_key("headers.0"));
        w.timeout = "2s".into();
        w.headers.clear();
        assert_eq!(check(&w, &[]).unwrap().0, Duration::from_secs(2));
    }

    #[test]
    fn secret_headers_are_not_listed() {
        let e = Endpoint {
            name: "ci".into(),
            url: "http://x".into(),
            headers: vec![
                ("Authorization".into(), vec!["Bearer s3cret".into()]),
                ("X-Team".into(), vec!["infra".into()]),
            ],
            ..Default::default()
        };
        let w = to_webhook(&e);
        assert_eq!(w.headers[0].value, "");
        assert!(w.headers[0].secret);
        assert_eq!(w.headers[1].value, "infra");
    }
}
