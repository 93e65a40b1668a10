//! The web admin pages of a running member over plain HTTP/1.1, the way a
//! browser without scripts uses them: log in through the form (with its
//! CSRF cookie), then fetch pages with the session cookie.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The value `name` is set to by a `Set-Cookie` of the answer.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")).find_map(|(_, v)| {
            let pair = v.split(';').next()?;
            let (key, value) = pair.split_once('=')?;
            (key == name && !value.is_empty()).then(|| value.to_owned())
        })
    }
}

/// Logs in as `user`; the `rookery_admin` session cookie.
pub fn log_in(admin: SocketAddr, user: &str, password: &str) -> String {
    let page = request(admin, "GET", "/admin/login", &[], "");
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf_cookie = page.cookie("rookery_admin_csrf").expect("a CSRF cookie");
    let marker = "name=\"csrf\" value=\"";
    let start = page.body.find(marker).expect("a CSRF field") + marker.len();
    let csrf = page.body[start..].split('"').next().unwrap();
    let form = format!("username={}&password={}&csrf={}", encode(user), encode(password), encode(csrf));
    let cookie = format!("rookery_admin_csrf={csrf_cookie}");
    let headers = [("Cookie", cookie.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
    let answer = request(admin, "POST", "/admin/login", &headers, &form);
    assert_eq!(answer.status, 303, "{}", answer.body);
    answer.cookie("rookery_admin").expect("a session cookie")
}

/// `GET path` with the session.
pub fn get(admin: SocketAddr, path: &str, session: &str) -> Answer {
    request(admin, "GET", path, &[("Cookie", &format!("rookery_admin={session}"))], "")
}

/// `GET path` of the JSON API with HTTP Basic, as the CLI calls it.
pub fn get_basic(admin: SocketAddr, path: &str, user: &str, password: &str) -> Answer {
    use base64::Engine;
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    request(admin, "GET", path, &[("Authorization", &format!("Basic {credentials}"))], "")
}

fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("a status");
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    Answer { status, headers, body }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Form encoding (RFC 3986 unreserved characters kept).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
