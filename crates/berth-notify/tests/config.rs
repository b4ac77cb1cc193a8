//! Webhook endpoints in config.yml: malformed URLs and header maps are
//! config errors that point at the line and column, and a good endpoint
//! becomes delivery settings with Distribution's defaults.

use berth_config::Config;
use berth_notify::endpoint::EndpointSettings;

fn parse(notifications: &str) -> Result<Config, berth_config::ConfigError> {
    let yaml = format!(
        "version: 0.1\nstorage:\n  inmemory: {{}}\nnotifications:\n  endpoints:\n{notifications}"
    );
    Config::parse(&yaml, "config.yml", Vec::new()).map(|l| l.config)
}

fn problems(notifications: &str) -> Vec<(usize, usize, String)> {
    let err = parse(notifications).expect_err("the config must be refused");
    err.problems()
        .iter()
        .map(|p| (p.line, p.column, p.message.clone()))
        .collect()
}

#[test]
fn a_url_without_scheme_is_an_error_at_its_line_and_column() {
    let p = problems("    - name: ci\n      url: hooks.example.com/events\n");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!((p[0].0, p[0].1), (7, 12));
    assert!(p[0].2.contains("http:// or https://"), "{}", p[0].2);
    assert!(
        p[0].2.contains("notifications.endpoints[0].url"),
        "{}",
        p[0].2
    );
}

#[test]
fn urls_without_host_or_with_a_bad_port_or_spaces_are_errors() {
    for (url, why) in [
        ("http:///events", "names no host"),
        ("http://hooks:99999/x", "port"),
        ("http://hooks:http/x", "port"),
        ("'http://hooks/a b'", "spaces"),
        ("''", "is empty"),
    ] {
        let p = problems(&format!("    - name: ci\n      url: {url}\n"));
        assert_eq!(p.len(), 1, "{url}: {p:?}");
        assert_eq!(p[0].0, 7, "{url}");
        assert!(p[0].2.contains(why), "{url}: {}", p[0].2);
    }
}

#[test]
fn malformed_header_maps_are_errors_at_their_line() {
    let scalar = problems(
        "    - name: ci\n      url: http://hooks/x\n      headers:\n        Authorization: Bearer x\n",
    );
    assert_eq!(scalar.len(), 1, "{scalar:?}");
    assert_eq!(scalar[0].0, 9);
    assert!(scalar[0].2.contains("list of values"), "{}", scalar[0].2);

    let bad_name = problems(
        "    - name: ci\n      url: http://hooks/x\n      headers:\n        'X Bad Name': [v]\n",
    );
    assert_eq!(bad_name.len(), 1, "{bad_name:?}");
    assert_eq!(bad_name[0].0, 9);
    assert!(
        bad_name[0].2.contains("not an HTTP header name"),
        "{}",
        bad_name[0].2
    );

    let line_break = problems(
        "    - name: ci\n      url: http://hooks/x\n      headers:\n        X-Token: [\"a\\r\\nInjected: yes\"]\n",
    );
    assert_eq!(line_break.len(), 1, "{line_break:?}");
    assert!(
        line_break[0].2.contains("line break"),
        "{}",
        line_break[0].2
    );

    let not_a_map = problems("    - name: ci\n      url: http://hooks/x\n      headers: [a, b]\n");
    assert_eq!(not_a_map.len(), 1, "{not_a_map:?}");
    assert_eq!(not_a_map[0].0, 8);
}

#[test]
fn a_good_endpoint_gets_distributions_defaults() {
    let config = parse(
        "    - name: ci\n      url: https://hooks.example.com:8443/events?x=1\n      headers:\n        Authorization: [Bearer x]\n      ignore:\n        actions: [pull]\n",
    )
    .unwrap();
    let e = EndpointSettings::from_config(0, &config.notifications.endpoints[0]);
    assert_eq!(e.url, "https://hooks.example.com:8443/events?x=1");
    assert_eq!(e.timeout, std::time::Duration::from_secs(1));
    assert_eq!(e.threshold, 10);
    assert_eq!(e.backoff, std::time::Duration::from_secs(1));
    assert_eq!(
        e.headers,
        vec![("Authorization".to_string(), vec!["Bearer x".to_string()])]
    );
    assert_eq!(e.ignored_actions, vec!["pull".to_string()]);
}
