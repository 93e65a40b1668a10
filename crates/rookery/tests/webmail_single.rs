//! Web mail on a real `rookery serve`: a message delivered over SMTP shows
//! in the list read over HTTP, and the session survives a SIGKILL of the
//! server (sessions are written through to the data directory).
mod common;

use std::time::{Duration, Instant};

/// The value of the first hidden `csrf` field of a page.
fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// `name=value` of the `Set-Cookie` header for `name`.
fn cookie(response: &reqwest::Response, name: &str) -> String {
    let prefix = format!("{name}=");
    let header =
        response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).find(|v| v.starts_with(&prefix));
    header.expect("the cookie is set").split(';').next().unwrap().to_owned()
}

fn deliver(server: &testkit::TestServer, to: &str, subject: &str) {
    let mut smtp = testkit::SmtpClient::connect(server.ports.smtp()).unwrap();
    assert!(smtp.reply().unwrap().starts_with("220"));
    assert!(smtp.command("EHLO client.example").unwrap().starts_with("250"));
    assert!(smtp.command("MAIL FROM:<bob@elsewhere.example>").unwrap().starts_with("250"));
    assert!(smtp.command(&format!("RCPT TO:<{to}>")).unwrap().starts_with("250"));
    assert!(smtp.command("DATA").unwrap().starts_with("354"));
    let message =
        format!("From: Bob <bob@elsewhere.example>\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nHello over SMTP.\r\n.");
    assert!(smtp.command(&message).unwrap().starts_with("250"));
    let _ = smtp.command("QUIT");
}

async fn login(http: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
    let form = http.get(format!("{base}/login")).send().await.unwrap();
    let token_cookie = cookie(&form, "rookery_csrf");
    let csrf = csrf_of(&form.text().await.unwrap());
    let response = http
        .post(format!("{base}/login"))
        .header("cookie", token_cookie)
        .form(&[("username", user), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/mail/INBOX");
    cookie(&response, "rookery_session")
}

async fn inbox(http: &reqwest::Client, base: &str, session: &str) -> (u16, String) {
    let response = http.get(format!("{base}/mail/INBOX")).header("cookie", session).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// `rookery_sessions_logged_in{protocol="webmail"}` on `/metrics` now.
fn webmail_sessions(server: &testkit::TestServer) -> Option<f64> {
    let text = common::metrics::scrape(server.ports.admin());
    common::metrics::value(&text, "rookery_sessions_logged_in{protocol=\"webmail\"}")
}

#[tokio::test(flavor = "multi_thread")]
async fn message_delivered_by_smtp_is_listed_and_sessions_survive_a_kill() {
    let mut server = common::server();
    let alice = common::account(&server, "alice");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let base = format!("http://{}", server.ports.get("webmail"));
    let session = login(&http, &base, "alice", "pw-alice").await;
    assert_eq!(webmail_sessions(&server), Some(1.0), "the gauge counts the new session");
    deliver(&server, &alice, "Greetings <from> SMTP");
    // Delivery goes through the queue: poll until it is there.
    let deadline = Instant::now() + Duration::from_secs(60);
    let page = loop {
        let (status, page) = inbox(&http, &base, &session).await;
        assert_eq!(status, 200);
        if page.contains("<a class=\"subject\"") || Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(page.contains("Greetings &#60;from&#62; SMTP"), "{page}");
    assert!(page.contains("<tr class=\"message unread\">"));
    assert!(page.contains("<span class=\"unread\" title=\"unread messages\">1</span>"));

    server.kill();
    server.restart().unwrap();
    let base = format!("http://{}", server.ports.get("webmail"));
    let (status, page) = inbox(&http, &base, &session).await;
    assert_eq!(status, 200, "the session outlived the server process");
    assert_eq!(webmail_sessions(&server), Some(1.0), "sessions read back from disk are counted");
    assert!(page.contains("Greetings &#60;from&#62; SMTP"));
    // Logging out ends it for good, across another restart too.
    let csrf = csrf_of(&page);
    let response =
        http.post(format!("{base}/logout")).header("cookie", &session).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(webmail_sessions(&server), Some(0.0), "a logged-out session is no longer counted");
    server.kill();
    server.restart().unwrap();
    let base = format!("http://{}", server.ports.get("webmail"));
    let response = http.get(format!("{base}/mail/INBOX")).header("cookie", &session).send().await.unwrap();
    assert_eq!((response.status().as_u16(), response.headers()["location"].to_str().unwrap()), (303, "/login"));
}
