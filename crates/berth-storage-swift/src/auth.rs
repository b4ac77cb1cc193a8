//! Getting a token and the storage URL: TempAuth (v1.0), Keystone v2.0 and
//! Keystone v3, as ncw/swift (Distribution's client) does.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{AuthVersion, EndpointType, SwiftConfig};
use crate::error::SwiftError;
use crate::retry;

/// A token and where to use it.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// The account's URL, e.g. `http://h:8080/v1/AUTH_test` (no trailing slash).
    pub storage_url: String,
    /// The `X-Auth-Token` value.
    pub token: String,
    /// The project (tenant) id the token is scoped to, when Keystone says.
    pub tenant_id: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("storage_url", &self.storage_url)
            .field("token", &"<redacted>")
            .field("tenant_id", &self.tenant_id)
            .finish()
    }
}

/// Authenticates with the configured identity service.
pub async fn authenticate(
    http: &reqwest::Client,
    config: &SwiftConfig,
) -> Result<Session, SwiftError> {
    let url = tokens_url(&config.auth_url, config.auth_version);
    let response = retry::send(http, || match config.auth_version {
        AuthVersion::V1 => http
            .get(&url)
            .header("X-Auth-User", &config.username)
            .header("X-Auth-Key", &config.password),
        AuthVersion::V2 => http.post(&url).json(&v2_body(config)),
        AuthVersion::V3 => http.post(&url).json(&v3_body(config)),
    })
    .await?;
    let status = response.status();
    let headers = response.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let body = response
        .bytes()
        .await
        .map_err(|e| SwiftError::transport(&url, &e))?;
    let body_text = String::from_utf8_lossy(&body);
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(SwiftError::status(
            status,
            &format!("authentication at {url}"),
            &body_text,
        ));
    }
    if !status.is_success() {
        return Err(
            SwiftError::status(status, &format!("authentication at {url}"), &body_text).hint(
                &format!(
                    "check storage.swift.authurl and storage.swift.authversion ({})",
                    config.auth_version.number()
                ),
            ),
        );
    }
    let region = config.region.as_deref();
    let session = match config.auth_version {
        AuthVersion::V1 => match (header("X-Storage-Url"), header("X-Auth-Token")) {
            (Some(storage_url), Some(token)) => Ok(Session {
                storage_url,
                token,
                tenant_id: None,
            }),
            _ => Err(format!(
                "{url} answered without X-Storage-Url and X-Auth-Token: is it a TempAuth (v1.0) endpoint? Check storage.swift.authurl and storage.swift.authversion"
            )),
        },
        AuthVersion::V2 => parse_v2(&body, region, config.endpoint_type),
        AuthVersion::V3 => parse_v3(
            &body,
            header("X-Subject-Token").as_deref(),
            region,
            config.endpoint_type,
        ),
    };
    let mut session = session.map_err(SwiftError::Other)?;
    session.storage_url = session.storage_url.trim_end_matches('/').to_string();
    if session.tenant_id.is_none() {
        session.tenant_id = config.tenant_id.clone();
    }
    Ok(session)
}

/// Where to ask for a token.
pub fn tokens_url(auth_url: &str, version: AuthVersion) -> String {
    let base = auth_url.trim_end_matches('/');
    match version {
        AuthVersion::V1 => auth_url.to_string(),
        AuthVersion::V2 => format!("{base}/tokens"),
        AuthVersion::V3 => format!("{base}/auth/tokens"),
    }
}

/// The Keystone v2.0 request: password credentials, scoped to the tenant.
pub fn v2_body(c: &SwiftConfig) -> Value {
    let mut auth = json!({
        "passwordCredentials": {"username": c.username, "password": c.password},
    });
    if let Some(name) = &c.tenant {
        auth["tenantName"] = json!(name);
    }
    if let Some(id) = &c.tenant_id {
        auth["tenantId"] = json!(id);
    }
    json!({ "auth": auth })
}

/// The Keystone v3 request: the password method, the user's domain, and a
/// trust or project scope.
pub fn v3_body(c: &SwiftConfig) -> Value {
    let domain = |name: &Option<String>, id: &Option<String>| match (name, id) {
        (Some(n), _) => Some(json!({"name": n})),
        (None, Some(i)) => Some(json!({"id": i})),
        (None, None) => None,
    };
    let mut user = json!({"name": c.username, "password": c.password});
    if let Some(d) = domain(&c.domain, &c.domain_id) {
        user["domain"] = d;
    }
    let mut auth = json!({
        "identity": {"methods": ["password"], "password": {"user": user}},
    });
    if let Some(trust) = &c.trust_id {
        auth["scope"] = json!({"OS-TRUST:trust": {"id": trust}});
    } else if let Some(id) = &c.tenant_id {
        auth["scope"] = json!({"project": {"id": id}});
    } else if let Some(name) = &c.tenant {
        let project_domain = domain(&c.tenant_domain, &c.tenant_domain_id)
            .or_else(|| domain(&c.domain, &c.domain_id))
            .unwrap_or_else(|| json!({"name": "Default"}));
        auth["scope"] = json!({"project": {"name": name, "domain": project_domain}});
    }
    json!({ "auth": auth })
}

#[derive(Deserialize)]
struct V2Response {
    access: V2Access,
}

#[derive(Deserialize)]
struct V2Access {
    token: V2Token,
    #[serde(rename = "serviceCatalog", default)]
    catalog: Vec<V2Service>,
}

#[derive(Deserialize)]
struct V2Token {
    id: String,
    #[serde(default)]
    tenant: Option<IdOnly>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
struct V2Service {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    endpoints: Vec<V2Endpoint>,
}

#[derive(Deserialize)]
struct V2Endpoint {
    #[serde(default)]
    region: Option<String>,
    #[serde(rename = "publicURL", alias = "publicUrl", default)]
    public: Option<String>,
    #[serde(rename = "internalURL", alias = "internalUrl", default)]
    internal: Option<String>,
    #[serde(rename = "adminURL", alias = "adminUrl", default)]
    admin: Option<String>,
}

/// The token, tenant and object-store endpoint of a Keystone v2.0 answer.
pub fn parse_v2(
    body: &[u8],
    region: Option<&str>,
    endpoint_type: EndpointType,
) -> Result<Session, String> {
    let r: V2Response = serde_json::from_slice(body)
        .map_err(|e| format!("cannot read the Keystone v2.0 answer: {e}"))?;
    let url = r
        .access
        .catalog
        .iter()
        .filter(|s| s.kind == "object-store")
        .flat_map(|s| &s.endpoints)
        .filter(|e| region.is_none() || e.region.as_deref() == region)
        .find_map(|e| match endpoint_type {
            EndpointType::Public => e.public.clone(),
            EndpointType::Internal => e.internal.clone(),
            EndpointType::Admin => e.admin.clone(),
        })
        .ok_or_else(|| no_endpoint(region, endpoint_type))?;
    Ok(Session {
        storage_url: url,
        token: r.access.token.id,
        tenant_id: r.access.token.tenant.map(|t| t.id),
    })
}

#[derive(Deserialize)]
struct V3Response {
    token: V3Token,
}

#[derive(Deserialize)]
struct V3Token {
    #[serde(default)]
    catalog: Vec<V3Service>,
    #[serde(default)]
    project: Option<IdOnly>,
}

#[derive(Deserialize)]
struct V3Service {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    endpoints: Vec<V3Endpoint>,
}

#[derive(Deserialize)]
struct V3Endpoint {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    region_id: Option<String>,
    interface: String,
    url: String,
}

/// The object-store endpoint and project of a Keystone v3 answer, whose
/// token came in the `X-Subject-Token` header.
pub fn parse_v3(
    body: &[u8],
    subject_token: Option<&str>,
    region: Option<&str>,
    endpoint_type: EndpointType,
) -> Result<Session, String> {
    let token = subject_token
        .ok_or("the Keystone v3 answer has no X-Subject-Token header")?
        .to_string();
    let r: V3Response = serde_json::from_slice(body)
        .map_err(|e| format!("cannot read the Keystone v3 answer: {e}"))?;
    let in_region = |e: &V3Endpoint| match region {
        None => true,
        Some(want) => e.region.as_deref() == Some(want) || e.region_id.as_deref() == Some(want),
    };
    let url = r
        .token
        .catalog
        .iter()
        .filter(|s| s.kind == "object-store")
        .flat_map(|s| &s.endpoints)
        .find(|e| e.interface == endpoint_type.as_str() && in_region(e))
        .map(|e| e.url.clone())
        .ok_or_else(|| no_endpoint(region, endpoint_type))?;
    Ok(Session {
        storage_url: url,
        token,
        tenant_id: r.token.project.map(|p| p.id),
    })
}

fn no_endpoint(region: Option<&str>, endpoint_type: EndpointType) -> String {
    let region = region
        .map(|r| format!(" in region {r:?}"))
        .unwrap_or_default();
    format!(
        "the Keystone catalog has no {} object-store endpoint{region}: check storage.swift.region and storage.swift.endpointtype, and that the token is scoped to a project (storage.swift.tenant or tenantid)",
        endpoint_type.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_config::Parameters;

    fn config(pairs: &[(&str, &str)]) -> SwiftConfig {
        let mut p = Parameters::new();
        for (k, v) in [
            ("authurl", "https://keystone.example/v3"),
            ("username", "alice"),
            ("password", "pw"),
            ("container", "reg"),
        ]
        .iter()
        .chain(pairs)
        {
            p.insert(*k, json!(v));
        }
        SwiftConfig::parse(&p).unwrap()
    }

    #[test]
    fn debug_output_hides_the_token() {
        let s = Session {
            storage_url: "http://h/v1/AUTH_t".into(),
            token: "AUTH_tk_secret".into(),
            tenant_id: None,
        };
        assert!(!format!("{s:?}").contains("AUTH_tk_secret"));
    }

    #[test]
    fn token_urls() {
        assert_eq!(
            tokens_url("https://ks/v2.0/", AuthVersion::V2),
            "https://ks/v2.0/tokens"
        );
        assert_eq!(
            tokens_url("https://ks/v3", AuthVersion::V3),
            "https://ks/v3/auth/tokens"
        );
        assert_eq!(
            tokens_url("http://h/auth/v1.0", AuthVersion::V1),
            "http://h/auth/v1.0"
        );
    }

    #[test]
    fn v2_body_has_password_and_tenant() {
        let body = v2_body(&config(&[("tenant", "proj"), ("tenantid", "p-1")]));
        assert_eq!(
            body,
            json!({"auth": {
                "passwordCredentials": {"username": "alice", "password": "pw"},
                "tenantName": "proj", "tenantId": "p-1"}})
        );
        let body = v2_body(&config(&[]));
        assert!(body["auth"].get("tenantName").is_none());
    }

    #[test]
    fn v3_body_scopes() {
        let body = v3_body(&config(&[("domain", "users"), ("tenant", "proj")]));
        assert_eq!(
            body,
            json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": "alice", "password": "pw", "domain": {"name": "users"}}}},
                "scope": {"project": {"name": "proj", "domain": {"name": "users"}}}}})
        );
        let body = v3_body(&config(&[
            ("domainid", "d-1"),
            ("tenant", "proj"),
            ("tenantdomainid", "pd-9"),
        ]));
        assert_eq!(
            body["auth"]["identity"]["password"]["user"]["domain"],
            json!({"id": "d-1"})
        );
        assert_eq!(
            body["auth"]["scope"],
            json!({"project": {"name": "proj", "domain": {"id": "pd-9"}}})
        );
        let body = v3_body(&config(&[("tenant", "proj")]));
        assert_eq!(
            body["auth"]["scope"]["project"]["domain"],
            json!({"name": "Default"})
        );
        let body = v3_body(&config(&[("tenantid", "p-1"), ("tenant", "proj")]));
        assert_eq!(body["auth"]["scope"], json!({"project": {"id": "p-1"}}));
        let body = v3_body(&config(&[("trustid", "t-1"), ("tenant", "proj")]));
        assert_eq!(
            body["auth"]["scope"],
            json!({"OS-TRUST:trust": {"id": "t-1"}})
        );
        let body = v3_body(&config(&[]));
        assert!(body["auth"].get("scope").is_none());
    }

    const V2: &str = r#"{"access": {
        "token": {"id": "tok-2", "tenant": {"id": "ten-1", "name": "proj"}},
        "serviceCatalog": [
          {"type": "compute", "endpoints": [{"region": "R1", "publicURL": "https://nova"}]},
          {"type": "object-store", "endpoints": [
            {"region": "R1", "publicURL": "https://r1-pub/v1/AUTH_t", "internalURL": "https://r1-int/v1/AUTH_t", "adminURL": "https://r1-adm"},
            {"region": "R2", "publicURL": "https://r2-pub/v1/AUTH_t", "internalURL": "https://r2-int/v1/AUTH_t"}
          ]}]}}"#;

    #[test]
    fn v2_catalog_by_region_and_type() {
        let s = parse_v2(V2.as_bytes(), None, EndpointType::Public).unwrap();
        assert_eq!(
            s,
            Session {
                storage_url: "https://r1-pub/v1/AUTH_t".into(),
                token: "tok-2".into(),
                tenant_id: Some("ten-1".into()),
            }
        );
        let s = parse_v2(V2.as_bytes(), Some("R2"), EndpointType::Internal).unwrap();
        assert_eq!(s.storage_url, "https://r2-int/v1/AUTH_t");
        let s = parse_v2(V2.as_bytes(), None, EndpointType::Admin).unwrap();
        assert_eq!(s.storage_url, "https://r1-adm");
        let e = parse_v2(V2.as_bytes(), Some("R2"), EndpointType::Admin).unwrap_err();
        assert!(
            e.contains("no admin object-store endpoint in region \"R2\""),
            "{e}"
        );
        let e = parse_v2(b"{}", None, EndpointType::Public).unwrap_err();
        assert!(e.contains("Keystone v2.0"), "{e}");
    }

    const V3: &str = r#"{"token": {
        "project": {"id": "proj-id", "name": "proj", "domain": {"id": "default"}},
        "catalog": [
          {"type": "identity", "endpoints": [{"interface": "public", "region": "R1", "url": "https://ks"}]},
          {"type": "object-store", "endpoints": [
            {"interface": "admin", "region": "R1", "region_id": "R1", "url": "https://r1-adm"},
            {"interface": "public", "region": "R1", "region_id": "R1", "url": "https://r1-pub/v1/AUTH_p"},
            {"interface": "internal", "region_id": "R2", "url": "https://r2-int/v1/AUTH_p"},
            {"interface": "public", "region_id": "R2", "url": "https://r2-pub/v1/AUTH_p/"}
          ]}]}}"#;

    #[test]
    fn v3_catalog_by_region_and_interface() {
        let s = parse_v3(V3.as_bytes(), Some("tok-3"), None, EndpointType::Public).unwrap();
        assert_eq!(
            s,
            Session {
                storage_url: "https://r1-pub/v1/AUTH_p".into(),
                token: "tok-3".into(),
                tenant_id: Some("proj-id".into()),
            }
        );
        let s = parse_v3(V3.as_bytes(), Some("t"), Some("R2"), EndpointType::Internal).unwrap();
        assert_eq!(s.storage_url, "https://r2-int/v1/AUTH_p");
        let s = parse_v3(V3.as_bytes(), Some("t"), Some("R2"), EndpointType::Public).unwrap();
        assert_eq!(s.storage_url, "https://r2-pub/v1/AUTH_p/");
        let e = parse_v3(V3.as_bytes(), Some("t"), Some("R3"), EndpointType::Public).unwrap_err();
        assert!(e.contains("storage.swift.region"), "{e}");
        let e = parse_v3(V3.as_bytes(), None, None, EndpointType::Public).unwrap_err();
        assert!(e.contains("X-Subject-Token"), "{e}");
    }
}
