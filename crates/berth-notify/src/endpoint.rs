//! One `notifications.endpoints[]` entry with Distribution's defaults
//! applied, and the filters that decide which events it gets.

use std::time::Duration;

use berth_registry::events::Event;

/// Distribution's default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Distribution's default number of failures before backing off.
pub const DEFAULT_THRESHOLD: u64 = 10;
/// Distribution's default backoff.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);

/// An endpoint as the delivery worker uses it.
#[derive(Clone, Debug)]
pub struct EndpointSettings {
    /// Its name (from the config, or `endpoint-N` when unnamed).
    pub name: String,
    /// Where events are POSTed.
    pub url: String,
    /// Sent with every request.
    pub headers: Vec<(String, Vec<String>)>,
    /// Per request.
    pub timeout: Duration,
    /// Consecutive failures before waiting `backoff`.
    pub threshold: u64,
    /// The wait once `threshold` is reached.
    pub backoff: Duration,
    /// Media types not sent (`ignoredmediatypes` and `ignore.mediatypes`).
    pub ignored_media_types: Vec<String>,
    /// Actions not sent (`ignore.actions`).
    pub ignored_actions: Vec<String>,
    /// `disabled: true`: no events are queued for it.
    pub disabled: bool,
}

impl EndpointSettings {
    /// From the config entry at `index`, with defaults for zero values.
    pub fn from_config(index: usize, e: &berth_config::Endpoint) -> EndpointSettings {
        EndpointSettings {
            name: if e.name.trim().is_empty() {
                format!("endpoint-{index}")
            } else {
                e.name.clone()
            },
            url: e.url.clone(),
            headers: e.headers.clone(),
            timeout: if e.timeout.is_zero() {
                DEFAULT_TIMEOUT
            } else {
                e.timeout
            },
            threshold: if e.threshold == 0 {
                DEFAULT_THRESHOLD
            } else {
                e.threshold
            },
            backoff: if e.backoff.is_zero() {
                DEFAULT_BACKOFF
            } else {
                e.backoff
            },
            ignored_media_types: e
                .ignored_media_types
                .iter()
                .chain(&e.ignore.media_types)
                .cloned()
                .collect(),
            ignored_actions: e.ignore.actions.clone(),
            disabled: e.disabled,
        }
    }

    /// Whether `event` goes to this endpoint.
    pub fn wants(&self, event: &Event) -> bool {
        let ignored_type = !event.target.media_type.is_empty()
            && self
                .ignored_media_types
                .iter()
                .any(|m| m == &event.target.media_type);
        !self.disabled && !ignored_type && !self.ignored_actions.iter().any(|a| a == &event.action)
    }

    /// A directory name for its queue: the name with anything but
    /// letters, digits, `-`, `_` and `.` replaced.
    pub fn dir_name(&self) -> String {
        let clean: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        match clean.trim_matches('.') {
            "" => "endpoint".to_string(),
            s => s.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_registry::events::Target;

    #[test]
    fn defaults_and_filters() {
        let config = berth_config::Endpoint {
            name: "ci hooks/1".into(),
            url: "http://x".into(),
            ignored_media_types: vec!["application/octet-stream".into()],
            ignore: berth_config::Ignore {
                media_types: vec!["m".into()],
                actions: vec!["pull".into()],
            },
            ..Default::default()
        };
        let e = EndpointSettings::from_config(0, &config);
        assert_eq!(e.timeout, DEFAULT_TIMEOUT);
        assert_eq!(e.threshold, 10);
        assert_eq!(e.dir_name(), "ci_hooks_1");
        let event = |action: &str, media_type: &str| {
            Event::new(
                action,
                Target {
                    media_type: media_type.into(),
                    ..Default::default()
                },
            )
        };
        assert!(e.wants(&event("push", "application/vnd.oci.image.manifest.v1+json")));
        assert!(!e.wants(&event("push", "application/octet-stream")));
        assert!(!e.wants(&event("push", "m")));
        assert!(!e.wants(&event("pull", "x")));
        assert!(e.wants(&event("delete", "")));
    }
}
