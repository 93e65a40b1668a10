//! The MX role: greeting, EHLO, the transaction, DATA and the limits.

use super::*;

#[tokio::test]
async fn greeting_and_ehlo() {
    let world = World::new().await;
    let (mut client, greeting) = Client::connect(&world, config(Role::Mx), loopback()).await;
    assert_eq!(greeting, "220 mx.test ESMTP Rookery\r\n");
    assert_eq!(client.step, Step::Continue);
    let ehlo = client.send("EHLO client.example\r\n").await;
    assert_eq!(
        ehlo,
        "250-mx.test hello client.example\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
         250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
    );
    assert_eq!(client.send("HELO client.example\r\n").await, "250 mx.test\r\n");
    assert_eq!(client.codes("LHLO client.example\r\n").await, ["500 5.5.1"]);

    // Off loopback without TLS there is no AUTH; without TLS support no STARTTLS.
    let conn = ConnInfo { tls_available: false, ..remote_peer() };
    let (mut client, _) = Client::connect(&world, config(Role::Mx), conn).await;
    let ehlo = client.send("EHLO client.example\r\n").await;
    assert!(ehlo.ends_with("250 ENHANCEDSTATUSCODES\r\n"), "{ehlo}");
    assert!(!ehlo.contains("AUTH") && !ehlo.contains("STARTTLS"), "{ehlo}");
}

#[tokio::test]
async fn simple_commands() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Mx), remote_peer()).await;
    assert_eq!(client.codes("NOOP\r\n").await, ["250 2.0.0"]);
    assert_eq!(client.codes("VRFY alice\r\n").await, ["252 2.5.0"]);
    assert_eq!(client.codes("HELP\r\n").await, ["214 2.0.0"]);
    assert_eq!(client.codes("EXPN list\r\n").await, ["502 5.5.1"]);
    assert_eq!(client.codes("BDAT 10 LAST\r\n").await, ["502 5.5.1"]);
    assert_eq!(client.codes("XYZZY\r\n").await, ["500 5.5.1"]);
    assert_eq!(
        client.codes("MAIL FROM:<a@example.org>\r\nRSET\r\nRCPT TO:<alice@example.com>\r\n").await,
        ["250 2.1.0", "250 2.0.0", "503 5.5.1"]
    );
    assert_eq!(client.send("QUIT\r\nNOOP\r\n").await, "221 2.0.0 bye\r\n");
    assert_eq!(client.step, Step::Close);
}

#[tokio::test]
async fn bad_sequence() {
    let world = World::new().await;
    let (mut client, _) = Client::connect(&world, config(Role::Mx), remote_peer()).await;
    assert_eq!(client.codes("MAIL FROM:<a@example.org>\r\n").await, ["503 5.5.1"]);
    client.send("EHLO client.example\r\n").await;
    assert_eq!(client.codes("RCPT TO:<alice@example.com>\r\n").await, ["503 5.5.1"]);
    assert_eq!(client.codes("DATA\r\n").await, ["503 5.5.1"]);
    assert_eq!(client.codes("MAIL FROM:<a@example.org>\r\n").await, ["250 2.1.0"]);
    assert_eq!(client.codes("MAIL FROM:<a@example.org>\r\n").await, ["503 5.5.1"]);
    assert_eq!(client.codes("DATA\r\n").await, ["554 5.5.1"]);
    // EHLO aborts the transaction.
    client.send("EHLO client.example\r\n").await;
    assert_eq!(client.codes("RCPT TO:<alice@example.com>\r\n").await, ["503 5.5.1"]);
}

#[tokio::test]
async fn mail_from_replies() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Mx), remote_peer()).await;
    let cases: &[(&[u8], &str)] = &[
        (b"MAIL FROM:<a@example.org> SIZE=52428801\r\n", "552 5.3.4"),
        (b"MAIL FROM:<not valid>\r\n", "501 5.1.7"),
        (b"MAIL FROM:<a\xff@example.org>\r\n", "501 5.1.7"),
        (b"MAIL FROM:<j\xc3\xb6rg@example.org>\r\n", "553 5.6.7"),
        (b"MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n", "555 5.5.4"),
        (b"MAIL FROM:<a@example.org> RET=FULL\r\n", "555 5.5.4"),
        (b"MAIL FROM:<a@example.org> SIZE=x\r\n", "501 5.5.4"),
        (b"MAIL FROM:a@example.org\r\n", "501 5.5.4"),
        (b"MAIL FROM:<a@example.org> SIZE=52428800 BODY=8BITMIME\r\nRSET\r\n", "250 2.1.0"),
        (b"MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8\r\nRSET\r\n", "250 2.1.0"),
        (b"MAIL FROM:<>\r\nRSET\r\n", "250 2.1.0"),
    ];
    for (line, expected) in cases {
        let replies = codes(&client.send_bytes(line).await);
        assert_eq!(replies[0], *expected, "{:?}", String::from_utf8_lossy(line));
        client.send("RSET\r\n").await;
    }
}

#[tokio::test]
async fn rcpt_to_replies() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Mx), remote_peer()).await;
    client.send("MAIL FROM:<a@example.org>\r\n").await;
    let cases: &[(&[u8], &str)] = &[
        (b"RCPT TO:<alice@example.com>\r\n", "250 2.1.5"),
        (b"RCPT TO:<AL@Example.COM>\r\n", "250 2.1.5"),
        (b"RCPT TO:<postmaster>\r\n", "250 2.1.5"),
        (b"RCPT TO:<nobody@example.com>\r\n", "550 5.1.1"),
        (b"RCPT TO:<someone@elsewhere.example>\r\n", "554 5.7.1"),
        (b"RCPT TO:<not valid>\r\n", "501 5.1.3"),
        (b"RCPT TO:<al\xffce@example.com>\r\n", "501 5.1.3"),
        (b"RCPT TO:<j\xc3\xb6rg@example.com>\r\n", "553 5.6.7"),
        (b"RCPT TO:<>\r\n", "501 5.1.3"),
        (b"RCPT TO:<alice@example.com> NOTIFY=NEVER\r\n", "555 5.5.4"),
        (b"RCPT TO:<carol@example.com>\r\n", "250 2.1.5"),
    ];
    for (line, expected) in cases {
        assert_eq!(codes(&client.send_bytes(line).await), [*expected], "{:?}", String::from_utf8_lossy(line));
    }
    // A declared size over the quota is refused at RCPT.
    client.send("RSET\r\n").await;
    assert_eq!(client.codes("MAIL FROM:<a@example.org> SIZE=5000\r\n").await, ["250 2.1.0"]);
    assert_eq!(client.codes("RCPT TO:<carol@example.com>\r\n").await, ["552 5.2.2"]);
    assert_eq!(client.codes("RCPT TO:<alice@example.com>\r\n").await, ["250 2.1.5"]);
}

#[tokio::test]
async fn message_is_queued_before_250() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Mx), remote_peer()).await;
    client.send("MAIL FROM:<sender@example.org>\r\n").await;
    client.send("RCPT TO:<alice@example.com>\r\nRCPT TO:<Alice@example.com>\r\nRCPT TO:<al@example.com>\r\n").await;
    client.send("RCPT TO:<postmaster>\r\n").await;
    assert_eq!(client.send("DATA\r\n").await, "354 start mail input; end with <CRLF>.<CRLF>\r\n");
    let replies = client.send(&format!("{}.\r\n", message(10_000))).await;
    let id = replies.strip_prefix("250 2.0.0 queued as ").and_then(|r| r.strip_suffix("\r\n")).unwrap();
    let entry = world.queue().get(id.parse().unwrap()).expect("queued");
    assert_eq!(entry.envelope.mail_from, "sender@example.org");
    // Duplicates (and an alias of the same account) are kept once.
    assert_eq!(entry.envelope.recipients, ["alice@example.com", "postmaster"]);
    assert_eq!(entry.envelope.authenticated_as, None);
    assert!(!entry.envelope.smtputf8);
    assert!(entry.size > 10_000 - 80 && entry.size < 10_400, "{}", entry.size);
    // The transaction is over.
    assert_eq!(client.codes("RCPT TO:<alice@example.com>\r\n").await, ["503 5.5.1"]);
}

#[tokio::test]
async fn pipelined_transaction_in_one_read() {
    let world = World::new().await;
    let (mut client, _) = Client::connect(&world, config(Role::Mx), remote_peer()).await;
    let replies = client
        .codes(concat!(
            "EHLO client.example\r\n",
            "MAIL FROM:<a@example.org>\r\n",
            "RCPT TO:<nobody@example.com>\r\n",
            "RCPT TO:<alice@example.com>\r\n",
            "DATA\r\n",
            "Subject: one\r\n\r\nbody\r\n.\r\n",
            "MAIL FROM:<b@example.org>\r\n",
            "RCPT TO:<carol@example.com>\r\n",
            "DATA\r\n",
            "Subject: two\r\n\r\nbody\r\n.\r\n",
            "QUIT\r\n",
        ))
        .await;
    let replies: Vec<&str> = replies.iter().map(|r| if r.starts_with("250-") { "250-" } else { r.as_str() }).collect();
    assert_eq!(
        replies,
        [
            "250-",
            "250-",
            "250-",
            "250-",
            "250-",
            "250-",
            "250",
            "250 2.1.0",
            "550 5.1.1",
            "250 2.1.5",
            "354",
            "250 2.0.0",
            "250 2.1.0",
            "250 2.1.5",
            "354",
            "250 2.0.0",
            "221 2.0.0"
        ]
    );
    assert_eq!(client.step, Step::Close);
    assert_eq!(world.queue().list().len(), 2);
}

#[tokio::test]
async fn data_terminator_split_at_every_offset() {
    let world = World::new().await;
    let content = "Subject: split\r\n\r\n..stuffed\r\n.\r\n";
    let mut sizes = Vec::new();
    for split in 0..=content.len() {
        let mut client = Client::greeted(&world, config(Role::Mx), remote_peer()).await;
        client.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n").await;
        let first = client.send(&content[..split]).await;
        let second = client.send(&format!("{}NOOP\r\n", &content[split..])).await;
        let replies = codes(&(first + &second));
        assert_eq!(replies, ["250 2.0.0", "250 2.0.0"], "split at {split}");
        assert!(client.input.is_empty());
        let entry = world.queue().list().into_iter().max_by_key(|e| e.id).unwrap();
        sizes.push(entry.size);
    }
    // Every split stored the same number of octets.
    sizes.dedup();
    assert_eq!(sizes.len(), 1, "{sizes:?}");
}

#[tokio::test]
async fn a_message_with_too_many_hops_is_a_loop_and_refused() {
    let world = World::new().await;
    let config = SmtpConfig { max_hops: 5, ..config(Role::Mx) };
    let mut client = Client::greeted(&world, config, remote_peer()).await;
    // Four earlier hops and ours: at the limit, accepted.
    let trace = |n: usize| "Received: from relay.example by next.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n".repeat(n);
    client.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n").await;
    let accepted = client.codes(&format!("{}Subject: four hops\r\n\r\nhi\r\n.\r\n", trace(4))).await;
    assert_eq!(accepted, ["250 2.0.0"]);
    // One more: a loop, refused with the hop count, and nothing queued.
    client.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n").await;
    let refused = client.send(&format!("{}Subject: five hops\r\n\r\nhi\r\n.\r\n", trace(5))).await;
    assert!(refused.starts_with("554 5.4.6 too many hops (6 Received headers)"), "{refused}");
    assert_eq!(world.queue().list().len(), 1);
    // Received lines in the body are not hops.
    client.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n").await;
    let body_only = client.codes(&format!("Subject: quoted\r\n\r\n{}.\r\n", trace(9))).await;
    assert_eq!(body_only, ["250 2.0.0"]);
}

#[tokio::test]
async fn size_limit_mid_data() {
    let world = World::new().await;
    let config = SmtpConfig { max_message_size: 5_000, ..config(Role::Mx) };
    let mut client = Client::greeted(&world, config, remote_peer()).await;
    client.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n").await;
    for _ in 0..20 {
        assert_eq!(client.send(&message(1_000)).await, "");
        assert!(client.input.len() <= 2);
    }
    assert_eq!(client.codes(".\r\nNOOP\r\n").await, ["552 5.3.4", "250 2.0.0"]);
    assert!(world.queue().list().is_empty());
    // Not counted as an error; the next transaction works.
    client.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n").await;
    assert_eq!(client.codes(&format!("{}.\r\n", message(4_000))).await, ["250 2.0.0"]);
}

#[tokio::test]
async fn header_line_too_long() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Mx), remote_peer()).await;
    client.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n").await;
    let long = format!("Subject: {}\r\n\r\nbody\r\n.\r\n", "x".repeat(990));
    assert_eq!(client.codes(&long).await, ["554 5.6.0"]);
    client.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n").await;
    let fits = format!("Subject: {}\r\n\r\n{}\r\n.\r\n", "x".repeat(989), "y".repeat(5000));
    assert_eq!(client.codes(&fits).await, ["250 2.0.0"]);
}

#[tokio::test]
async fn ten_thousand_recipients() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Mx), loopback()).await;
    client.login("alice").await;
    client.send("MAIL FROM:<alice@example.com>\r\n").await;
    let mut accepted = 0;
    let mut too_many = 0;
    for batch in 0..100 {
        let mut lines = String::new();
        for i in 0..100 {
            lines.push_str(&format!("RCPT TO:<r{}@remote.example>\r\n", batch * 100 + i));
        }
        for reply in client.codes(&lines).await {
            match reply.as_str() {
                "250 2.1.5" => accepted += 1,
                "452 4.5.3" => too_many += 1,
                other => panic!("{other}"),
            }
        }
        assert!(client.input.is_empty());
    }
    assert_eq!((accepted, too_many), (1000, 9000));
    assert_eq!(client.step, Step::Continue);
    assert_eq!(client.codes(&format!("DATA\r\n{}.\r\n", message(100))).await, ["354", "250 2.0.0"]);
    let entry = world.queue().list().pop().unwrap();
    assert_eq!(entry.envelope.recipients.len(), 1000);
    assert_eq!(entry.envelope.authenticated_as.as_deref(), Some("alice@example.com"));
}

#[tokio::test]
async fn too_many_errors_closes() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Mx), remote_peer()).await;
    for _ in 0..9 {
        assert_eq!(client.codes("XYZZY\r\n").await, ["500 5.5.1"]);
        assert_eq!(client.step, Step::Continue);
    }
    // The tenth error, and nothing after it is read.
    assert_eq!(codes(&client.send_bytes(b"\x00\x01\xff\r\nNOOP\r\n").await), ["500 5.5.2", "421 4.7.0"]);
    assert_eq!(client.step, Step::Close);
}

#[tokio::test]
async fn long_line_is_refused_and_discarded() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Mx), remote_peer()).await;
    let mut line = b"NOOP ".to_vec();
    line.resize(3000, b'a');
    assert_eq!(client.send_bytes(&line).await, "");
    // 4096 octets without a line end: refused at once, never buffered.
    assert_eq!(client.codes(&"b".repeat(1500)).await, ["500 5.5.2"]);
    assert!(client.input.is_empty());
    assert_eq!(client.send(&"c".repeat(100_000)).await, "");
    assert!(client.input.is_empty());
    assert_eq!(client.codes("ccc\r\nNOOP\r\n").await, ["250 2.0.0"]);
    // A line of exactly the limit is a command.
    let mut line = b"NOOP ".to_vec();
    line.resize(4094, b'a');
    line.extend_from_slice(b"\r\n");
    assert_eq!(codes(&client.send_bytes(&line).await), ["250 2.0.0"]);
    // An over-long line that arrives whole is dropped through its end
    // only: the next command is answered.
    let mut line = b"NOOP ".to_vec();
    line.resize(5000, b'x');
    line.extend_from_slice(b"\r\n");
    assert_eq!(codes(&client.send_bytes(&line).await), ["500 5.5.2"]);
    assert_eq!(client.codes("NOOP\r\n").await, ["250 2.0.0"]);
}

#[tokio::test]
async fn binary_garbage() {
    let world = World::new().await;
    let (mut client, _) = Client::connect(&world, config(Role::Mx), remote_peer()).await;
    let garbage: Vec<u8> = (0..=255u8).cycle().take(2000).filter(|&b| b != b'\n').collect();
    let replies = client.send_bytes(&[&garbage[..1000], b"\n"].concat()).await;
    assert_eq!(codes(&replies), ["500 5.5.2"]);
    let replies = client.send_bytes(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n").await;
    assert_eq!(codes(&replies), ["500 5.5.2"]);
}

#[tokio::test]
async fn disconnect_mid_data_leaves_nothing() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Mx), remote_peer()).await;
    client.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n").await;
    client.send(&message(5_000)).await;
    assert_eq!(client.session.idle_timeout(), client.session.config.data_timeout);
    client.session.closed().await;
    assert!(world.queue().list().is_empty());
}

#[tokio::test]
async fn timeout_and_shutdown_replies() {
    let world = World::new().await;
    let (mut client, _) = Client::connect(&world, config(Role::Mx), remote_peer()).await;
    assert_eq!(client.session.idle_timeout(), Duration::from_secs(300));
    let mut out = Vec::new();
    client.session.timed_out(&mut out);
    assert_eq!(out, b"421 4.4.2 mx.test timeout\r\n");
    let mut out = Vec::new();
    client.session.shutting_down(&mut out);
    assert_eq!(out, b"421 4.3.2 shutting down\r\n");
}

#[tokio::test]
async fn starttls_resets_the_session() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Submission), loopback()).await;
    client.login("alice").await;
    client.send("MAIL FROM:<alice@example.com>\r\n").await;
    assert_eq!(client.send("STARTTLS\r\nNOOP\r\n").await, "220 2.0.0 ready to start TLS\r\n");
    assert_eq!(client.step, Step::StartTls);
    // The driver drops what was pipelined after STARTTLS.
    client.input.clear();
    client.session.tls_started();
    // EHLO, AUTH and the transaction are forgotten.
    assert_eq!(client.codes("MAIL FROM:<alice@example.com>\r\n").await, ["503 5.5.1"]);
    let ehlo = client.send("EHLO client.example\r\n").await;
    assert!(!ehlo.contains("STARTTLS") && ehlo.contains("AUTH PLAIN LOGIN"), "{ehlo}");
    assert_eq!(client.codes("MAIL FROM:<alice@example.com>\r\n").await, ["530 5.7.0"]);
    assert_eq!(client.codes("STARTTLS\r\n").await, ["503 5.5.1"]);
    client.login("alice").await;
    assert_eq!(client.codes("MAIL FROM:<alice@example.com>\r\n").await, ["250 2.1.0"]);
    let mut client =
        Client::greeted(&world, config(Role::Mx), ConnInfo { tls_available: false, ..remote_peer() }).await;
    assert_eq!(client.codes("STARTTLS\r\n").await, ["502 5.5.1"]);
}

#[tokio::test]
async fn received_header_and_delivery_through_the_queue() {
    let world = World::new().await;
    let mut client = Client::greeted(&world, config(Role::Mx), remote_peer()).await;
    client.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<al@example.com>\r\nDATA\r\n").await;
    client.send("Subject: hi\r\n\r\n..dot\r\n.\r\n").await;
    let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
    let services = world.services.clone();
    let runner = tokio::spawn(async move {
        let transport: Arc<dyn queue::Transport> =
            Arc::new(delivery::QueueTransport::new(services.delivery.clone(), None));
        services.queue.run(transport, shutdown).await;
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let body = loop {
        if let Some(body) = world.inbox("alice@example.com").await.pop() {
            break body;
        }
        assert!(tokio::time::Instant::now() < deadline, "not delivered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    shutdown_tx.send(true).unwrap();
    runner.await.unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let received = text.split("\r\n").skip_while(|l| !l.starts_with("Received:")).take(3).collect::<Vec<_>>();
    assert_eq!(received[0], "Received: from client.example ([192.0.2.10])");
    assert!(received[1].starts_with("\tby mx.test with ESMTP id "), "{text}");
    assert!(received[2].starts_with("\tfor <al@example.com>; "), "{text}");
    assert!(text.ends_with("\r\nSubject: hi\r\n\r\n.dot\r\n"), "{text}");
}
