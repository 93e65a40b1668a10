//! Compose, reply, forward and send over real HTTP: the sent message is
//! delivered by the queue and parses back with its attachments, a copy is
//! in Sent; bad addresses, a missing CSRF token and oversized uploads are
//! refused with nothing queued or stored.

mod mail_support;

use mail_parser::{MessageParser, MimeHeaders};
use mail_support::{ANN, BOB, MAX_UPLOAD, Multipart, Server, User};

const ORIGINAL: &str = "From: Bob <bob@example.org>\r\n\
To: ann@example.org\r\n\
Subject: plans\r\n\
Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <orig@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
Shall we <meet>?\r\n\
--b\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment; filename=\"plan.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--b--\r\n";

fn compose(user: &User) -> Multipart {
    Multipart::new().text("csrf", &user.csrf)
}

#[tokio::test]
async fn reply_and_forward_are_prefilled() {
    let server = Server::start().await;
    let uid = server.append(ANN, "INBOX", ORIGINAL).await;
    let ann = server.login(ANN).await;

    let page = ann.get("/compose").await.text().await.expect("page");
    for element in [
        "<form id=\"compose\" method=\"post\" action=\"/compose\" enctype=\"multipart/form-data\">",
        "name=\"to\"",
        "name=\"cc\"",
        "name=\"subject\"",
        "<textarea id=\"body\" name=\"body\"",
        "type=\"file\" multiple",
        "name=\"csrf\"",
    ] {
        assert!(page.contains(element), "{element} missing");
    }

    let page = ann.get(&format!("/compose?reply=INBOX/{}", uid.0)).await.text().await.expect("page");
    assert!(page.contains("name=\"to\" type=\"text\" value=\"Bob &#60;bob@example.org&#62;\""), "{page}");
    assert!(page.contains("value=\"Re: plans\""));
    assert!(page.contains("name=\"in_reply_to\" value=\"orig@example.org\""));
    assert!(page.contains("&#62; Shall we &#60;meet&#62;?"), "quoted and escaped: {page}");

    let page = ann.get(&format!("/compose?forward=INBOX/{}", uid.0)).await.text().await.expect("page");
    assert!(page.contains("value=\"Fwd: plans\""));
    assert!(page.contains(&format!("name=\"forward\" value=\"INBOX/{}\"", uid.0)), "{page}");
    assert!(page.contains("name=\"forward_part\" value=\"2\" checked"), "{page}");
    assert!(page.contains("plan.pdf"));

    // Another account's message cannot be replied to or forwarded.
    let bob = server.login(BOB).await;
    assert_eq!(bob.get("/compose?reply=INBOX/1").await.status(), 404);
    assert_eq!(bob.get("/compose?forward=INBOX/1").await.status(), 404);
}

#[tokio::test]
async fn sent_mail_is_delivered_with_attachments_and_copied_to_sent() {
    let server = Server::start().await;
    let uid = server.append(ANN, "INBOX", ORIGINAL).await;
    let ann = server.login(ANN).await;
    let form = compose(&ann)
        .text("to", "Bob <bob@example.org>")
        .text("cc", "")
        .text("subject", "Fwd: plans")
        .text("body", "see attached\r\n")
        .text("in_reply_to", "")
        .text("references", "")
        .text("forward", &format!("INBOX/{}", uid.0))
        .text("forward_part", "2")
        .file("attachment", "notes <1>.txt", "text/plain", b"my notes")
        .file("attachment", "", "application/octet-stream", b"");
    let response = ann.post_multipart("/compose", form).await;
    assert_eq!(response.status(), 303, "{:?}", response.text().await);
    assert_eq!(response.headers()["location"], "/mail/INBOX?notice=sent");

    server.wait_for_count(BOB, "INBOX", 1).await;
    let delivered = server.messages(BOB, "INBOX").await.remove(0);
    let message = MessageParser::default().parse(&delivered[..]).expect("parses");
    assert_eq!(message.subject(), Some("Fwd: plans"));
    assert_eq!(message.from().and_then(|a| a.first()).and_then(|a| a.address()), Some(ANN));
    assert!(message.message_id().is_some_and(|id| id.ends_with("@mail.example.org")));
    assert!(message.date().is_some());
    assert_eq!(message.body_text(0).as_deref(), Some("see attached\r\n"));
    let names: Vec<_> = message.attachments().filter_map(|a| a.attachment_name().map(str::to_owned)).collect();
    assert_eq!(names, ["plan.pdf", "notes <1>.txt"]);
    let pdf = message.attachments().next().expect("pdf");
    assert_eq!(pdf.contents(), b"%PDF-1.4\n");
    assert!(pdf.is_content_type("application", "pdf"));

    assert_eq!(server.count(ANN, "Sent").await, 1);
    let copy = server.messages(ANN, "Sent").await.remove(0);
    // Delivery adds Return-Path above the message; the rest is the same bytes.
    assert!(delivered.ends_with(&copy), "the Sent copy is the message sent");
    let account = server.store.account(&mail_support::account(ANN)).await.expect("account");
    let sent = account.snapshot("Sent").expect("sent").messages[0].flags.clone();
    assert!(sent.contains(&store::Flag::Seen));
}

#[tokio::test]
async fn a_reply_threads() {
    let server = Server::start().await;
    let ann = server.login(ANN).await;
    let form = compose(&ann)
        .text("to", BOB)
        .text("subject", "Re: plans")
        .text("body", "yes")
        .text("in_reply_to", "orig@example.org")
        .text("references", "<first@example.org> orig@example.org");
    assert_eq!(ann.post_multipart("/compose", form).await.status(), 303);
    server.wait_for_count(BOB, "INBOX", 1).await;
    let delivered = server.messages(BOB, "INBOX").await.remove(0);
    let message = MessageParser::default().parse(&delivered[..]).expect("parses");
    assert_eq!(message.in_reply_to().as_text(), Some("orig@example.org"));
    let references: Vec<_> = message.references().as_text_list().expect("list").iter().map(|r| r.to_string()).collect();
    assert_eq!(references, ["first@example.org", "orig@example.org"]);
}

#[tokio::test]
async fn bad_addresses_show_the_form_again_and_send_nothing() {
    let server = Server::start().await;
    let ann = server.login(ANN).await;
    for (to, cc) in [("not an address", ""), ("bob@example.org", "eve@"), ("", "")] {
        let form = compose(&ann).text("to", to).text("cc", cc).text("subject", "s").text("body", "b");
        let response = ann.post_multipart("/compose", form).await;
        assert_eq!(response.status(), 400, "{to:?} {cc:?}");
        let page = response.text().await.expect("page");
        assert!(page.contains("<p class=\"error\" role=\"alert\">"), "{page}");
        assert!(page.contains("Nothing was sent."));
        assert!(page.contains("<form id=\"compose\""), "the form is shown again");
    }
    assert!(server.queue.is_empty());
    assert_eq!(server.count(ANN, "Sent").await, 0);
}

#[tokio::test]
async fn send_without_csrf_is_403_and_sends_nothing() {
    let server = Server::start().await;
    let ann = server.login(ANN).await;
    for token in [None, Some("forged")] {
        let mut form = Multipart::new();
        if let Some(token) = token {
            form = form.text("csrf", token);
        }
        let form = form.text("to", BOB).text("subject", "s").text("body", "b");
        assert_eq!(ann.post_multipart("/compose", form).await.status(), 403, "{token:?}");
    }
    assert!(server.queue.is_empty());
    assert_eq!(server.count(ANN, "Sent").await, 0);
    assert_eq!(server.count(BOB, "INBOX").await, 0);
}

#[tokio::test]
async fn oversized_upload_is_413_and_nothing_is_queued_or_stored() {
    let server = Server::start().await;
    let ann = server.login(ANN).await;
    let big = vec![b'x'; MAX_UPLOAD + 1];
    // With a Content-Length: refused before the body is read.
    let form = compose(&ann).text("to", BOB).text("subject", "big").file(
        "attachment",
        "big.bin",
        "application/octet-stream",
        &big,
    );
    let response = ann.post_multipart("/compose", form).await;
    assert_eq!(response.status(), 413);
    assert!(response.text().await.expect("page").contains(&MAX_UPLOAD.to_string()), "the page says the limit");

    // Chunked, no length: cut while it streams.
    let form = compose(&ann).text("to", BOB).text("subject", "big").file(
        "attachment",
        "big.bin",
        "application/octet-stream",
        &big,
    );
    let content_type = form.content_type();
    let body = form.finish();
    let mut request = format!(
        "POST /compose HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        ann.cookie
    );
    for chunk in body.chunks(16 * 1024) {
        request.push_str(&format!("{:x}\r\n", chunk.len()));
        request.push_str(&String::from_utf8_lossy(chunk));
        request.push_str("\r\n");
    }
    request.push_str("0\r\n\r\n");
    let (status, response) = server.raw_request(&request).await;
    assert_eq!(status, 413);
    assert!(response.contains(&MAX_UPLOAD.to_string()), "the page says the limit: {response}");

    assert!(server.queue.is_empty());
    assert_eq!(server.count(ANN, "Sent").await, 0);
    assert_eq!(server.count(BOB, "INBOX").await, 0);
}

#[tokio::test]
async fn forwarding_another_accounts_parts_is_404_and_sends_nothing() {
    let server = Server::start().await;
    let uid = server.append(ANN, "INBOX", ORIGINAL).await;
    let bob = server.login(BOB).await;
    let form = compose(&bob)
        .text("to", BOB)
        .text("subject", "stolen")
        .text("body", "b")
        .text("forward", &format!("INBOX/{}", uid.0))
        .text("forward_part", "2");
    assert_eq!(bob.post_multipart("/compose", form).await.status(), 404);
    // A forged part path of the user's own message is refused too.
    let own = server.append(BOB, "INBOX", ORIGINAL).await;
    let form = compose(&bob).text("to", BOB).text("forward", &format!("INBOX/{}", own.0)).text("forward_part", "../1");
    assert_eq!(bob.post_multipart("/compose", form).await.status(), 404);
    assert!(server.queue.is_empty());
    assert_eq!(server.count(BOB, "Sent").await, 0);
}

#[tokio::test]
async fn a_full_mailbox_still_sends_without_the_sent_copy() {
    let server = Server::start().await;
    let ann = server.login(ANN).await;
    server.services.directory.set_quota(&mail_support::account(ANN), Some(10)).await.expect("quota");
    let form = compose(&ann).text("to", BOB).text("subject", "over quota").text("body", "still goes out");
    let response = ann.post_multipart("/compose", form).await;
    assert_eq!(response.status(), 303, "sent even though the copy cannot be kept");
    server.wait_for_count(BOB, "INBOX", 1).await;
    assert_eq!(server.count(ANN, "Sent").await, 0);
}
