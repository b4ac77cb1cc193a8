//! Token authentication end to end: skopeo pushes and pulls through a
//! registry configured with `auth.token`, getting its tokens from a small
//! token server written here (axum on 127.0.0.1) the way Docker's token
//! servers work: basic credentials in, a JWT signed with an RSA key whose
//! certificate is the registry's `rootcertbundle`, named by its libtrust
//! `kid`, granting the scopes asked for.
//!
//! It runs against `berthd` and, as the reference that proves the test
//! right, CNCF Distribution: `cargo nextest run -p berth-e2e --test token_auth`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use berth_e2e::image::{KIB, LayerSpec, OciLayout, Platform};
use berth_e2e::on_both;
use berth_e2e::peer;
use berth_e2e::registry::{Kind, Options, Registry};
use berth_e2e::skopeo::{Access, Skopeo, docker};

on_both!(skopeo_pushes_and_pulls_with_tokens_from_a_token_server);

const SERVICE: &str = "berth-e2e-registry";
const ISSUER: &str = "berth-e2e-token-server";
const USER: &str = "alice";
const PASSWORD: &str = "wonder-land";

/// The token server's state: its key, and every scope it was asked for.
struct Issuer {
    key: jsonwebtoken::EncodingKey,
    kid: String,
    asked: Mutex<Vec<String>>,
}

/// A token server on 127.0.0.1, stopped with the runtime.
struct TokenServer {
    url: String,
    issuer: Arc<Issuer>,
    _runtime: tokio::runtime::Runtime,
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl {args:?} failed");
}

/// An RSA key and its self-signed certificate, made with openssl as an
/// admin makes them for a token server.
fn signing_certificate(dir: &Path) -> Option<(Vec<u8>, std::path::PathBuf)> {
    peer::require("openssl", "openssl")?;
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "token.key",
            "-out",
            "token.crt",
            "-days",
            "2",
            "-subj",
            "/CN=berth-e2e-token-server",
        ],
    );
    Some((
        std::fs::read(dir.join("token.key")).unwrap(),
        dir.join("token.crt"),
    ))
}

async fn token(
    State(issuer): State<Arc<Issuer>>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Basic realm=\"token\"")],
            "wrong credentials",
        )
            .into_response();
    }
    let params: HashMap<_, _> = query.iter().cloned().collect();
    if params.get("service").map(String::as_str) != Some(SERVICE) {
        return (StatusCode::BAD_REQUEST, "unknown service").into_response();
    }
    let mut access = Vec::new();
    for (k, scope) in &query {
        if k != "scope" {
            continue;
        }
        issuer.asked.lock().unwrap().push(scope.clone());
        for one in scope.split(' ') {
            let (kind, rest) = one.split_once(':').unwrap_or((one, ""));
            let (name, actions) = rest.rsplit_once(':').unwrap_or((rest, ""));
            access.push(serde_json::json!({
                "type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>(),
            }));
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": USER, "aud": SERVICE, "exp": now + 300, "nbf": now - 5,
        "iat": now, "jti": uuid::Uuid::new_v4().to_string(), "access": access,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(issuer.kid.clone());
    let jwt = jsonwebtoken::encode(&header, &claims, &issuer.key).unwrap();
    axum::Json(serde_json::json!({
        "token": jwt, "access_token": jwt, "expires_in": 300,
    }))
    .into_response()
}

fn start_token_server(key_pem: &[u8], cert: &Path) -> TokenServer {
    let pem = std::fs::read(cert).unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            String::from_utf8(pem)
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let issuer = Arc::new(Issuer {
        key: jsonwebtoken::EncodingKey::from_rsa_pem(key_pem).unwrap(),
        kid: berth_registry::auth::token::certificate_key_id(&der).unwrap(),
        asked: Mutex::new(Vec::new()),
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/token", axum::routing::get(token))
        .with_state(issuer.clone());
    runtime.spawn(async move { axum::serve(listener, app).await });
    TokenServer {
        url,
        issuer,
        _runtime: runtime,
    }
}

fn skopeo_pushes_and_pulls_with_tokens_from_a_token_server(kind: Kind) {
    let Some(skopeo) = Skopeo::find() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let Some((key, cert)) = signing_certificate(work.path()) else {
        return;
    };
    let server = start_token_server(&key, &cert);
    let options = Options {
        extra_yaml: format!(
            "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    \
             rootcertbundle: {}\n",
            server.url,
            cert.display()
        ),
        ..Options::default()
    };
    let Some(registry) = Registry::start(kind, options) else {
        return;
    };
    let source = OciLayout::create(work.path().join("source"));
    let image = source.add_image("v1", Platform::LINUX_AMD64, &[LayerSpec::new(81, 48 * KIB)]);
    let remote = docker(&registry.host(), "team/app:v1");

    let anonymous = skopeo
        .try_push(&source, "v1", &remote, &Access::insecure())
        .expect_err("a push without credentials is refused");
    let said = anonymous.stderr.to_lowercase();
    assert!(
        said.contains("unauthorized") || said.contains("authentication required"),
        "skopeo reports the refusal: {anonymous}"
    );
    let wrong = skopeo
        .try_push(
            &source,
            "v1",
            &remote,
            &Access::insecure().with_creds(USER, "not-the-password"),
        )
        .expect_err("the token server refuses a wrong password");
    assert!(!wrong.stderr.is_empty(), "{wrong}");

    let access = Access::insecure().with_creds(USER, PASSWORD);
    skopeo.push(&source, "v1", &remote, &access);
    let pulled = skopeo.pull(&remote, &work.path().join("pulled"), "v1", &access, false);
    pulled.assert_holds_image("v1", &image);

    let asked = server.issuer.asked.lock().unwrap().clone();
    assert!(
        asked
            .iter()
            .any(|s| s.contains("repository:team/app:") && s.contains("push")),
        "skopeo asked the token server for push on team/app: {asked:?}\n{}",
        registry.log()
    );
}
