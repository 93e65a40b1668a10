//! The per-destination pool: reuse, the connection limit, dead and idle
//! connections.

use crate::fake_server::{EHLO_PIPELINING, FakeServer, Serve, Step, greet};
use crate::{config, envelope};
use smtp_client::{Destination, Pool, PoolLimits, RcptResult};
use std::sync::Arc;
use std::time::Duration;

fn serving(serve: Serve) -> Vec<Step> {
    let mut steps = greet(serve.ehlo);
    steps.push(Step::Serve(serve));
    steps
}

fn destination(server: &FakeServer) -> Destination {
    Destination::new("localhost", server.addr)
}

#[tokio::test]
async fn two_sends_share_one_connection() {
    let server = FakeServer::start(vec![serving(Serve::default())]).await;
    let pool = Pool::new(config(), PoolLimits::default());
    for n in 0..2 {
        let results =
            pool.send(&destination(&server), &envelope(&["a@x.org"]), format!("message {n}\r\n").as_bytes()).await;
        assert_eq!(results.unwrap(), vec![RcptResult::Accepted]);
    }
    let record = server.record();
    assert_eq!(record.connections, 1);
    assert_eq!(record.command_names(), ["EHLO", "MAIL", "RCPT", "DATA", "RSET", "MAIL", "RCPT", "DATA"]);
}

#[tokio::test]
async fn connections_per_destination_are_limited() {
    let server =
        FakeServer::start(vec![serving(Serve { final_delay: Duration::from_millis(100), ..Serve::default() })]).await;
    let limits = PoolLimits { per_destination: 2, ..PoolLimits::default() };
    let pool = Arc::new(Pool::new(config(), limits));
    let sends: Vec<_> = (0..6)
        .map(|_| {
            let pool = pool.clone();
            let destination = destination(&server);
            tokio::spawn(async move { pool.send(&destination, &envelope(&["a@x.org"]), b"hi\r\n").await })
        })
        .collect();
    for send in sends {
        assert_eq!(send.await.unwrap().unwrap(), vec![RcptResult::Accepted]);
    }
    let record = server.record();
    assert_eq!(record.messages.len(), 6);
    assert_eq!(record.max_active, 2, "{record:#?}");
    assert_eq!(record.connections, 2);
}

#[tokio::test]
async fn dead_idle_connection_is_replaced() {
    // The first connection goes away after one message.
    let server = FakeServer::start(vec![
        serving(Serve { max_messages: Some(1), ..Serve::default() }),
        serving(Serve::default()),
    ])
    .await;
    let pool = Pool::new(config(), PoolLimits::default());
    assert!(pool.send(&destination(&server), &envelope(&["a@x.org"]), b"one\r\n").await.unwrap()[0].is_accepted());
    server.wait_for("the first connection to end", |record| record.ended == 1).await;
    assert!(pool.send(&destination(&server), &envelope(&["a@x.org"]), b"two\r\n").await.unwrap()[0].is_accepted());
    let record = server.record();
    assert_eq!(record.connections, 2);
    assert_eq!(record.messages.len(), 2);
}

#[tokio::test]
async fn idle_connections_close_after_the_idle_timeout() {
    let server = FakeServer::start(vec![serving(Serve::default())]).await;
    let limits = PoolLimits { idle_timeout: Duration::from_millis(100), ..PoolLimits::default() };
    let pool = Pool::new(config(), limits);
    assert!(pool.send(&destination(&server), &envelope(&["a@x.org"]), b"hi\r\n").await.unwrap()[0].is_accepted());
    let record = server.wait_for("the idle connection to close", |record| record.ended == 1).await;
    assert_eq!(record.command_names().last().map(String::as_str), Some("QUIT"));
}

#[tokio::test]
async fn connections_retire_after_max_messages() {
    let server = FakeServer::start(vec![serving(Serve::default())]).await;
    let limits = PoolLimits { max_messages_per_connection: 2, ..PoolLimits::default() };
    let pool = Pool::new(config(), limits);
    for _ in 0..3 {
        assert!(pool.send(&destination(&server), &envelope(&["a@x.org"]), b"hi\r\n").await.unwrap()[0].is_accepted());
    }
    let record = server.wait_for("the first connection to end", |record| record.ended == 1).await;
    assert_eq!(record.connections, 2);
}

#[tokio::test]
async fn connect_errors_come_back() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let pool = Pool::new(config(), PoolLimits::default());
    let error = pool.send(&Destination::new("localhost", addr), &envelope(&["a@x.org"]), b"hi\r\n").await.unwrap_err();
    assert!(error.is_temporary());
    let _ = EHLO_PIPELINING;
}
