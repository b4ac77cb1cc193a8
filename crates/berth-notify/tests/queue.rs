//! The notifier as the registry sees it: events for an endpoint that is
//! down wait on disk, are counted as the queue depth, survive a new
//! notifier on the same directory (a restart), and respect the filters.

use std::sync::Arc;

use berth_registry::events::{Event, EventSink, Target};
use berth_registry::{Registry, Settings};
use berth_storage::inmemory::InMemoryDriver;

fn notifications(url: &str) -> berth_config::Notifications {
    berth_config::Notifications {
        endpoints: vec![
            berth_config::Endpoint {
                name: "down".into(),
                url: url.into(),
                threshold: 1,
                backoff: std::time::Duration::from_secs(60),
                ignore: berth_config::Ignore {
                    media_types: vec![],
                    actions: vec!["pull".into()],
                },
                ..Default::default()
            },
            berth_config::Endpoint {
                name: "off".into(),
                url: url.into(),
                disabled: true,
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

fn event(action: &str) -> Event {
    Event::new(
        action,
        Target {
            repository: "a".into(),
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn queued_events_are_counted_and_survive_a_restart() {
    // A port nothing listens on: every delivery fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let dir = tempfile::tempdir().unwrap();
    let notifier = berth_notify::Notifier::start(&notifications(&url), dir.path()).unwrap();
    for action in ["push", "pull", "push", "delete"] {
        notifier.record(event(action)).await;
    }
    assert_eq!(notifier.pending(), 3, "pull is ignored by the endpoint");
    let registry = Registry::new(Arc::new(InMemoryDriver::new()), Settings::default()).with_events(
        notifier.clone(),
        "host:5000".into(),
        false,
    );
    assert_eq!(registry.notifications_pending(), Some(3));
    let status = notifier.status();
    assert_eq!(status["endpoints"][1]["disabled"], true);
    assert_eq!(status["endpoints"][1]["pending"], 0);
    assert!(
        !dir.path().join("off").exists(),
        "a disabled endpoint has no queue"
    );

    let again = berth_notify::Notifier::start(&notifications(&url), dir.path()).unwrap();
    assert_eq!(again.pending(), 3);
    let plain = Registry::new(Arc::new(InMemoryDriver::new()), Settings::default());
    assert_eq!(plain.notifications_pending(), None);
}
