//! Who may do what: the access a request needs (Distribution's
//! `repository:NAME:pull|push|delete` and `registry:catalog:*`) and the
//! configured provider that grants it: an htpasswd file (any valid user may
//! do anything) or bearer tokens from a token server (`auth.token`).

mod htpasswd;
pub mod token;

pub use htpasswd::{Htpasswd, HtpasswdError, HtpasswdFile};

use http::{HeaderMap, Method};

use crate::error::RegistryError;

/// One action on one resource, as tokens grant them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Access {
    /// The resource type: `repository` or `registry`.
    pub kind: String,
    /// The repository name, or `catalog`.
    pub name: String,
    /// `pull`, `push`, `delete` or `*`.
    pub action: String,
}

impl Access {
    /// `kind:name:action`.
    pub fn new(kind: &str, name: &str, action: &str) -> Access {
        Access {
            kind: kind.to_string(),
            name: name.to_string(),
            action: action.to_string(),
        }
    }
}

/// What a request needs, as Distribution decides it: GET and HEAD pull,
/// POST, PUT and PATCH pull and push, DELETE deletes; a mount also pulls
/// from its source repository; the catalog needs `registry:catalog:*`; the
/// base endpoint `/v2/` needs only a valid login.
pub fn required_access(
    method: &Method,
    repository: Option<&str>,
    catalog: bool,
    mount_from: Option<&str>,
) -> Vec<Access> {
    let mut access = Vec::new();
    let mut add = |method: &Method, repo: &str| match *method {
        Method::GET | Method::HEAD => access.push(Access::new("repository", repo, "pull")),
        Method::POST | Method::PUT | Method::PATCH => {
            access.push(Access::new("repository", repo, "pull"));
            access.push(Access::new("repository", repo, "push"));
        }
        Method::DELETE => access.push(Access::new("repository", repo, "delete")),
        _ => {}
    };
    match repository {
        Some(repo) => {
            add(method, repo);
            if let Some(from) = mount_from.filter(|f| !f.is_empty()) {
                add(&Method::GET, from);
            }
        }
        None if catalog => access.push(Access::new("registry", "catalog", "*")),
        None => {}
    }
    access
}

/// The configured authentication provider.
pub enum Authenticator {
    /// Basic auth against users loaded once.
    Htpasswd(Htpasswd),
    /// Basic auth against an htpasswd file, reloaded when it changes.
    HtpasswdFile(HtpasswdFile),
    /// Bearer tokens from a token server.
    Token(token::TokenAuth),
}

impl Authenticator {
    /// Checks that the request may have `access`; the user (or token
    /// subject) on success, else the 401 answer with its challenge.
    pub fn authorize(
        &self,
        headers: &HeaderMap,
        access: &[Access],
    ) -> Result<String, RegistryError> {
        match self {
            Authenticator::Htpasswd(h) => h.authenticate(headers),
            Authenticator::HtpasswdFile(h) => h.authenticate(headers),
            Authenticator::Token(t) => t.authorize(headers, access),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_follows_distribution() {
        let r = |kind: &str, name: &str, action: &str| Access::new(kind, name, action);
        assert_eq!(
            required_access(&Method::GET, Some("a/b"), false, None),
            vec![r("repository", "a/b", "pull")]
        );
        assert_eq!(
            required_access(&Method::PATCH, Some("a"), false, None),
            vec![r("repository", "a", "pull"), r("repository", "a", "push")]
        );
        assert_eq!(
            required_access(&Method::POST, Some("a"), false, Some("b")),
            vec![
                r("repository", "a", "pull"),
                r("repository", "a", "push"),
                r("repository", "b", "pull")
            ]
        );
        assert_eq!(
            required_access(&Method::DELETE, Some("a"), false, None),
            vec![r("repository", "a", "delete")]
        );
        assert_eq!(
            required_access(&Method::GET, None, true, None),
            vec![r("registry", "catalog", "*")]
        );
        assert!(required_access(&Method::GET, None, false, None).is_empty());
    }
}
