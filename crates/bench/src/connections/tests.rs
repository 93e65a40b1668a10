use super::*;

#[test]
fn reads_the_peer_column() {
    let text = "0      0          127.0.0.1:40412      127.0.5.1:37431\n\
                0      0      [::1]:5432      [::1]:55012\n\
                garbage\n";
    let expected: Vec<SocketAddr> = vec!["127.0.5.1:37431".parse().unwrap(), "[::1]:55012".parse().unwrap()];
    assert_eq!(peers(text), expected);
}

#[test]
fn counts_give_max_and_median() {
    assert_eq!(Counts::of(&[3, 9, 5]), Counts { max: 9, median: 5.0, samples: 3 });
    assert_eq!(Counts::of(&[]), Counts::default());
}

#[test]
fn counts_a_real_connection() {
    check_ss().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sampler = Sampler::start(vec![vec![addr]]);
    let _client = std::net::TcpStream::connect(addr).unwrap();
    let _server = listener.accept().unwrap();
    // Several samples after the connect, even on a loaded machine.
    std::thread::sleep(INTERVAL * 5);
    let counts = sampler.finish().unwrap();
    assert_eq!(counts[0].max, 1, "{counts:?}");
}
