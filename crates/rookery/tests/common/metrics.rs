//! Reading a running server's `/metrics` (from loopback: no login).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// `GET /metrics` of the admin listener at `admin`; the body.
pub fn scrape(admin: SocketAddr) -> String {
    let mut stream = TcpStream::connect(admin).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: rookery\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The value of one series (`name{labels}` exactly as exported), if present.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Scrapes until `series` is at least `at_least`; the last scrape.
pub fn wait_for(admin: SocketAddr, series: &str, at_least: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = scrape(admin);
        if value(&text, series).is_some_and(|v| v >= at_least) {
            return text;
        }
        assert!(Instant::now() < deadline, "{series} never reached {at_least}:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
