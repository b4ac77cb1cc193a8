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
        None | Some(Auth::Htpasswd { .. }) => {}
        Some(auth) => gaps.push(Gap::Blocking(format!(
            "auth.{}: Berth supports htpasswd authentication in this version; \
             remove the section or switch to auth.htpasswd",
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
    if config.notifications.endpoints.iter().any(|e| !e.disabled) {
        gaps.push(Gap::Ignored(
            "notifications: webhook delivery is not implemented yet; no events will be sent".into(),
        ));
    }
    if config.http.debug.is_some() {
        gaps.push(Gap::Ignored(
            "http.debug: the debug and metrics server is not implemented yet".into(),
        ));
    }
    if config.redis.is_some() {
        gaps.push(Gap::Ignored(
            "redis: Berth does not use Redis yet; the blob descriptor cache is in memory".into(),
        ));
    }
    gaps
}
