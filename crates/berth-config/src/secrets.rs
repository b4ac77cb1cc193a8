//! Which values are secrets, so they can be redacted in output and moved to the keychain.

/// What a redacted value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Keys whose values are secrets wherever they appear: in driver parameters
/// (s3 and swift `secretkey`, s3 `sessiontoken`, azure `accountkey`, azure
/// `credentials.secret`, swift `password`, oss `accesskeysecret`, gcs
/// `credentials.private_key`), in typed sections (`http.secret`,
/// `redis.password`, `proxy.password`, mail hook passwords, reporting keys)
/// and in sections Berth does not know (GitLab's `database.password`).
///
/// Identifiers are not secrets: s3 `accesskey`, azure `accountname`, gcs
/// `keyfile` (a path) and cloudfront `privatekey` (a path) stay visible.
pub const SECRET_KEYS: [&str; 10] = [
    "secretkey",
    "sessiontoken",
    "accountkey",
    "accesskeysecret",
    "password",
    "sentinelpassword",
    "secret",
    "private_key",
    "apikey",
    "licensekey",
];

/// Request headers that carry credentials, in notification endpoints and HTTP health checks.
const SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "x-api-key"];

/// Whether the value at `path` (one element per level, list positions as
/// decimal numbers) is a secret.
pub(crate) fn is_secret(path: &[String]) -> bool {
    let Some(last) = path.last() else {
        return false;
    };
    let last = last.to_ascii_lowercase();
    if SECRET_KEYS.contains(&last.as_str()) {
        return true;
    }
    // Response headers (`http.headers`) are public; request headers sent to
    // webhooks and health endpoints may carry credentials.
    path.len() >= 2
        && path[path.len() - 2] == "headers"
        && path.first().is_some_and(|p| p != "http")
        && SECRET_HEADERS.contains(&last.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::split_path;

    fn p(path: &str) -> Vec<String> {
        split_path(path)
    }

    #[test]
    fn recognises_secrets() {
        for secret in [
            "storage.s3.secretkey",
            "storage.azure.accountkey",
            "storage.azure.credentials.secret",
            "storage.swift.password",
            "storage.swift.secretkey",
            "storage.gcs.credentials.private_key",
            "http.secret",
            "redis.password",
            "proxy.password",
            "notifications.endpoints[0].headers.Authorization",
            "health.http[1].headers.authorization",
            "log.hooks[0].options.smtp.password",
            "database.password",
        ] {
            assert!(is_secret(&p(secret)), "{secret} should be a secret");
        }
        for public in [
            "storage.s3.accesskey",
            "storage.azure.accountname",
            "storage.gcs.keyfile",
            "http.tls.key",
            "http.headers.Authorization",
            "auth.htpasswd.path",
            "middleware.storage[0].options.privatekey",
        ] {
            assert!(!is_secret(&p(public)), "{public} should not be a secret");
        }
    }
}
