//! `/metrics` of a static cluster's frontend: mail it relays to a backend
//! over the cluster link shows in the link pool's series and the
//! directory host cache's hits and misses.
mod common;

use common::cluster::{Member, Setup, messages, send, services, start, wait};
use common::metrics::{value, wait_for};
use std::time::Duration;
use testkit::slapd::Slapd;

#[test]
fn relayed_mail_moves_the_link_pool_and_host_cache_series() {
    let slapd = Slapd::start().unwrap();
    let sv1 = Member::new("sv1.test", "backend", "127.0.0.2");
    let fe = Member::new("fe.test", "frontend", "127.0.0.4");
    let all = [&sv1, &fe];
    let backend = start(&slapd, &sv1, &all, Setup::default());
    let frontend = start(&slapd, &fe, &all, Setup { extra: &services(&backend, "sv1.test"), ..Setup::default() });
    backend.admin(&["domain", "add", "shared.test", "--shared"]).unwrap();
    backend.admin(&["account", "add", "alice@shared.test", "--password", "pw-alice"]).unwrap();

    send(&frontend, &["alice@shared.test"], "first");
    wait("the first message on the backend", Duration::from_secs(30), || messages(&backend, "alice@shared.test") == 1);
    let peer = format!(r#"{{peer="{}"}}"#, sv1.link);
    let admin = frontend.ports.admin();
    let text = wait_for(admin, &format!("rookery_link_connections_opened_total{peer}"), 1.0);
    assert!(value(&text, &format!("rookery_link_cache_misses_total{peer}")).is_some_and(|v| v >= 1.0), "{text}");
    assert!(value(&text, &format!("rookery_link_connections_idle{peer}")).is_some(), "{text}");
    assert!(value(&text, "rookery_directory_host_cache_misses_total").is_some_and(|v| v >= 1.0), "{text}");
    assert!(value(&text, r#"rookery_deliveries_total{result="delivered"}"#).is_some_and(|v| v >= 1.0), "{text}");

    // The second message finds the connection and the host cached.
    send(&frontend, &["alice@shared.test"], "second");
    wait("the second message on the backend", Duration::from_secs(30), || messages(&backend, "alice@shared.test") == 2);
    let text = wait_for(admin, &format!("rookery_link_cache_hits_total{peer}"), 1.0);
    assert!(value(&text, "rookery_directory_host_cache_hits_total").is_some_and(|v| v >= 1.0), "{text}");
}
