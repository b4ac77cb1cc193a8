//! Which values are secrets, so they can be redacted in output and moved to the keychain.

/// What a redacted value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Keys whose values are secrets wherever they appear: in driver parameters
/// (s3 and swift `secretkey`, s3 `sessiontoken`, azure `accountkey`, azure
/// `connectionstring` (it carries the account key), azure
/// `credentials.secret`, swift `password`, oss `accesskeysecret`, gcs
/// `credentials.private_key` and, for `authorized_user` credentials,
/// `credentials.client_secret` and `credentials.refresh_token`), in typed
/// sections (`http.secret`, `redis.password`, `proxy.password`, mail hook
/// passwords, reporting keys) and in sections Berth does not know (GitLab's
/// `database.password`).
///
/// Identifiers are not secrets: s3 `accesskey`, azure `accountname` and
/// `credentials.clientid`, gcs `keyfile` (a path) and cloudfront `privatekey`
/// (a path) stay visible.
pub const SECRET_KEYS: [&str; 13] = [
    "secretkey",
    "sessiontoken",
    "accountkey",
    "connectionstring",
    "accesskeysecret",
    "password",
    "sentinelpassword",
    "secret",
    "private_key",
    "client_secret",
    "refresh_token",
    "apikey",
    "licensekey",
];

/// Request headers that carry credentials, in notification endpoints and HTTP health checks.
/// Request headers (lowercase) whose values are secrets, wherever config.yml
/// lists headers (notification endpoints, `http.headers`).
pub const SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "x-api-key"];

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
            "storage.azure.connectionstring",
            "storage.swift.password",
            "storage.swift.secretkey",
            "storage.gcs.credentials.private_key",
            "storage.gcs.credentials.client_secret",
            "storage.gcs.credentials.refresh_token",
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
            "storage.azure.credentials.clientid",
            "storage.gcs.keyfile",
            "storage.gcs.credentials.client_email",
            "http.tls.key",
            "http.headers.Authorization",
            "auth.htpasswd.path",
            "middleware.storage[0].options.privatekey",
        ] {
            assert!(!is_secret(&p(public)), "{public} should not be a secret");
        }
    }

    /// Every secret parameter of every driver, and of the sections around
    /// them, with a value of its own: none may appear in a redacted config
    /// (what config.yml and `config print` show) or in a diff, and each must
    /// be listed by `secret_paths` (what goes to the keychain).
    const LEAKY: &[(&str, &str)] = &[
        ("storage.s3.secretkey", "leak-s3-secretkey"),
        ("storage.s3.sessiontoken", "leak-s3-sessiontoken"),
        ("storage.azure.accountkey", "leak-azure-accountkey"),
        (
            "storage.azure.connectionstring",
            "leak-azure-connectionstring",
        ),
        (
            "storage.azure.credentials.secret",
            "leak-azure-clientsecret",
        ),
        ("storage.swift.password", "leak-swift-password"),
        ("storage.swift.secretkey", "leak-swift-secretkey"),
        (
            "storage.gcs.credentials.private_key",
            "leak-gcs-private-key",
        ),
        (
            "storage.gcs.credentials.client_secret",
            "leak-gcs-client-secret",
        ),
        (
            "storage.gcs.credentials.refresh_token",
            "leak-gcs-refresh-token",
        ),
        ("storage.oss.accesskeysecret", "leak-oss-accesskeysecret"),
        ("http.secret", "leak-http-secret"),
        ("redis.password", "leak-redis-password"),
        ("proxy.password", "leak-proxy-password"),
        (
            "notifications.endpoints[0].headers.Authorization",
            "leak-notifications-authorization",
        ),
    ];

    /// One config.yml per storage driver, together holding every value of [`LEAKY`].
    fn leaky_configs() -> Vec<String> {
        let rest = "http:\n  addr: 127.0.0.1:5000\n  secret: leak-http-secret\n\
            redis:\n  addr: 127.0.0.1:6379\n  password: leak-redis-password\n\
            proxy:\n  remoteurl: https://registry-1.docker.io\n  username: someone\n  password: leak-proxy-password\n\
            notifications:\n  endpoints:\n    - name: hook\n      url: https://hooks.example.com/\n      \
            headers:\n        Authorization: [leak-notifications-authorization]\n";
        [
            "s3:\n    region: us-east-1\n    bucket: b\n    accesskey: AKIAVISIBLE\n    \
             secretkey: leak-s3-secretkey\n    sessiontoken: leak-s3-sessiontoken\n",
            "azure:\n    accountname: visibleaccount\n    accountkey: leak-azure-accountkey\n    \
             container: c\n    connectionstring: leak-azure-connectionstring\n    \
             credentials:\n      type: client_secret\n      clientid: visible-client\n      \
             tenantid: visible-tenant\n      secret: leak-azure-clientsecret\n",
            "swift:\n    username: visibleuser\n    password: leak-swift-password\n    \
             authurl: https://keystone.example.com/v3\n    container: c\n    \
             secretkey: leak-swift-secretkey\n",
            "gcs:\n    bucket: b\n    credentials:\n      type: service_account\n      \
             client_email: visible@example.iam.gserviceaccount.com\n      \
             private_key: leak-gcs-private-key\n      client_secret: leak-gcs-client-secret\n      \
             refresh_token: leak-gcs-refresh-token\n",
            "oss:\n    accesskeyid: visibleid\n    accesskeysecret: leak-oss-accesskeysecret\n    \
             region: r\n    bucket: b\n",
        ]
        .iter()
        .map(|storage| format!("version: 0.1\nstorage:\n  {storage}{rest}"))
        .collect()
    }

    #[test]
    fn no_secret_leaks_into_a_redacted_config() {
        let mut listed = Vec::new();
        for yaml in leaky_configs() {
            let config = crate::Config::parse(&yaml, "leaky.yml", [])
                .unwrap_or_else(|e| panic!("{e}\n{yaml}"))
                .config;
            let redacted = config.to_yaml(true);
            let diff = format!(
                "{:?}",
                crate::Config::embedded_default(std::path::Path::new("/srv")).diff(&config)
            );
            for (path, value) in LEAKY {
                assert!(
                    !redacted.contains(value),
                    "{path} leaks into the redacted config.yml:\n{redacted}"
                );
                assert!(!diff.contains(value), "{path} leaks into a diff: {diff}");
            }
            for visible in [
                "AKIAVISIBLE",
                "visibleaccount",
                "visible-client",
                "visibleuser",
            ] {
                if yaml.contains(visible) {
                    assert!(
                        redacted.contains(visible),
                        "{visible} is no secret:\n{redacted}"
                    );
                }
            }
            // The unredacted form keeps them (it is what the sidecar is given).
            let full = config.to_yaml(false);
            listed.extend(crate::secret_paths(&config));
            for (path, value) in LEAKY {
                if yaml.contains(value) {
                    assert!(full.contains(value), "{path} lost:\n{full}");
                }
            }
        }
        for (path, _) in LEAKY {
            assert!(
                listed
                    .iter()
                    .any(|p| p == path || p.starts_with(&format!("{path}["))),
                "{path} is not among the secret paths: {listed:?}"
            );
        }
    }
}
