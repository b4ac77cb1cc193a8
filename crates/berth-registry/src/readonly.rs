//! The read-only switch on the admin API: `GET`/`PUT /berth/v1/readonly`
//! (`{"enabled": true}`) turns `storage.maintenance.readonly` on or off in
//! the running registry, for the requests that follow, without a restart.
//! Pulls keep working; pushes and deletes answer 405 `UNSUPPORTED`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::Registry;

/// The body of `PUT /berth/v1/readonly`.
#[derive(Deserialize)]
struct Switch {
    enabled: bool,
}

/// The admin API routes of the switch.
pub(crate) fn routes() -> Router<Arc<Registry>> {
    Router::new().route("/berth/v1/readonly", get(state).put(set))
}

async fn state(State(registry): State<Arc<Registry>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "enabled": registry.is_read_only() }))
}

async fn set(
    State(registry): State<Arc<Registry>>,
    Json(switch): Json<Switch>,
) -> Json<serde_json::Value> {
    registry.set_read_only(switch.enabled);
    tracing::info!(
        enabled = switch.enabled,
        "read-only mode switched through the admin API"
    );
    Json(serde_json::json!({ "enabled": registry.is_read_only() }))
}
