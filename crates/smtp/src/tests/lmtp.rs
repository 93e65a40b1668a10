//! LMTP (RFC 2033): LHLO, local recipients only, one reply per recipient.

use super::*;

#[tokio::test]
async fn greeting_and_lhlo() {
    let world = World::new().await;
    let (mut client, greeting) = Client::connect(&world, config(Role::Lmtp), loopback()).await;
    assert_eq!(greeting, "220 mx.test LMTP Rookery\r\n");
    assert_eq!(client.codes("EHLO client.example\r\n").await, ["500 5.5.1"]);
    assert_eq!(client.codes("HELO client.example\r\n").await, ["500 5.5.1"]);
    let lhlo = client.send("LHLO client.example\r\n").await;
    assert!(lhlo.starts_with("250-mx.test hello client.example\r\n"), "{lhlo}");
    assert!(lhlo.contains("250-PIPELINING\r\n") && !lhlo.contains("AUTH"), "{lhlo}");
    assert_eq!(client.codes(&format!("AUTH PLAIN {}\r\n", sasl_plain("", "alice", PASSWORD))).await, ["502 5.5.1"]);
}

#[tokio::test]
async fn one_reply_per_recipient() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Lmtp), loopback()).await;
    let replies = client
        .codes(concat!(
            "MAIL FROM:<sender@example.org>\r\n",
            "RCPT TO:<alice@example.com>\r\n",
            "RCPT TO:<someone@remote.example>\r\n",
            "RCPT TO:<nobody@example.com>\r\n",
            "RCPT TO:<carol@example.com>\r\n",
            "RCPT TO:<al@example.com>\r\n",
            "DATA\r\n",
        ))
        .await;
    assert_eq!(replies, ["250 2.1.0", "250 2.1.5", "550 5.7.1", "550 5.1.1", "250 2.1.5", "250 2.1.5", "354"]);
    // carol's quota (2000 octets) cannot take it: her reply alone fails.
    let replies = client.codes(&format!("{}.\r\n", message(5_000))).await;
    assert_eq!(replies, ["250 2.0.0", "552 5.2.2", "250 2.0.0"]);
    // alice and her alias are one mailbox: delivered once.
    assert_eq!(world.inbox("alice@example.com").await.len(), 1);
    assert!(world.inbox("carol@example.com").await.is_empty());
    assert!(world.queue().list().is_empty());
}

#[tokio::test]
async fn delivered_content() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Lmtp), loopback()).await;
    client.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n").await;
    let replies = client.codes("Subject: dots\r\n\r\n..one\r\n...two\r\n.three\r\nfour.\r\n.\r\n").await;
    assert_eq!(replies, ["250 2.0.0"]);
    let body = world.inbox("alice@example.com").await.pop().unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.starts_with("Return-Path: <sender@example.org>\r\nReceived: from client.example ([127.0.0.1])\r\n"));
    assert!(text.contains("\r\n\tby mx.test with LMTP id "), "{text}");
    assert!(text.contains("\r\n\tfor <alice@example.com>; "), "{text}");
    assert!(text.ends_with("\r\nSubject: dots\r\n\r\n.one\r\n..two\r\nthree\r\nfour.\r\n"), "{text}");
}

#[tokio::test]
async fn refused_message_gets_a_reply_per_recipient() {
    let world = World::new().await;
    let config = SmtpConfig { max_message_size: 1_000, ..config(Role::Lmtp) };
    let mut client = Client::greeted(&world, config, loopback()).await;
    client
        .send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<carol@example.com>\r\n")
        .await;
    assert_eq!(client.codes(&format!("DATA\r\n{}.\r\n", message(3_000))).await, ["354", "552 5.3.4", "552 5.3.4"]);
    assert!(world.inbox("alice@example.com").await.is_empty());
}

#[tokio::test]
async fn terminator_split_at_every_offset() {
    let world = World::new().await;
    let content = "Subject: split\r\n\r\n..a\r\n.\r\n";
    let mut client = Client::greeted(&world, config(Role::Lmtp), loopback()).await;
    for split in 0..=content.len() {
        client.send("MAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n").await;
        let mut replies = client.send(&content[..split]).await;
        replies += &client.send(&content[split..]).await;
        assert_eq!(codes(&replies), ["250 2.0.0"], "split at {split}");
    }
    for body in world.inbox("alice@example.com").await {
        assert!(body.ends_with(b"\r\nSubject: split\r\n\r\n.a\r\n"));
    }
}
