//! The debug listener (`http.debug.addr`): what Distribution serves there
//! (health, metrics) plus Berth's admin API under `/berth/v1/`, through
//! which the desktop app asks its running registry for usage figures,
//! garbage collection, notification state and the read-only switch.
//!
//! The admin API answers only requests carrying
//! `Authorization: Bearer <token>`, with the token from `BERTH_ADMIN_TOKEN`
//! (the app sets a fresh random one for each sidecar it starts); without the
//! variable every `/berth/v1/` request is refused. Errors use the
//! registry's error JSON (`{"errors":[{"code","message","detail"}]}`).
//!
//! Each feature adds its routes as a `Router<Arc<Registry>>` merged in
//! [`router`].

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;

use crate::Registry;

/// The variable holding the admin API's token.
pub const ADMIN_TOKEN_ENV: &str = "BERTH_ADMIN_TOKEN";

/// The prefix of Berth's admin API.
pub const ADMIN_PREFIX: &str = "/berth/v1";

/// The debug listener's router: the admin API under [`ADMIN_PREFIX`],
/// refused unless `admin_token` is set and presented.
pub fn router(registry: Arc<Registry>, admin_token: Option<String>) -> Router {
    let admin: Router<Arc<Registry>> = Router::new().route("/berth/v1/ping", get(ping));
    let admin = admin.merge(crate::browse::routes());
    let admin = admin.merge(crate::events::debug_routes());
    let admin = admin
        .merge(crate::usage::routes())
        .merge(crate::gc::routes());
    let admin = admin
        .merge(crate::readonly::routes())
        .merge(crate::metrics::admin_routes());
    let admin = admin.layer(middleware::from_fn_with_state(
        Arc::new(admin_token),
        require_token,
    ));
    Router::new()
        .merge(admin)
        .merge(crate::health::routes())
        .merge(crate::metrics::routes(&registry))
        .with_state(registry)
}

/// `GET /berth/v1/ping`: proves the token and names the registry.
async fn ping(State(registry): State<Arc<Registry>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "readOnly": registry.is_read_only(),
        "deleteEnabled": registry.settings.delete_enabled,
    }))
}

async fn require_token(
    State(token): State<Arc<Option<String>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = token.as_deref() else {
        return refuse(
            StatusCode::FORBIDDEN,
            "the admin API is off",
            "start berthd with BERTH_ADMIN_TOKEN set and send it as `Authorization: Bearer <token>`",
        );
    };
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(p) if same(p.as_bytes(), token.as_bytes()) => next.run(request).await,
        _ => refuse(
            StatusCode::UNAUTHORIZED,
            "the admin API needs the token berthd was started with",
            "send `Authorization: Bearer $BERTH_ADMIN_TOKEN`",
        ),
    }
}

/// Compares in time independent of where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refuse(status: StatusCode, message: &str, detail: &str) -> Response {
    let code = if status == StatusCode::UNAUTHORIZED {
        "UNAUTHORIZED"
    } else {
        "DENIED"
    };
    (
        status,
        Json(serde_json::json!({
            "errors": [{ "code": code, "message": message, "detail": detail }]
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_storage::inmemory::InMemoryDriver;
    use tower::ServiceExt;

    fn registry() -> Arc<Registry> {
        Arc::new(Registry::new(
            Arc::new(InMemoryDriver::new()),
            crate::Settings::default(),
        ))
    }

    async fn ping_with(token: Option<&str>, header: Option<&str>) -> StatusCode {
        let app = router(registry(), token.map(str::to_string));
        let mut request = http::Request::get("/berth/v1/ping");
        if let Some(h) = header {
            request = request.header("authorization", h);
        }
        app.oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn the_admin_api_needs_the_token() {
        assert_eq!(ping_with(Some("s3cret"), Some("Bearer s3cret")).await, 200);
        assert_eq!(ping_with(Some("s3cret"), Some("Bearer s3creT")).await, 401);
        assert_eq!(ping_with(Some("s3cret"), Some("Basic s3cret")).await, 401);
        assert_eq!(ping_with(Some("s3cret"), None).await, 401);
        assert_eq!(ping_with(None, Some("Bearer anything")).await, 403);
    }
}
