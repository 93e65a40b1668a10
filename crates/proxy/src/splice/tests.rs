use super::*;
use crate::backend::ClientAddrs;
use crate::config::SpliceTimeouts;
use crate::test_support::scripted_backend;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

#[tokio::test(start_paused = true)]
async fn an_imap_session_idling_for_29_minutes_is_not_cut() {
    let activity = Activity::new();
    let idle = SpliceTimeouts::default().imap;
    tokio::select! {
        _ = activity.idle_for(idle) => panic!("cut during a 29-minute IDLE"),
        _ = tokio::time::sleep(Duration::from_secs(29 * 60)) => {}
    }
    // The client's DONE and new IDLE: the clock starts again.
    activity.touch();
    let touched = Instant::now();
    activity.idle_for(idle).await;
    assert_eq!(touched.elapsed().as_secs() / 60, 31);
}

#[tokio::test]
async fn a_splice_stays_up_while_bytes_move_and_ends_after_silence() {
    let (addr, seen) = scripted_backend("", vec![]).await;
    let from = ClientAddrs {
        client: "127.0.0.9:1".parse().unwrap(),
        frontend: "127.0.0.1:2".parse().unwrap(),
        tls: false,
        proxied_by: None,
    };
    let backend = BackendConn::connect(addr, None, from, Duration::from_secs(5)).await.unwrap();
    let (client, server) = tokio::io::duplex(4096);
    let idle = Duration::from_millis(400);
    let early = BytesMut::from("early\n");
    let splice = tokio::spawn(splice(Box::new(server), early, backend, idle));
    let mut client = BufReader::new(client);
    let mut line = String::new();
    client.read_line(&mut line).await.unwrap();
    assert_eq!(line, "echo early\n", "input sent with the login goes first");
    // Longer in all than the idle timeout, never silent for as long.
    for n in 0..5 {
        tokio::time::sleep(idle / 3).await;
        client.get_mut().write_all(format!("ping {n}\n").as_bytes()).await.unwrap();
        line.clear();
        client.read_line(&mut line).await.unwrap();
        assert_eq!(line, format!("echo ping {n}\n"));
    }
    tokio::time::timeout(Duration::from_secs(5), splice).await.expect("silence ends the splice").unwrap();
    let mut rest = Vec::new();
    assert_eq!(client.read_to_end(&mut rest).await.unwrap(), 0);
    assert_eq!(seen.await.unwrap().lines.len(), 6);
}
