//! Prometheus metrics (`http.debug.prometheus`) scraped from a running
//! `berthd` after skopeo pushes and pulls an image: requests by handler and
//! status, blob bytes pushed and pulled, storage driver actions, uploads in
//! flight back to zero.

use berth_e2e::image::{KIB, LayerSpec, OciLayout, Platform};
use berth_e2e::registry::{Options, Registry, client, free_port};
use berth_e2e::skopeo::{Access, Skopeo, docker};

/// The value of the sample whose name and labels start with `prefix`
/// (labels in the order the registry writes them).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .reduce(|a, b| a + b)
}

#[test]
fn a_push_and_a_pull_show_in_the_metrics() {
    let Some(skopeo) = Skopeo::find() else {
        return;
    };
    let debug = free_port();
    let registry = Registry::berthd(Options {
        env: vec![
            (
                "REGISTRY_HTTP_DEBUG_ADDR".into(),
                format!("127.0.0.1:{debug}"),
            ),
            (
                "REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED".into(),
                "true".into(),
            ),
            ("BERTH_ADMIN_TOKEN".into(), "metrics-token".into()),
        ],
        ..Options::default()
    });
    let scrape = || {
        let resp = client()
            .get(format!("http://127.0.0.1:{debug}/metrics"))
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        resp.text().unwrap()
    };
    let work = tempfile::tempdir().unwrap();
    let source = OciLayout::create(work.path().join("source"));
    let layer = 300 * KIB;
    let image = source.add_image("v1", Platform::LINUX_AMD64, &[LayerSpec::new(91, layer)]);
    let remote = docker(&registry.host(), "team/metrics:v1");
    skopeo.push(&source, "v1", &remote, &Access::insecure());

    let text = scrape();
    let pushed = sample(&text, "registry_blob_bytes_pushed_total").unwrap();
    assert!(
        pushed >= layer as f64,
        "pushed {pushed} bytes of a {layer}-byte layer:\n{text}"
    );
    let manifest_puts = sample(
        &text,
        "registry_http_requests_total{handler=\"manifest\",method=\"PUT\",code=\"201\"}",
    );
    assert_eq!(manifest_puts, Some(1.0), "{text}");
    assert!(
        sample(
            &text,
            "registry_http_request_duration_seconds_count{handler=\"blob_upload\""
        )
        .is_some(),
        "{text}"
    );
    let puts = sample(
        &text,
        "registry_storage_actions_total{driver=\"filesystem\",action=\"PutContent\"}",
    );
    assert!(puts.is_some_and(|n| n >= 1.0), "{text}");
    assert_eq!(
        sample(&text, "registry_uploads_in_flight"),
        Some(0.0),
        "{text}"
    );

    skopeo
        .pull(
            &remote,
            &work.path().join("pulled"),
            "v1",
            &Access::insecure(),
            false,
        )
        .assert_holds_image("v1", &image);
    let text = scrape();
    let pulled = sample(&text, "registry_blob_bytes_pulled_total").unwrap();
    assert!(pulled >= layer as f64, "pulled {pulled} bytes:\n{text}");
    assert!(
        sample(
            &text,
            "registry_http_requests_total{handler=\"blob\",method=\"GET\",code=\"200\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );

    // The summary the app's Status page reads through the admin API.
    let summary: serde_json::Value = client()
        .get(format!("http://127.0.0.1:{debug}/berth/v1/metrics"))
        .bearer_auth("metrics-token")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        summary["bytesPushed"].as_u64().unwrap_or(0) >= layer,
        "{summary}"
    );
    assert!(
        summary["bytesPulled"].as_u64().unwrap() >= layer,
        "{summary}"
    );
    assert!(summary["requests"].as_u64().unwrap() > 5, "{summary}");
    assert_eq!(summary["uploadsInFlight"], 0, "{summary}");
}
