use super::{Scan, Sink, bench_serial, scan_data};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[test]
fn scan_finds_the_terminator() {
    assert_eq!(scan_data(b".\r\nMAIL", true), Scan::Found(0, 3));
    assert_eq!(scan_data(b"a\r\n.\r\nMAIL", true), Scan::Found(3, 6));
    // A dot-stuffed line is content.
    assert_eq!(scan_data(b"..\r\n", true), Scan::More(0));
    assert_eq!(scan_data(b"..\r\nabc\r\n.\r\n", true), Scan::Found(9, 12));
    // Not at a line start, `.\r\n` is content.
    assert_eq!(scan_data(b".\r\nabc", false), Scan::More(2));
    // A possible terminator's start is kept for the next read.
    assert_eq!(scan_data(b"abcdef\r\n.\r", false), Scan::More(6));
    assert_eq!(scan_data(b".\r", true), Scan::More(0));
}

#[test]
fn serial_from_the_message_id_header_only() {
    let head = b"Received: from x\r\nmessage-id:  <00000000000000ff@bench.example>\r\n\r\nbody";
    assert_eq!(bench_serial(head), Some(255));
    assert_eq!(bench_serial(b"Subject: x\r\n\r\nMessage-ID: <0000000000000001@b>\r\n"), None);
    assert_eq!(bench_serial(b"Message-ID: <short@bench.example>\r\n\r\n"), None);
}

/// Reads replies until `count` final reply lines have arrived.
async fn replies(stream: &mut TcpStream, count: usize) -> String {
    let mut text = String::new();
    let mut buffer = [0; 4096];
    while text.lines().filter(|line| line.as_bytes().get(3) == Some(&b' ')).count() < count {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await.unwrap().unwrap();
        assert!(n > 0, "closed after {text:?}");
        text.push_str(std::str::from_utf8(&buffer[..n]).unwrap());
    }
    text
}

/// A pipelined session whose messages arrive cut at every awkward place:
/// the sink finds each end, answers each command in order and counts each
/// message once, by recipient and serial.
#[tokio::test]
async fn counts_pipelined_messages_split_across_reads() {
    let sink = Sink::start("127.0.0.1").unwrap();
    let mut client = TcpStream::connect(sink.addr).await.unwrap();
    client.set_nodelay(true).unwrap();
    assert!(replies(&mut client, 1).await.starts_with("220 "));
    client.write_all(b"EHLO test\r\n").await.unwrap();
    let ehlo = replies(&mut client, 1).await;
    assert!(ehlo.contains("250-PIPELINING") && ehlo.contains("8BITMIME"), "{ehlo}");
    let message = |serial: u64| {
        format!("Subject: x\r\nMessage-ID: <{serial:016x}@bench.example>\r\n\r\nline\r\n..dot\r\n.\r\n").into_bytes()
    };
    for (serial, cut) in [(1, 1), (2, 5), (3, 3), (4, 2)] {
        client.write_all(b"MAIL FROM:<a@b>\r\nRCPT TO:<r@sink.example>\r\nDATA\r\n").await.unwrap();
        let accepted = replies(&mut client, 3).await;
        assert!(accepted.ends_with("354 go ahead\r\n"), "{accepted}");
        let data = message(serial);
        // Cut `cut` octets before the end: inside the terminator.
        let (first, second) = data.split_at(data.len() - cut);
        client.write_all(first).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        client.write_all(second).await.unwrap();
        assert_eq!(replies(&mut client, 1).await, "250 2.0.0 ok\r\n");
    }
    // An empty message, and a repeated serial.
    client.write_all(b"MAIL FROM:<a@b>\r\nRCPT TO:<s@sink.example>\r\nDATA\r\n").await.unwrap();
    replies(&mut client, 3).await;
    client.write_all(b".\r\n").await.unwrap();
    replies(&mut client, 1).await;
    client.write_all(b"MAIL FROM:<a@b>\r\nRCPT TO:<s@sink.example>\r\nDATA\r\n").await.unwrap();
    replies(&mut client, 3).await;
    client.write_all(&message(2)).await.unwrap();
    client.write_all(b"QUIT\r\n").await.unwrap();
    assert_eq!(replies(&mut client, 2).await, "250 2.0.0 ok\r\n221 2.0.0 bye\r\n");
    sink.wait_for(6, Duration::from_secs(5)).await.unwrap();
    let tally = sink.take();
    assert_eq!(tally.connections, 1);
    assert_eq!(tally.messages, 6);
    assert_eq!(tally.by_recipient["r@sink.example"], 4);
    assert_eq!(tally.by_recipient["s@sink.example"], 2);
    assert_eq!(tally.serials.len(), 4);
    assert_eq!(tally.duplicates, vec![2]);
    assert_eq!(tally.unidentified, 1);
    assert_eq!(sink.take().messages, 0);
}
