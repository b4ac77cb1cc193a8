//! The one error type every admin operation answers with.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// What kind of failure an [`AdminError`] is; the UI reacts to the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// The arguments are wrong: a missing or malformed form field, an unknown setting.
    InvalidInput,
    /// A config.yml that does not parse or validate.
    InvalidConfig,
    /// The backend probe failed (`details` holds the probe result).
    ProbeFailed,
    /// The storage driver is not part of this build.
    UnavailableDriver,
    /// No OS keychain to keep a secret in.
    KeychainUnavailable,
    /// An unknown operation or credential.
    NotFound,
    /// The registry sidecar did not start, stop or become healthy.
    Sidecar,
    /// Anything else (a file that cannot be written, a task that died).
    Internal,
    /// The console's token is missing or wrong.
    Unauthorized,
}

impl ErrorCode {
    /// The code as the API writes it, e.g. `"keychain-unavailable"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid-input",
            ErrorCode::InvalidConfig => "invalid-config",
            ErrorCode::ProbeFailed => "probe-failed",
            ErrorCode::UnavailableDriver => "unavailable-driver",
            ErrorCode::KeychainUnavailable => "keychain-unavailable",
            ErrorCode::NotFound => "not-found",
            ErrorCode::Sidecar => "sidecar",
            ErrorCode::Internal => "internal",
            ErrorCode::Unauthorized => "unauthorized",
        }
    }

    /// The HTTP status the console answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidInput | ErrorCode::InvalidConfig | ErrorCode::UnavailableDriver => {
                400
            }
            ErrorCode::Unauthorized => 401,
            ErrorCode::NotFound => 404,
            ErrorCode::ProbeFailed => 422,
            ErrorCode::KeychainUnavailable => 503,
            ErrorCode::Sidecar => 502,
            ErrorCode::Internal => 500,
        }
    }
}

/// A failed admin operation: what is wrong (`message`) and what to do (`hint`).
///
/// Serializes as `{"code", "message", "hint"}`, plus `fields` (per-field
/// messages of an `invalid-input` error) and `details` (a probe result, a
/// list of config errors) when there are any.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdminError {
    /// The kind of failure.
    pub code: ErrorCode,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// Per-field messages, keyed by setting (form validation).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// Structured detail: the probe result of a `probe-failed` error, the
    /// errors of an `invalid-config` one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl AdminError {
    /// An error of `code` with a message and a hint.
    pub fn new(code: ErrorCode, message: impl Into<String>, hint: impl Into<String>) -> AdminError {
        AdminError {
            code,
            message: message.into(),
            hint: hint.into(),
            fields: BTreeMap::new(),
            details: None,
        }
    }

    /// An `invalid-input` error.
    pub fn invalid_input(message: impl Into<String>, hint: impl Into<String>) -> AdminError {
        AdminError::new(ErrorCode::InvalidInput, message, hint)
    }

    /// An `internal` error.
    pub fn internal(message: impl Into<String>, hint: impl Into<String>) -> AdminError {
        AdminError::new(ErrorCode::Internal, message, hint)
    }

    /// The same error with per-field messages.
    pub fn with_fields(mut self, fields: BTreeMap<String, String>) -> AdminError {
        self.fields = fields;
        self
    }

    /// The same error with structured detail.
    pub fn with_details(mut self, details: Value) -> AdminError {
        self.details = Some(details);
        self
    }

    /// The error as the API's `{"error": {…}}` object.
    pub fn to_body(&self) -> Value {
        serde_json::json!({ "error": self })
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AdminError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_contract_says() {
        let err = AdminError::invalid_input("bad", "fix it").with_fields(
            [("bucket".to_string(), "required".to_string())]
                .into_iter()
                .collect(),
        );
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            serde_json::json!({
                "code": "invalid-input", "message": "bad", "hint": "fix it",
                "fields": { "bucket": "required" }
            })
        );
        let plain = AdminError::new(ErrorCode::KeychainUnavailable, "m", "h");
        let v = serde_json::to_value(&plain).unwrap();
        assert_eq!(v["code"], "keychain-unavailable");
        assert!(v.get("fields").is_none() && v.get("details").is_none());
        assert_eq!(plain.to_string(), "m");
        assert_eq!(
            ErrorCode::KeychainUnavailable.as_str(),
            "keychain-unavailable"
        );
    }
}
