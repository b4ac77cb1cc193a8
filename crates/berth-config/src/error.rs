//! Errors and warnings, each pointing at the line and column it is about.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Something in a configuration that loads but deserves the admin's attention:
/// an unknown key, a duplicate key, a deprecated spelling.
///
/// `line` and `column` count from 1; both are 0 for warnings about
/// `REGISTRY_*` environment variables, which have no place in the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Line in the file, from 1 (0 when the warning is about the environment).
    pub line: usize,
    /// Column in the file, from 1 (0 when the warning is about the environment).
    pub column: usize,
    /// Dotted path of the key concerned, e.g. `storage.s3.secure`.
    pub key_path: String,
    /// What happened and what to do, in one sentence.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "{}:{}: {}", self.line, self.column, self.message)
        }
    }
}

/// The kind of a [`Problem`], for callers (the admin UI) that react to a kind
/// rather than to message text.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A value of the wrong type: text where a boolean belongs, a list where a mapping does.
    WrongType,
    /// A value of the right type that is not allowed (an unknown log level, a bad duration).
    InvalidValue,
    /// A required value is missing.
    Missing,
    /// `version` is missing or is not `0.1`.
    UnsupportedVersion,
    /// No storage driver, or more than one.
    StorageDriverCount,
    /// More than one auth provider.
    AuthProviderCount,
}

impl ProblemKind {
    /// A stable machine-readable code, e.g. `"wrong_type"`.
    pub fn code(self) -> &'static str {
        match self {
            ProblemKind::WrongType => "wrong_type",
            ProblemKind::InvalidValue => "invalid_value",
            ProblemKind::Missing => "missing",
            ProblemKind::UnsupportedVersion => "unsupported_version",
            ProblemKind::StorageDriverCount => "storage_driver_count",
            ProblemKind::AuthProviderCount => "auth_provider_count",
        }
    }
}

/// One reason a configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Line in the file, from 1 (0 when the value came from the environment).
    pub line: usize,
    /// Column in the file, from 1 (0 when the value came from the environment).
    pub column: usize,
    /// Dotted path of the key concerned, e.g. `storage.delete.enabled`.
    pub key_path: String,
    /// The `REGISTRY_*` variable that supplied the value, when one did.
    pub env_var: Option<String>,
    /// What kind of problem this is.
    pub kind: ProblemKind,
    /// What is wrong and what to do, in one sentence; it starts with the
    /// variable's name when the value came from the environment.
    pub message: String,
}

impl Problem {
    fn write_located(&self, f: &mut fmt::Formatter<'_>, origin: &str) -> fmt::Result {
        match &self.env_var {
            Some(_) => f.write_str(&self.message),
            None if self.line == 0 => write!(f, "{origin}: {}", self.message),
            None => write!(
                f,
                "{origin}:{}:{}: {}",
                self.line, self.column, self.message
            ),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.env_var {
            Some(_) => f.write_str(&self.message),
            None => write!(f, "{}:{}: {}", self.line, self.column, self.message),
        }
    }
}

/// Why a configuration could not be loaded.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("{origin}:{line}:{column}: {message}")]
    Syntax {
        /// The file name (or other origin) given to the parser.
        origin: String,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
        /// What is wrong and what to do.
        message: String,
    },
    /// A `REGISTRY_*` variable could not be applied (bad YAML in its value, a
    /// list index that does not exist).
    #[error("environment variable {variable}: {message}")]
    Environment {
        /// The variable's name.
        variable: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The YAML is fine but the configuration is not: wrong types, no storage
    /// driver, two auth providers… Every problem found is listed.
    #[error("{}", ProblemList { origin, problems })]
    Invalid {
        /// The file name (or other origin) given to the parser.
        origin: String,
        /// Every problem found, in document order.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The problems behind an [`ConfigError::Invalid`] error; empty for other kinds.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

struct ProblemList<'a> {
    origin: &'a str,
    problems: &'a [Problem],
}

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            problem.write_located(f, self.origin)?;
        }
        Ok(())
    }
}

/// Why a driver or provider parameter could not be read as the type asked for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}parameter `{key}` must be {expected}, found {found}", location(*.line, *.column))]
pub struct ParamError {
    /// The parameter's key.
    pub key: String,
    /// What was wanted, e.g. "true or false".
    pub expected: &'static str,
    /// What was found, e.g. "`maybe`".
    pub found: String,
    /// Line in the file, when the parameter came from one.
    pub line: Option<usize>,
    /// Column in the file, when the parameter came from one.
    pub column: Option<usize>,
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) if l > 0 => format!("{l}:{c}: "),
        _ => String::new(),
    }
}
