//! Running one scenario against each registry implementation:
//! [`on_both!`](crate::on_both) and [`on_berthd!`](crate::on_berthd) turn
//! scenario functions into `#[test]`s.
//!
//! A scenario is a function that takes what it needs (see [`Scenario`]):
//! the [`Kind`] of registry, when it starts its own peers and registry, or
//! the [`Api`] (and [`Registry`]) of one started with default options.
//!
//! ```no_run
//! use berth_e2e::api::Api;
//! use berth_e2e::on_both;
//!
//! /// `GET /v2/` answers 200.
//! fn api_version_check(api: &Api) {
//!     assert_eq!(api.get("/v2/").status(), 200);
//! }
//! on_both!(api_version_check);
//! # fn main() {}
//! ```
//!
//! That is two tests, `api_version_check::berthd` and
//! `api_version_check::distribution`; the second is skipped (outside CI)
//! when Distribution is not installed.

use crate::api::Api;
use crate::registry::{Kind, Options, Registry};

/// A scenario that can run against a registry of any [`Kind`]. `Needs` says
/// what the function takes, so one macro serves every signature:
///
/// - `fn(Kind)`: it starts the registry (and any peer) itself;
/// - `fn(&Api)`: it gets the API of a registry started with default options;
/// - `fn(&Registry, &Api)`: that registry too, for its address, storage
///   root or process.
pub trait Scenario<Needs> {
    /// Runs the scenario against `kind`. Without a registry of that kind
    /// (Distribution not installed, outside CI) it returns without running.
    fn run(self, kind: Kind);
}

impl<F: FnOnce(Kind)> Scenario<Kind> for F {
    fn run(self, kind: Kind) {
        self(kind)
    }
}

impl<F: FnOnce(&Api)> Scenario<fn(&Api)> for F {
    fn run(self, kind: Kind) {
        if let Some(registry) = Registry::start(kind, Options::default()) {
            self(&Api::new(registry.url()));
        }
    }
}

impl<F: FnOnce(&Registry, &Api)> Scenario<fn(&Registry, &Api)> for F {
    fn run(self, kind: Kind) {
        if let Some(registry) = Registry::start(kind, Options::default()) {
            self(&registry, &Api::new(registry.url()));
        }
    }
}

/// One `#[test]` per registry for each named [`Scenario`]: `<scenario>::berthd`
/// and `<scenario>::distribution`. Distribution is the reference: a scenario
/// both pass tests the registry, not the scenario's own assumptions.
#[macro_export]
macro_rules! on_both {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[test]
            fn berthd() {
                $crate::scenario::Scenario::run(super::$scenario, $crate::registry::Kind::Berthd)
            }
            #[test]
            fn distribution() {
                $crate::scenario::Scenario::run(
                    super::$scenario,
                    $crate::registry::Kind::Distribution,
                )
            }
        }
    )+};
}

/// A `#[test]` against berthd only (`<scenario>::berthd`), for scenarios
/// Distribution 2.8 fails by a known gap; each use says which.
#[macro_export]
macro_rules! on_berthd {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[test]
            fn berthd() {
                $crate::scenario::Scenario::run(super::$scenario, $crate::registry::Kind::Berthd)
            }
        }
    )+};
}
