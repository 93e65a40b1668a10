//! Feeds arbitrary bytes, after a LOGIN and SELECT, to a whole
//! `ImapSession` over a real store and embedded directory in a temporary
//! directory (made once per process): no input may panic the session.
#![no_main]

use bytes::BytesMut;
use cluster::SingleServer;
use directory::{Directory, EmbeddedDirectory};
use imap::{ImapConfig, ImapServices, ImapSession};
use libfuzzer_sys::fuzz_target;
use net::{ConnInfo, Session, Step};
use std::sync::{Arc, OnceLock};
use store::{Durability, Store, StoreConfig};
use types::{AccountName, DomainName};

struct World {
    runtime: tokio::runtime::Runtime,
    services: Arc<ImapServices>,
    config: Arc<ImapConfig>,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (services, config) = runtime.block_on(async {
            let store =
                Store::open(&dir.path().join("store"), StoreConfig { durability: Durability::Buffered }).unwrap();
            let directory = EmbeddedDirectory::open(&dir.path().join("directory.redb")).unwrap();
            let domain = DomainName::parse("example.com").unwrap();
            directory.add_domain(&domain).await.unwrap();
            let account = AccountName::parse("alice@example.com", None).unwrap();
            directory.add_account(&account, "pw", None).await.unwrap();
            let directory: Arc<dyn Directory> = Arc::new(directory);
            let services = ImapServices { directory, store: Arc::new(store), locator: Arc::new(SingleServer) };
            let config = ImapConfig {
                main_domain: domain,
                auth_failure_delay: std::time::Duration::ZERO,
                max_literal: 64 * 1024,
                ..ImapConfig::default()
            };
            (Arc::new(services), Arc::new(config))
        });
        World { runtime, services, config, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let conn = ConnInfo {
        peer: "127.0.0.1:40000".parse().unwrap(),
        local: "127.0.0.1:143".parse().unwrap(),
        tls: false,
        tls_available: false,
        proxied_by: None,
    };
    world.runtime.block_on(async {
        let mut session = ImapSession::new(world.config.clone(), world.services.clone(), conn);
        let mut out = Vec::new();
        if session.greeting(&mut out).await != Step::Continue {
            return;
        }
        let mut input = BytesMut::from(&b"a LOGIN alice@example.com pw\r\nb SELECT INBOX\r\n"[..]);
        input.extend_from_slice(data);
        loop {
            out.clear();
            match session.input(&mut input, &mut out).await {
                Step::Flush => continue,
                _ => break,
            }
        }
    });
});
