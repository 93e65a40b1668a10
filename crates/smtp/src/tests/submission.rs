//! Submission (RFC 6409): AUTH first, senders the account owns, relay.

use super::*;

#[tokio::test]
async fn authentication_required() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Submission), loopback()).await;
    assert_eq!(client.codes("MAIL FROM:<alice@example.com>\r\n").await, ["530 5.7.0"]);
    assert_eq!(client.codes("RCPT TO:<alice@example.com>\r\n").await, ["503 5.5.1"]);
}

#[tokio::test]
async fn sender_must_be_owned() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Submission), loopback()).await;
    client.login("alice").await;
    let replies = client.send("MAIL FROM:<carol@example.com>\r\n").await;
    assert_eq!(replies, "553 5.7.1 sender address not owned by alice@example.com\r\n");
    assert_eq!(client.codes("MAIL FROM:<>\r\n").await, ["553 5.7.1"]);
    assert_eq!(client.codes("MAIL FROM:<someone@elsewhere.example>\r\n").await, ["553 5.7.1"]);
    assert_eq!(client.codes("MAIL FROM:<al@example.com>\r\nRSET\r\n").await, ["250 2.1.0", "250 2.0.0"]);
    assert_eq!(client.codes("MAIL FROM:<Alice@Example.com>\r\n").await, ["250 2.1.0"]);
}

#[tokio::test]
async fn relays_for_its_account() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Submission), loopback()).await;
    client.login("alice").await;
    let replies = client
        .codes(concat!(
            "MAIL FROM:<alice@example.com>\r\n",
            "RCPT TO:<friend@remote.example>\r\n",
            "RCPT TO:<carol@example.com>\r\n",
            "RCPT TO:<nobody@example.com>\r\n",
            "DATA\r\n",
        ))
        .await;
    assert_eq!(replies, ["250 2.1.0", "250 2.1.5", "250 2.1.5", "550 5.1.1", "354"]);
    assert_eq!(client.codes(&format!("{}.\r\n", message(2_000))).await, ["250 2.0.0"]);
    let entry = world.queue().list().pop().unwrap();
    assert_eq!(entry.envelope.recipients, ["friend@remote.example", "carol@example.com"]);
    assert_eq!(entry.envelope.authenticated_as.as_deref(), Some("alice@example.com"));
}
