//! Token authentication (`auth.token`) against tokens this test signs with
//! its own keys, one per way a token names its key: an RSA certificate of
//! the bundle by libtrust `kid` (Docker's token servers), an ECDSA leaf
//! certificate in `x5c` chained to a CA of the bundle, and an Ed25519 key
//! of a JWKS file by `kid`. Every refusal must carry Distribution's
//! challenge, since that is what docker, podman and skopeo act on.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use base64::Engine as _;
use berth_registry::auth::token::{TokenAuth, TokenOptions, certificate_key_id};
use berth_registry::auth::{Authenticator, HtpasswdFile};
use berth_registry::{Registry, Settings};
use berth_storage::inmemory::InMemoryDriver;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use serde_json::{Value, json};
use tower::ServiceExt;

const REALM: &str = "https://auth.example.test/token";
const SERVICE: &str = "berth.example.test";
const ISSUER: &str = "berth-test-issuer";

/// A signing key and how tokens name it.
struct Signer {
    alg: Algorithm,
    key: EncodingKey,
    header: Header,
}

impl Signer {
    fn sign(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&self.header, claims, &self.key).unwrap()
    }
}

struct Keys {
    _dir: tempfile::TempDir,
    options: TokenOptions,
    rsa: Signer,
    ec: Signer,
    ed: Signer,
    /// An RSA key nobody trusts, claiming the trusted RSA key's `kid`.
    impostor: Signer,
}

fn rsa_key(dir: &Path, name: &str) -> KeyPair {
    let path = dir.join(name);
    let status = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&path)
        .status()
        .expect("openssl is installed (Debian package openssl)");
    assert!(status.success(), "openssl genpkey failed");
    KeyPair::from_pem(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    // RSA: a self-signed certificate in the bundle, tokens name it by kid.
    let rsa = rsa_key(dir.path(), "rsa.pem");
    let rsa_cert = CertificateParams::new(vec!["token-rsa".into()])
        .unwrap()
        .self_signed(&rsa)
        .unwrap();
    let rsa_kid = certificate_key_id(rsa_cert.der()).unwrap();
    // ECDSA: a CA in the bundle; tokens carry their leaf in x5c.
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "token CA");
    let ca_cert = ca_params.clone().self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, &ca_key);
    let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let leaf = CertificateParams::new(vec!["token-signer".into()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let bundle = dir.path().join("bundle.pem");
    std::fs::write(&bundle, format!("{}{}", rsa_cert.pem(), ca_cert.pem())).unwrap();
    // Ed25519: a JWKS file.
    let ed_key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let jwks = dir.path().join("jwks.json");
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ed_key.public_key_raw());
    std::fs::write(
        &jwks,
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "ed-1", "use": "sig"}]})
            .to_string(),
    )
    .unwrap();
    let impostor = rsa_key(dir.path(), "impostor.pem");

    let mut rsa_header = Header::new(Algorithm::RS256);
    rsa_header.kid = Some(rsa_kid);
    let mut ec_header = Header::new(Algorithm::ES256);
    ec_header.x5c = Some(vec![
        base64::engine::general_purpose::STANDARD.encode(leaf.der()),
    ]);
    let mut ed_header = Header::new(Algorithm::EdDSA);
    ed_header.kid = Some("ed-1".into());
    Keys {
        options: TokenOptions {
            realm: REALM.into(),
            service: SERVICE.into(),
            issuer: ISSUER.into(),
            root_cert_bundle: Some(bundle),
            jwks: Some(jwks),
            ..TokenOptions::default()
        },
        rsa: Signer {
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_pem(rsa.serialize_pem().as_bytes()).unwrap(),
            header: rsa_header.clone(),
        },
        ec: Signer {
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_pem(leaf_key.serialize_pem().as_bytes()).unwrap(),
            header: ec_header,
        },
        ed: Signer {
            alg: Algorithm::EdDSA,
            key: EncodingKey::from_ed_pem(ed_key.serialize_pem().as_bytes()).unwrap(),
            header: ed_header,
        },
        impostor: Signer {
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_pem(impostor.serialize_pem().as_bytes()).unwrap(),
            header: rsa_header,
        },
        _dir: dir,
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims(access: Value) -> Value {
    json!({
        "iss": ISSUER, "sub": "alice", "aud": SERVICE,
        "exp": now() + 300, "nbf": now() - 10, "iat": now() - 10,
        "jti": "test", "access": access,
    })
}

fn pull_push(repo: &str) -> Value {
    json!([{"type": "repository", "name": repo, "actions": ["pull", "push"]}])
}

fn router(options: &TokenOptions) -> axum::Router {
    let auth = TokenAuth::new(options).expect("the test's keys load");
    let registry = Registry::new(Arc::new(InMemoryDriver::new()), Settings::default())
        .with_auth(Authenticator::Token(auth));
    Arc::new(registry).router()
}

struct Answer {
    status: StatusCode,
    challenge: String,
    body: Value,
}

async fn send(router: &axum::Router, method: &str, uri: &str, token: Option<&str>) -> Answer {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "registry.test");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        challenge,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn base_challenge() -> String {
    format!("Bearer realm=\"{REALM}\",service=\"{SERVICE}\"")
}

#[tokio::test]
async fn no_token_gets_the_challenge_with_the_scope_the_request_needs() {
    let keys = keys();
    let router = router(&keys.options);
    let a = send(&router, "GET", "/v2/", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.challenge, base_challenge());
    assert_eq!(a.body["errors"][0]["code"], "UNAUTHORIZED");

    let a = send(&router, "GET", "/v2/team/app/tags/list", None).await;
    assert_eq!(
        a.challenge,
        format!("{},scope=\"repository:team/app:pull\"", base_challenge())
    );
    assert_eq!(a.body["errors"][0]["detail"][0]["Name"], "team/app");
    assert_eq!(a.body["errors"][0]["detail"][0]["Action"], "pull");

    let a = send(
        &router,
        "POST",
        "/v2/team/app/blobs/uploads/?mount=sha256:aa&from=base",
        None,
    )
    .await;
    assert_eq!(
        a.challenge,
        format!(
            "{},scope=\"repository:team/app:pull,push repository:base:pull\"",
            base_challenge()
        )
    );
    let a = send(&router, "GET", "/v2/_catalog", None).await;
    assert_eq!(
        a.challenge,
        format!("{},scope=\"registry:catalog:*\"", base_challenge())
    );
    // Paths that are no endpoint are a plain 404, as in Distribution.
    assert_eq!(send(&router, "GET", "/v2/nothing", None).await.status, 404);
}

#[tokio::test]
async fn tokens_signed_each_way_are_accepted() {
    let keys = keys();
    let router = router(&keys.options);
    for signer in [&keys.rsa, &keys.ec, &keys.ed] {
        let token = signer.sign(&claims(pull_push("team/app")));
        let a = send(&router, "GET", "/v2/", Some(&token)).await;
        assert_eq!(a.status, StatusCode::OK, "{:?} token on /v2/", signer.alg);
        // Authorized: the registry itself answers (the repository is empty).
        let a = send(&router, "GET", "/v2/team/app/tags/list", Some(&token)).await;
        assert_eq!(
            a.status,
            StatusCode::NOT_FOUND,
            "{:?}: {}",
            signer.alg,
            a.body
        );
        assert_eq!(a.body["errors"][0]["code"], "NAME_UNKNOWN");
        let a = send(&router, "POST", "/v2/team/app/blobs/uploads/", Some(&token)).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{:?} push", signer.alg);
    }
    let catalog = keys.ec.sign(&claims(
        json!([{"type": "registry", "name": "catalog", "actions": ["*"]}]),
    ));
    assert_eq!(
        send(&router, "GET", "/v2/_catalog", Some(&catalog))
            .await
            .status,
        StatusCode::OK
    );
}

async fn assert_invalid(router: &axum::Router, token: &str, why: &str) {
    let a = send(router, "GET", "/v2/team/app/tags/list", Some(token)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{why}");
    assert_eq!(
        a.challenge,
        format!(
            "{},scope=\"repository:team/app:pull\",error=\"invalid_token\"",
            base_challenge()
        ),
        "{why}"
    );
    assert_eq!(a.body["errors"][0]["code"], "UNAUTHORIZED", "{why}");
}

#[tokio::test]
async fn wrong_issuer_expired_and_badly_signed_tokens_are_invalid() {
    let keys = keys();
    let router = router(&keys.options);
    let mut c = claims(pull_push("team/app"));
    c["iss"] = json!("someone-else");
    assert_invalid(&router, &keys.rsa.sign(&c), "wrong issuer").await;

    let mut c = claims(pull_push("team/app"));
    c["aud"] = json!("another-registry");
    assert_invalid(&router, &keys.ec.sign(&c), "wrong audience").await;

    // A token that names no issuer, or no audience, was not issued for
    // this registry either.
    for claim in ["iss", "aud"] {
        let mut c = claims(pull_push("team/app"));
        c.as_object_mut().unwrap().remove(claim);
        assert_invalid(&router, &keys.rsa.sign(&c), &format!("no {claim}")).await;
    }

    // Past the minute of clock skew Distribution allows.
    let mut c = claims(pull_push("team/app"));
    c["exp"] = json!(now() - 120);
    assert_invalid(&router, &keys.ed.sign(&c), "expired").await;

    let c = claims(pull_push("team/app"));
    assert_invalid(
        &router,
        &keys.impostor.sign(&c),
        "signed by an untrusted key",
    )
    .await;

    // A valid signature over other claims: swap the payload.
    let good = keys.rsa.sign(&c);
    let mut forged_claims = c.clone();
    forged_claims["access"] = pull_push("team/other");
    let forged = keys.rsa.sign(&forged_claims);
    let parts: Vec<&str> = good.split('.').collect();
    let forged_payload = forged.split('.').nth(1).unwrap();
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_invalid(&router, &tampered, "tampered payload").await;

    assert_invalid(&router, "not-a-jwt", "malformed").await;
}

#[tokio::test]
async fn a_token_for_other_actions_is_insufficient_scope() {
    let keys = keys();
    let router = router(&keys.options);
    let pull_only = keys.ec.sign(&claims(
        json!([{"type": "repository", "name": "team/app", "actions": ["pull"]}]),
    ));
    let a = send(
        &router,
        "POST",
        "/v2/team/app/blobs/uploads/",
        Some(&pull_only),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.challenge,
        format!(
            "{},scope=\"repository:team/app:pull,push\",error=\"insufficient_scope\"",
            base_challenge()
        )
    );
    // Another repository, and the catalog, are not granted either.
    let a = send(&router, "GET", "/v2/team/other/tags/list", Some(&pull_only)).await;
    assert!(
        a.challenge.ends_with("error=\"insufficient_scope\""),
        "{}",
        a.challenge
    );
    let a = send(&router, "GET", "/v2/_catalog", Some(&pull_only)).await;
    assert!(
        a.challenge.contains("scope=\"registry:catalog:*\""),
        "{}",
        a.challenge
    );
    // Pull is granted.
    let a = send(&router, "GET", "/v2/team/app/tags/list", Some(&pull_only)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn signing_algorithms_and_autoredirect_follow_the_config() {
    let keys = keys();
    let mut options = keys.options.clone();
    options.signing_algorithms = vec!["RS256".into()];
    options.auto_redirect = true;
    let router = router(&options);
    let ok = keys.rsa.sign(&claims(pull_push("a")));
    assert_eq!(send(&router, "GET", "/v2/", Some(&ok)).await.status, 200);
    let es = keys.ec.sign(&claims(pull_push("a")));
    let a = send(&router, "GET", "/v2/", Some(&es)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // autoredirect: the realm is this registry's own /auth/token.
    assert_eq!(
        a.challenge,
        format!(
            "Bearer realm=\"https://registry.test/auth/token\",service=\"{SERVICE}\",error=\"invalid_token\""
        )
    );
    options.signing_algorithms = vec!["RS999".into()];
    let e = TokenAuth::new(&options)
        .err()
        .expect("an unknown algorithm is refused");
    assert!(e.to_string().contains("RS999"), "{e}");
}

#[tokio::test]
async fn a_config_without_keys_says_what_to_set() {
    let e = TokenAuth::new(&TokenOptions {
        realm: REALM.into(),
        service: SERVICE.into(),
        issuer: ISSUER.into(),
        ..TokenOptions::default()
    })
    .err()
    .unwrap();
    assert!(e.to_string().contains("rootcertbundle"), "{e}");
    let e = TokenAuth::new(&TokenOptions {
        realm: REALM.into(),
        service: SERVICE.into(),
        root_cert_bundle: Some("/nonexistent/bundle.pem".into()),
        ..TokenOptions::default()
    })
    .err()
    .unwrap();
    assert!(e.to_string().contains("issuer"), "{e}");
}

#[tokio::test]
async fn htpasswd_changes_count_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    let line = |user: &str, pw: &str| format!("{user}:{}\n", bcrypt::hash(pw, 4).unwrap());
    std::fs::write(&path, line("alice", "old-secret")).unwrap();
    let file = HtpasswdFile::load("berth", &path).unwrap();
    let registry = Registry::new(Arc::new(InMemoryDriver::new()), Settings::default())
        .with_auth(Authenticator::HtpasswdFile(file));
    let router = Arc::new(registry).router();
    let basic = |user: &str, pw: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
        )
    };
    let status = |auth: String| {
        let router = router.clone();
        async move {
            let req = Request::get("/v2/")
                .header("authorization", auth)
                .body(Body::empty())
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        }
    };
    assert_eq!(status(basic("alice", "old-secret")).await, 200);
    // Written as an editor or `htpasswd` would leave it: a new file moved
    // into place.
    let tmp = dir.path().join("htpasswd.tmp");
    std::fs::write(&tmp, line("alice", "new-secret") + &line("bob", "bobs")).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while status(basic("alice", "new-secret")).await != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the new password never worked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status(basic("alice", "old-secret")).await, 401);
    assert_eq!(status(basic("bob", "bobs")).await, 200);
}
