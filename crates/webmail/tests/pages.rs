//! The folder list, the message list (paging, sorting, search), escaping,
//! and the settings page, over real HTTP.

mod common;

use common::*;
use webmail::WebmailConfig;

#[tokio::test(flavor = "multi_thread")]
async fn folder_list_shows_unread_counts() {
    let server = Server::start(WebmailConfig::default()).await;
    let mut browser = Browser::logged_in(&server).await;
    server.create_mailbox("Sent Items").await;
    for (n, seen) in [(1, false), (2, true), (3, false)] {
        server.add_message("INBOX", &message("bob@example.org", &format!("m{n}"), "hi"), seen, 1_000 + n).await;
    }
    server.add_message("Sent Items", &message("alice@example.com", "out", "x"), false, 5).await;
    let page = browser.get("/mail/INBOX").await;
    assert!(page.body.contains("<nav id=\"folders\""));
    let inbox = r#"<a class="folder current" data-mailbox="INBOX" href="/mail/INBOX" aria-current="page">INBOX <span class="unread" title="unread messages">2</span></a>"#;
    assert!(page.body.contains(inbox), "{}", page.body);
    assert!(page.body.contains(r#"data-mailbox="Sent Items" href="/mail/Sent%20Items">Sent Items <span class="unread" title="unread messages">1</span>"#));
    assert!(page.body.contains(r#"data-mailbox="Trash" href="/mail/Trash">Trash</a>"#), "no count when none unread");
    // Unread rows are marked; the seen one is not.
    assert_eq!(count(&page.body, "<tr class=\"message unread\">"), 2);
    assert_eq!(count(&page.body, "<tr class=\"message\">"), 1);
    let sent = browser.get("/mail/Sent%20Items").await;
    assert_eq!(sent.status, 200);
    assert_eq!(subjects(&sent.body), ["out"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_of_fifty_newest_first() {
    let server = Server::start(WebmailConfig::default()).await;
    let mut browser = Browser::logged_in(&server).await;
    for n in 0..120 {
        server
            .add_message("INBOX", &message("bob@example.org", &format!("message {n:03}"), "x"), true, 10_000 + n)
            .await;
    }
    let first = browser.get("/mail/INBOX").await;
    let rows = subjects(&first.body);
    assert_eq!(rows.len(), 50);
    assert_eq!((rows[0].as_str(), rows[49].as_str()), ("message 119", "message 070"));
    assert!(!first.body.contains("rel=\"prev\""));
    let next =
        first.body.split("<a rel=\"next\" href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&#38;", "&");
    assert_eq!(next, "/mail/INBOX?page=2&sort=date&order=desc");
    let last = browser.get("/mail/INBOX?page=3&sort=date&order=desc").await;
    let rows = subjects(&last.body);
    assert_eq!((rows.len(), rows[0].as_str(), rows[19].as_str()), (20, "message 019", "message 000"));
    assert!(last.body.contains("rel=\"prev\"") && !last.body.contains("rel=\"next\""));
    // Out of range and nonsense parameters are clamped, not errors.
    assert_eq!(subjects(&browser.get("/mail/INBOX?page=99").await.body).len(), 20);
    assert_eq!(browser.get("/mail/INBOX?page=-1&sort=%00&order=x").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn sorts_by_subject_sender_and_size() {
    let server = Server::start(WebmailConfig::default()).await;
    let mut browser = Browser::logged_in(&server).await;
    server.add_message("INBOX", &message("Carol <carol@example.org>", "beta", "short"), true, 1).await;
    server.add_message("INBOX", &message("alice@example.org", "Gamma", &"long ".repeat(500)), true, 2).await;
    server.add_message("INBOX", &message("Bob <bob@example.org>", "alpha", "medium text here"), true, 3).await;
    let order = |page: &str| subjects(page);
    assert_eq!(order(&browser.get("/mail/INBOX").await.body), ["alpha", "Gamma", "beta"]);
    assert_eq!(order(&browser.get("/mail/INBOX?sort=date&order=asc").await.body), ["beta", "Gamma", "alpha"]);
    assert_eq!(order(&browser.get("/mail/INBOX?sort=subject&order=asc").await.body), ["alpha", "beta", "Gamma"]);
    assert_eq!(order(&browser.get("/mail/INBOX?sort=subject&order=desc").await.body), ["Gamma", "beta", "alpha"]);
    assert_eq!(order(&browser.get("/mail/INBOX?sort=from&order=asc").await.body), ["Gamma", "alpha", "beta"]);
    assert_eq!(order(&browser.get("/mail/INBOX?sort=size&order=desc").await.body), ["Gamma", "alpha", "beta"]);
    let page = browser.get("/mail/INBOX?sort=subject&order=asc").await;
    assert!(page.body.contains(r#"<th scope="col" class="subject" aria-sort="ascending">"#));
}

#[tokio::test(flavor = "multi_thread")]
async fn search_matches_subject_addresses_and_body_text() {
    let server = Server::start(WebmailConfig::default()).await;
    let mut browser = Browser::logged_in(&server).await;
    server.add_message("INBOX", &message("zed@example.org", "Quarterly report", "numbers"), true, 1).await;
    server.add_message("INBOX", &message("Ann Other <ann@example.org>", "lunch", "see you"), true, 2).await;
    let html = "From: bob@example.org\nSubject: hello\nContent-Type: text/html\n\n<p>the <b>secret</b> password</p>\n";
    server.add_message("INBOX", html, true, 3).await;
    let search = |q: &str| format!("/mail/INBOX?q={q}");
    assert_eq!(subjects(&browser.get(&search("QUARTERLY")).await.body), ["Quarterly report"]);
    assert_eq!(subjects(&browser.get(&search("ann%20other")).await.body), ["lunch"]);
    assert_eq!(subjects(&browser.get(&search("zed%40example")).await.body), ["Quarterly report"]);
    assert_eq!(subjects(&browser.get(&search("secret%20password")).await.body), ["hello"]);
    let none = browser.get(&search("nothing-like-this")).await;
    assert!(subjects(&none.body).is_empty() && none.body.contains("No messages match."));
    // The search text is shown back escaped.
    let page = browser.get(&search("%3Cscript%3Ealert(1)%3C%2Fscript%3E")).await;
    assert!(!page.body.contains("<script>"));
    assert!(page.body.contains("value=\"&#60;script&#62;alert(1)&#60;/script&#62;\""), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn script_in_subjects_and_folder_names_is_shown_escaped() {
    let server = Server::start(WebmailConfig::default()).await;
    let mut browser = Browser::logged_in(&server).await;
    let evil = "<script>alert(1)</script>";
    server
        .add_message("INBOX", &message("\"<img src=x onerror=alert(2)>\" <x@example.org>", evil, "x"), false, 1)
        .await;
    server.create_mailbox("<b onmouseover=alert(3)>").await;
    let page = browser.get("/mail/INBOX").await;
    assert!(!page.body.contains("<script>alert(1)"), "{}", page.body);
    assert!(!page.body.contains("<img src=x"));
    assert!(!page.body.contains("<b onmouseover"));
    assert!(page.body.contains("href=\"/mail/%3Cb%20onmouseover%3Dalert%283%29%3E\""));
    let folder = browser.get("/mail/%3Cb%20onmouseover%3Dalert%283%29%3E").await;
    assert_eq!(folder.status, 200);
    assert!(!folder.body.contains("<b onmouseover"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_mailboxes_and_pages_are_404_pages() {
    let server = Server::start(WebmailConfig::default()).await;
    let mut browser = Browser::logged_in(&server).await;
    for path in ["/mail/Nonexistent", "/mail/..%2F..%2Fetc", "/nothing/here", "/static/..%2FCargo.toml"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(page.body.contains("<h1>Not found</h1>"));
    }
    let css = browser.get("/static/webmail.css").await;
    assert_eq!((css.status, css.headers["content-type"].to_str().unwrap()), (200, "text/css; charset=utf-8"));
    // Without a session every page sends to the login page.
    let mut stranger = Browser::new(&server);
    assert_eq!(stranger.get("/mail/Nonexistent").await.location.as_deref(), Some("/login"));
    assert_eq!(stranger.get("/settings").await.location.as_deref(), Some("/login"));
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_requests_get_413_with_the_limit() {
    // Forms other than compose have the small form limit, whatever max_upload is.
    let server = Server::start(WebmailConfig { max_upload: 10_000_000, ..WebmailConfig::default() }).await;
    let mut browser = Browser::logged_in(&server).await;
    let big = "x".repeat(webmail::FORM_LIMIT + 1);
    let page = browser.post("/settings", &[("csrf", "x"), ("current", &big)]).await;
    assert_eq!(page.status, 413);
    assert!(page.body.contains(&format!("{} bytes", webmail::FORM_LIMIT)), "{}", page.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn password_change_checks_the_token_and_the_current_password() {
    let server = Server::start(WebmailConfig::default()).await;
    let mut browser = Browser::logged_in(&server).await;
    let mut other_session = Browser::logged_in(&server).await;
    let settings = browser.get("/settings").await;
    assert!(settings.body.contains("<form id=\"password\" method=\"post\" action=\"/settings\""));
    let csrf = csrf_of(&settings.body);
    let new = "a-brand-new-password";
    let no_token = browser.post("/settings", &[("current", PASSWORD), ("new", new), ("confirm", new)]).await;
    assert_eq!(no_token.status, 403);
    let forged =
        browser.post("/settings", &[("csrf", "forged"), ("current", PASSWORD), ("new", new), ("confirm", new)]).await;
    assert_eq!(forged.status, 403);
    let wrong =
        browser.post("/settings", &[("csrf", &csrf), ("current", "wrong"), ("new", new), ("confirm", new)]).await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("The current password is wrong."));
    let mismatch =
        browser.post("/settings", &[("csrf", &csrf), ("current", PASSWORD), ("new", new), ("confirm", "other")]).await;
    assert_eq!(mismatch.status, 400);
    let short = browser
        .post("/settings", &[("csrf", &csrf), ("current", PASSWORD), ("new", "short"), ("confirm", "short")])
        .await;
    assert_eq!(short.status, 400);
    // Nothing changed so far.
    assert!(server.directory.authenticate(&account(ALICE), PASSWORD).await.unwrap().is_some());
    let done =
        browser.post("/settings", &[("csrf", &csrf), ("current", PASSWORD), ("new", new), ("confirm", new)]).await;
    assert_eq!((done.status, done.location.as_deref()), (303, Some("/settings?notice=password")));
    assert!(
        browser
            .get("/settings?notice=password")
            .await
            .body
            .contains("<p class=\"notice\" role=\"status\">Password changed.</p>")
    );
    assert!(server.directory.authenticate(&account(ALICE), PASSWORD).await.unwrap().is_none());
    assert!(server.directory.authenticate(&account(ALICE), new).await.unwrap().is_some());
    // The other session ended with the old password.
    assert_eq!(other_session.get("/mail/INBOX").await.location.as_deref(), Some("/login"));
    assert_eq!(Browser::new(&server).login(ALICE, new).await.status, 303);
}
