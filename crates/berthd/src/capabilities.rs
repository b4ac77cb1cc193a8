//! What a config asks for that this build of Berth cannot do, said plainly
//! before the registry starts rather than discovered by a failing client.

use berth_config::{Auth, Config};

/// How serious a gap is.
#[derive(Debug, PartialEq, Eq)]
pub enum Gap {
    /// Serving would behave differently from what the config says (auth,
    /// a pull-through proxy, middleware): berthd refuses to start.
    Blocking(String),
    /// A feature that is off in Berth for now; the registry still serves
    /// correctly without it.
    Ignored(String),
}

/// Everything in `config` this build cannot honour.
pub fn gaps(config: &Config) -> Vec<Gap> {
    let mut gaps = Vec::new();
    if let Err(e) = berth_drivers::check_available(&config.storage.driver.name) {
        gaps.push(Gap::Blocking(e.to_string()));
    }
    match &config.auth {
        None | Some(Auth::Htpasswd { .. }) | Some(Auth::Token(_)) => {}
        Some(auth) => gaps.push(Gap::Blocking(format!(
            "auth.{}: Berth supports htpasswd and token authentication in this version; \
             remove the section or switch to auth.htpasswd or auth.token",
            auth.name()
        ))),
    }
    if config.proxy.is_some() {
        gaps.push(Gap::Blocking(
            "proxy: pull-through caching is not supported; remove the proxy section to run an \
             ordinary registry"
                .into(),
        ));
    }
    let m = &config.middleware;
    for (kind, list) in [
        ("registry", &m.registry),
        ("repository", &m.repository),
        ("storage", &m.storage),
    ] {
        for mw in list {
            gaps.push(Gap::Blocking(format!(
                "middleware.{kind}: middleware {:?} is not supported; remove it",
                mw.name
            )));
        }
    }
    if config.http.net == "unix" {
        gaps.push(Gap::Blocking(
            "http.net: unix sockets are not supported; use tcp".into(),
        ));
    }
    if let Some(tls) = &config.http.tls {
        if tls.letsencrypt.is_some() {
            gaps.push(Gap::Blocking(
                "http.tls.letsencrypt: automatic certificates are not supported; give \
                 http.tls.certificate and http.tls.key"
                    .into(),
            ));
        } else if tls.certificate.is_none() || tls.key.is_none() {
            gaps.push(Gap::Blocking(
                "http.tls: both certificate and key are required".into(),
            ));
        }
        if !tls.client_cas.is_empty() {
            gaps.push(Gap::Blocking(
                "http.tls.clientcas: client certificate authentication is not supported yet; \
                 remove clientcas or use auth.htpasswd"
                    .into(),
            ));
        }
    }
    let debug = config.http.debug.as_ref();
    if debug.is_some_and(|d| d.prometheus.enabled && d.addr.is_empty()) {
        gaps.push(Gap::Ignored(
            "http.debug.prometheus: metrics are served on the debug listener; set http.debug.addr to \
             see them"
                .into(),
        ));
    }
    if config.redis.is_some() {
        gaps.push(Gap::Ignored(
            "redis: Berth does not use Redis yet; the blob descriptor cache is in memory".into(),
        ));
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps_of(yaml: &str) -> Vec<Gap> {
        let config = Config::parse(yaml, "test.yml", std::iter::empty())
            .expect("valid config")
            .config;
        gaps(&config)
    }

    #[test]
    fn token_auth_is_served_and_silly_auth_is_not() {
        let base = "version: 0.1\nstorage:\n  inmemory: {}\n";
        let token = format!(
            "{base}auth:\n  token:\n    realm: https://auth.example/token\n    service: s\n    \
             issuer: i\n    rootcertbundle: /etc/bundle.pem\n"
        );
        assert_eq!(gaps_of(&token), vec![]);
        let silly = format!("{base}auth:\n  silly:\n    realm: r\n    service: s\n");
        assert!(
            matches!(&gaps_of(&silly)[..], [Gap::Blocking(m)] if m.contains("auth.silly")),
            "{:?}",
            gaps_of(&silly)
        );
    }
}
