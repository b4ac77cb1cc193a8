//! Harness for Berth's end-to-end tests: registries started as real processes
//! on 127.0.0.1 (our `berthd` and CNCF Distribution's `docker-registry`), the
//! real clients that talk to them (skopeo), and the images they move.
//!
//! [`on_both!`](crate::on_both) runs one scenario against each registry;
//! [`store`] reads what a registry left on disk.
//!
//! Every server a test starts is stopped by PID when its handle drops. A peer
//! that is not installed fails the test under CI (`CI=true`) and is skipped
//! with a message saying how to get it otherwise; see [`peer::require`].
//!
//! ```no_run
//! let registry = berth_e2e::registry::Registry::berthd(Default::default());
//! let body = reqwest::blocking::get(format!("{}/v2/", registry.url())).unwrap();
//! assert!(body.status().is_success());
//! ```

pub mod api;
pub mod backends;
pub mod credentials;
pub mod image;
pub mod memory;
pub mod peer;
pub mod registry;
pub mod scenario;
pub mod skopeo;
pub mod store;
