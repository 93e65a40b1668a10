//! AUTH PLAIN and LOGIN (RFC 4954).

use super::*;

async fn client(world: &World) -> Client {
    Client::greeted(world, config(Role::Submission), loopback()).await
}

#[tokio::test]
async fn plain_with_initial_response() {
    let world = World::new().await;
    let mut client = client(&world).await;
    client.login("alice@example.com").await;
    assert_eq!(client.session.account, Some(name("alice@example.com")));
    assert_eq!(client.codes(&format!("AUTH PLAIN {}\r\n", sasl_plain("", "alice", PASSWORD))).await, ["503 5.5.1"]);
}

#[tokio::test]
async fn plain_after_challenge_and_login_without_domain() {
    let world = World::new().await;
    let mut client = client(&world).await;
    assert_eq!(client.send("AUTH PLAIN\r\n").await, "334 \r\n");
    let response = sasl_plain("alice", "alice", PASSWORD);
    assert_eq!(client.codes(&format!("{response}\r\n")).await, ["235 2.7.0"]);
    assert_eq!(client.session.account, Some(name("alice@example.com")));
}

#[tokio::test]
async fn login_mechanism() {
    let world = World::new().await;
    let mut client = client(&world).await;
    assert_eq!(client.send("AUTH LOGIN\r\n").await, "334 VXNlcm5hbWU6\r\n");
    assert_eq!(
        client.send(&format!("{}\r\n", sasl::encode_challenge(b"alice@example.com"))).await,
        "334 UGFzc3dvcmQ6\r\n"
    );
    assert_eq!(client.codes(&format!("{}\r\n", sasl::encode_challenge(PASSWORD.as_bytes()))).await, ["235 2.7.0"]);

    let mut client = self::client(&world).await;
    let user = sasl::encode_challenge(b"alice");
    assert_eq!(client.send(&format!("AUTH LOGIN {user}\r\n")).await, "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(client.codes(&format!("{}\r\n", sasl::encode_challenge(b"wrong"))).await, ["535 5.7.8"]);
    assert_eq!(client.session.account, None);
}

#[tokio::test]
async fn failures() {
    let world = World::new().await;
    let config = SmtpConfig { max_errors: 0, ..config(Role::Submission) };
    let mut client = Client::greeted(&world, config, loopback()).await;
    assert_eq!(client.codes("AUTH PLAIN !!!notbase64\r\n").await, ["501 5.5.2"]);
    client.send("AUTH PLAIN\r\n").await;
    assert_eq!(client.codes("*\r\n").await, ["501 5.0.0"]);
    client.send("AUTH LOGIN\r\n").await;
    assert_eq!(client.codes("*\r\n").await, ["501 5.0.0"]);
    client.send("AUTH PLAIN\r\n").await;
    assert_eq!(client.codes("@@@\r\n").await, ["501 5.5.2"]);
    assert_eq!(client.codes(&format!("AUTH PLAIN {}\r\n", sasl_plain("", "alice", "wrong"))).await, ["535 5.7.8"]);
    assert_eq!(client.codes(&format!("AUTH PLAIN {}\r\n", sasl_plain("", "nobody", PASSWORD))).await, ["535 5.7.8"]);
    assert_eq!(client.codes(&format!("AUTH PLAIN {}\r\n", sasl_plain("", "not an@address", "x"))).await, ["535 5.7.8"]);
    // The authzid must be the authenticating account.
    let as_carol = sasl_plain("carol@example.com", "alice@example.com", PASSWORD);
    assert_eq!(client.codes(&format!("AUTH PLAIN {as_carol}\r\n")).await, ["535 5.7.8"]);
    assert_eq!(client.codes("AUTH CRAM-MD5\r\n").await, ["504 5.5.4"]);
    assert_eq!(client.codes("AUTH PLAIN =\r\n").await, ["501 5.5.2"]);
    assert_eq!(client.session.account, None);
    // Still usable afterwards.
    client.login("alice").await;
}

#[tokio::test]
async fn failure_is_delayed() {
    let world = World::new().await;
    let config = SmtpConfig { auth_failure_delay: Duration::from_millis(200), ..config(Role::Submission) };
    let mut client = Client::greeted(&world, config, loopback()).await;
    let started = std::time::Instant::now();
    assert_eq!(client.codes(&format!("AUTH PLAIN {}\r\n", sasl_plain("", "alice", "wrong"))).await, ["535 5.7.8"]);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn when_auth_is_not_allowed() {
    let world = World::new().await;
    let plain = format!("AUTH PLAIN {}\r\n", sasl_plain("", "alice", PASSWORD));
    // Not on loopback and no TLS yet: STARTTLS first.
    let mut client = Client::greeted(&world, config(Role::Submission), remote_peer()).await;
    assert_eq!(client.codes(&plain).await, ["530 5.7.0"]);
    // No TLS on this listener at all.
    let conn = ConnInfo { tls_available: false, ..remote_peer() };
    let mut client = Client::greeted(&world, config(Role::Submission), conn.clone()).await;
    assert_eq!(client.codes(&plain).await, ["538 5.7.11"]);
    // Loopback allowance switched off.
    let config_off = SmtpConfig { allow_plaintext_auth_on_loopback: false, ..config(Role::Submission) };
    let mut client = Client::greeted(&world, config_off, ConnInfo { tls_available: false, ..loopback() }).await;
    assert_eq!(client.codes(&plain).await, ["538 5.7.11"]);
    // Allowed everywhere by configuration, or under TLS.
    let config_on = SmtpConfig { allow_plaintext_auth: true, ..config(Role::Submission) };
    Client::greeted(&world, config_on, conn).await.login("alice").await;
    Client::greeted(&world, config(Role::Submission), ConnInfo { tls: true, ..remote_peer() })
        .await
        .login("alice")
        .await;
    // Before EHLO, and during a transaction.
    let (mut client, _) = Client::connect(&world, config(Role::Mx), loopback()).await;
    assert_eq!(client.codes(&plain).await, ["503 5.5.1"]);
    client.send("EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n").await;
    assert_eq!(client.codes(&plain).await, ["503 5.5.1"]);
}
