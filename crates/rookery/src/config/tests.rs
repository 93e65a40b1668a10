use super::*;

#[test]
fn example_config_is_the_defaults() {
    let example: Config = toml::from_str(include_str!("../../../../rookery.example.toml")).unwrap();
    let defaults = Config::default();
    assert_eq!(format!("{example:?}"), format!("{defaults:?}"));
}

#[test]
fn unknown_keys_are_errors() {
    let err = toml::from_str::<Config>("[smtp]\nlisten_on = []\n").unwrap_err();
    assert!(err.to_string().contains("listen_on"), "{err}");
}

#[test]
fn bad_main_domain_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "main_domain = \"bad domain\"\n").unwrap();
    let err = format!("{:#}", Config::load(Some(&path)).unwrap_err());
    assert!(err.contains("main_domain"), "{err}");
}

#[test]
fn durations_parse() {
    let c: Config = toml::from_str("[queue]\nretry_schedule = [\"10s\", \"2m\"]\n").unwrap();
    assert_eq!(c.queue.retry_schedule, vec![Duration::from_secs(10), Duration::from_secs(120)]);
}
