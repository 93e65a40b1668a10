//! The browser kit against a tiny axum site: a form is filled and sent,
//! the answer read, a cookie seen, a script run and a screenshot taken,
//! all in a real headless Chromium.

use super::*;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

const FORM: &str = r#"<!doctype html><html lang="en"><title>form</title>
<form id="hello" method="post" action="/hello"><label for="who">Who</label>
<input id="who" name="who"><button type="submit">Send</button></form></html>"#;

#[derive(serde::Deserialize)]
struct Hello {
    who: String,
}

async fn hello(axum::Form(form): axum::Form<Hello>) -> impl IntoResponse {
    // Escaped by hand: the test's answer must show the text, not run it.
    let who = form.who.replace('&', "&amp;").replace('<', "&lt;");
    (
        [(axum::http::header::SET_COOKIE, "greeted=yes; Path=/")],
        Html(format!("<!doctype html><p id=\"greeting\">Hello, {who}!</p>")),
    )
}

/// Serves the site on a thread of its own (the browser blocks on its own
/// runtime); the thread ends with the test process.
fn serve() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new()
                .route("/", get(|| async { Html(FORM) }))
                .route("/hello", axum::routing::post(hello));
            axum::serve(listener, app).await.unwrap();
        });
    });
    addr
}

#[test]
fn fills_and_sends_a_form_in_headless_chromium() {
    let addr = serve();
    let browser = Browser::start().unwrap();
    browser.goto(&format!("http://{addr}/")).unwrap();
    browser.wait_for("form#hello", DEFAULT_WAIT).unwrap();
    browser.fill("input[name=who]", "<b>Chromium</b>").unwrap();
    browser.click("button[type=submit]").unwrap();
    browser.wait_for("#greeting", DEFAULT_WAIT).unwrap();
    assert_eq!(browser.text("#greeting").unwrap(), "Hello, <b>Chromium</b>!");
    assert_eq!(browser.current_url().unwrap(), format!("http://{addr}/hello"));
    assert!(browser.cookies().unwrap().contains(&("greeted".to_owned(), "yes".to_owned())));
    assert_eq!(browser.count("b").unwrap(), 0, "the typed markup stays text");
    let title = browser.execute("return document.querySelector('#greeting').tagName", vec![]).unwrap();
    assert_eq!(title, serde_json::json!("P"));

    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("shots/hello.png");
    browser.screenshot(&png).unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG file");
}

#[test]
fn waiting_for_a_missing_element_fails_naming_it_and_the_page() {
    let addr = serve();
    let browser = Browser::start().unwrap();
    browser.goto(&format!("http://{addr}/")).unwrap();
    let error = browser.wait_for("#never", Duration::from_millis(300)).unwrap_err().to_string();
    assert!(error.contains("#never") && error.contains(&addr.to_string()), "{error}");
    assert!(browser.text("#never").is_err());
}
