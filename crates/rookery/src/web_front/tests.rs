//! Routing decisions of the web front, in process: a valid cookie goes to
//! its account's backend, a forged one never leaves the member, a login
//! goes by the form's user name, and a backend that is down gets the 503
//! page. The backends are small axum servers on loopback that say who
//! they are and what they received.

use super::*;
use axum::body::Body;
use axum::http::{HeaderMap, Method};
use axum::http::{StatusCode, header};
use http_body_util::BodyExt;
use proxy::StaticBackends;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use webmail::SessionCookie;

const SECRET: &[u8] = b"the cluster secret of the tests";

fn account(name: &str) -> AccountName {
    AccountName::parse(name, None).unwrap()
}

fn domain() -> DomainName {
    DomainName::parse("test.example").unwrap()
}

/// A backend that answers `<name> <method> <path> xff=<X-Forwarded-For>
/// host=<X-Forwarded-Host> body=<bytes received>` and counts requests.
struct FakeBackend {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

async fn backend(name: &'static str) -> FakeBackend {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().fallback(move |request: Request| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            // Read before the await: a request body is not Sync.
            let (xff, host) = {
                let header = |n: &str| request.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
                (header("x-forwarded-for"), header("x-forwarded-host"))
            };
            let (method, path) = (request.method().clone(), request.uri().to_string());
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let start = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
            format!("{name} {method} {path} xff={xff} host={host} body={} start={start}", body.len())
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    FakeBackend { addr, hits }
}

/// A front routing alice to `a` and bob to `b` (carol nowhere).
fn front(a: SocketAddr, b: SocketAddr) -> Arc<WebFront> {
    let lookup = StaticBackends::new().with(account("alice@test.example"), Protocol::Web, a).with(
        account("bob@test.example"),
        Protocol::Web,
        b,
    );
    Arc::new(WebFront::new(WebFrontParts {
        lookup: Box::new(lookup),
        key: CookieKey::derive(SECRET),
        main_domain: domain(),
        proxies: net::TrustedProxies::default(),
        members: net::TrustedProxies::default(),
        local: None,
        source: None,
    }))
}

fn cookie(name: &str, key: &CookieKey) -> String {
    let value = SessionCookie { account: account(name), id: "session-1".into() }.encode(key);
    format!("{}={value}", webmail::COOKIE_NAME)
}

/// Sends a request through the front as the browser at 192.0.2.7 would.
async fn send(
    front: &Arc<WebFront>,
    request: axum::http::request::Builder,
    body: Body,
) -> (StatusCode, HeaderMap, String) {
    let mut request = request.header(header::HOST, "mail.test.example").body(body).unwrap();
    let peer = PeerInfo { addr: SocketAddr::from(([192, 0, 2, 7], 40000)), tls: false };
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = front.clone().router().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&body).into_owned())
}

fn get(path: &str) -> axum::http::request::Builder {
    Request::builder().method(Method::GET).uri(path)
}

#[test]
fn route_decides_by_login_form_then_cookie() {
    let key = CookieKey::derive(SECRET);
    let mut headers = HeaderMap::new();
    assert_eq!(route::route(&Method::GET, "/mail/INBOX", &headers, &key), Route::Public);
    assert_eq!(route::route(&Method::POST, "/login", &headers, &key), Route::Login);
    assert_eq!(route::route(&Method::GET, "/favicon.ico", &headers, &key), Route::NotFound);
    headers.insert(header::COOKIE, cookie("alice@test.example", &key).parse().unwrap());
    assert_eq!(
        route::route(&Method::GET, "/mail/INBOX", &headers, &key),
        Route::Account(account("alice@test.example"))
    );
    // A login goes by its form, whatever cookie the browser still has.
    assert_eq!(route::route(&Method::POST, "/login", &headers, &key), Route::Login);
    let forged = CookieKey::derive(b"somebody else's secret");
    headers.insert(header::COOKIE, cookie("alice@test.example", &forged).parse().unwrap());
    assert_eq!(route::route(&Method::GET, "/mail/INBOX", &headers, &key), Route::Public);
    headers.insert(header::COOKIE, "rookery_session=garbage.x.y".parse().unwrap());
    assert_eq!(route::route(&Method::GET, "/mail/INBOX", &headers, &key), Route::Public);
}

#[test]
fn the_login_form_names_the_account_qualified_with_the_main_domain() {
    let d = domain();
    assert_eq!(login_form::account(b"username=alice&password=x&csrf=t", &d), Some(account("alice@test.example")));
    assert_eq!(login_form::account(b"csrf=t&username=Bob%40Other.Example", &d), Some(account("bob@other.example")));
    assert_eq!(login_form::account(b"username=+carol+&password=a%26b", &d), Some(account("carol@test.example")));
    assert_eq!(login_form::account(b"password=x", &d), None);
    assert_eq!(login_form::account(b"username=a%20b%40c", &d), None);
    assert_eq!(login_form::account(b"username=%ff%fe", &d), None);
    assert_eq!(login_form::account(b"", &d), None);
}

#[tokio::test]
async fn a_login_form_over_16_kib_is_refused_unread() {
    let mut headers = HeaderMap::new();
    let big = vec![b'a'; login_form::MAX_LOGIN_FORM + 1];
    assert_eq!(login_form::read(&headers, Body::from(big.clone())).await, Err(login_form::FormError::TooLarge));
    headers.insert(header::CONTENT_LENGTH, "1000000".parse().unwrap());
    assert_eq!(login_form::read(&headers, Body::empty()).await, Err(login_form::FormError::TooLarge));
    let ok = login_form::read(&HeaderMap::new(), Body::from("username=a")).await.unwrap();
    assert_eq!(&ok[..], b"username=a");
}

#[tokio::test]
async fn a_valid_cookie_reaches_its_accounts_backend_with_forwarded_headers() {
    let (a, b) = (backend("A").await, backend("B").await);
    let front = front(a.addr, b.addr);
    let key = CookieKey::derive(SECRET);
    let request = get("/mail/INBOX?page=2").header(header::COOKIE, cookie("alice@test.example", &key));
    // A forged X-Forwarded-For from the browser is replaced.
    let request = request.header("x-forwarded-for", "10.9.9.9");
    let (status, _, body) = send(&front, request, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("A GET /mail/INBOX?page=2 xff=192.0.2.7 host=mail.test.example"), "{body}");
    let (_, _, body) =
        send(&front, get("/mail/INBOX").header(header::COOKIE, cookie("bob@test.example", &key)), Body::empty()).await;
    assert!(body.starts_with("B GET /mail/INBOX"), "{body}");
    assert_eq!((a.hits.load(Ordering::SeqCst), b.hits.load(Ordering::SeqCst)), (1, 1));
}

#[tokio::test]
async fn a_forged_cookie_gets_the_public_pages_and_is_not_forwarded() {
    let (a, b) = (backend("A").await, backend("B").await);
    let front = front(a.addr, b.addr);
    let forged = CookieKey::derive(b"an attacker's own key");
    let request = get("/mail/INBOX").header(header::COOKIE, cookie("alice@test.example", &forged));
    let (status, headers, _) = send(&front, request, Body::empty()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers.get(header::LOCATION).unwrap(), "/login");
    let (status, _, page) = send(&front, get("/login"), Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"login\""), "{page}");
    assert_eq!(a.hits.load(Ordering::SeqCst) + b.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_login_goes_to_the_backend_of_the_forms_user_with_the_form_intact() {
    let (a, b) = (backend("A").await, backend("B").await);
    let front = front(a.addr, b.addr);
    let form = "username=bob&password=pw-bob&csrf=token";
    let request = Request::builder()
        .method(Method::POST)
        .uri("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        // A cookie of another account does not change where a login goes.
        .header(header::COOKIE, cookie("alice@test.example", &CookieKey::derive(SECRET)));
    let (_, _, body) = send(&front, request, Body::from(form)).await;
    assert!(
        body.starts_with(&format!("B POST /login xff=192.0.2.7 host=mail.test.example body={}", form.len())),
        "{body}"
    );
    assert!(body.ends_with("start=username=bob&password=pw-bob&csrf=token"), "{body}");
    assert_eq!(a.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_login_for_an_unknown_account_gets_the_failed_login_page_here() {
    let (a, b) = (backend("A").await, backend("B").await);
    let front = front(a.addr, b.addr);
    let request = Request::builder().method(Method::POST).uri("/login");
    let started = std::time::Instant::now();
    let (status, _, page) = send(&front, request, Body::from("username=carol&password=x&csrf=t")).await;
    assert!(started.elapsed() >= webmail::FAILED_LOGIN_DELAY, "as slow as a wrong password");
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("class=\"error\""), "{page}");
    assert_eq!(a.hits.load(Ordering::SeqCst) + b.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_large_body_streams_through_to_the_backend() {
    let (a, b) = (backend("A").await, backend("B").await);
    let front = front(a.addr, b.addr);
    let key = CookieKey::derive(SECRET);
    let big = vec![b'x'; 3 * 1024 * 1024];
    let request = Request::builder()
        .method(Method::POST)
        .uri("/compose")
        .header(header::COOKIE, cookie("alice@test.example", &key));
    let (_, _, body) = send(&front, request, Body::from(big)).await;
    assert!(
        body.starts_with(&format!("A POST /compose xff=192.0.2.7 host=mail.test.example body={}", 3 * 1024 * 1024)),
        "{body}"
    );
}

#[tokio::test]
async fn a_backend_that_is_down_gets_the_503_page() {
    let b = backend("B").await;
    // Nothing listens there: bound, then closed.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let front = front(dead, b.addr);
    let key = CookieKey::derive(SECRET);
    let (status, headers, page) =
        send(&front, get("/mail/INBOX").header(header::COOKIE, cookie("alice@test.example", &key)), Body::empty())
            .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.contains_key(header::RETRY_AFTER) && headers.contains_key(header::CONTENT_SECURITY_POLICY));
    assert!(page.contains("Temporarily unavailable"), "{page}");
}

#[test]
fn forwarded_headers_replace_the_clients_and_drop_hop_by_hop_ones() {
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, "mail.example".parse().unwrap());
    headers.insert("x-forwarded-for", "10.0.0.1, 10.0.0.2".parse().unwrap());
    headers.insert("x-forwarded-proto", "https".parse().unwrap());
    headers.insert(header::CONNECTION, "keep-alive, x-secret-hop".parse().unwrap());
    headers.insert("x-secret-hop", "1".parse().unwrap());
    headers.insert("forwarded", "for=10.0.0.3".parse().unwrap());
    forward::prepare_headers(&mut headers, &ClientFacts { ip: "2001:db8::7".parse().unwrap(), tls: false });
    assert_eq!(headers.get("x-forwarded-for").unwrap(), "2001:db8::7");
    assert_eq!(headers.get("x-forwarded-proto").unwrap(), "http");
    assert_eq!(headers.get("x-forwarded-host").unwrap(), "mail.example");
    assert_eq!(headers.get(header::HOST).unwrap(), "mail.example");
    for gone in ["connection", "x-secret-hop", "forwarded"] {
        assert!(!headers.contains_key(gone), "{gone}");
    }
}

/// A dynamic cluster's lookup in miniature: the owner is `first` until
/// the front reports it unreachable, then `then` (the member that took
/// the account over once the dead owner's lease was gone).
struct FailingOver {
    first: SocketAddr,
    then: SocketAddr,
    failed_over: std::sync::atomic::AtomicBool,
    reported: AtomicUsize,
}

#[async_trait::async_trait]
impl BackendLookup for FailingOver {
    async fn backend(&self, _: &AccountName, protocol: Protocol) -> Result<Option<Backend>, proxy::LookupError> {
        assert_eq!(protocol, Protocol::Web);
        let addr = if self.failed_over.load(Ordering::SeqCst) { self.then } else { self.first };
        Ok(Some(Backend::There(addr)))
    }

    async fn unreachable(&self, _: &AccountName, backend: Backend) -> bool {
        assert_eq!(backend, Backend::There(self.first));
        self.reported.fetch_add(1, Ordering::SeqCst);
        self.failed_over.store(true, Ordering::SeqCst);
        true
    }
}

#[tokio::test]
async fn a_request_without_a_body_waits_for_the_new_owner_when_the_old_one_is_down() {
    let survivor = backend("S").await;
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let lookup = Arc::new(FailingOver {
        first: dead,
        then: survivor.addr,
        failed_over: false.into(),
        reported: AtomicUsize::new(0),
    });
    let front = Arc::new(WebFront::new(WebFrontParts {
        lookup: Box::new(Shared(lookup.clone())),
        key: CookieKey::derive(SECRET),
        main_domain: domain(),
        proxies: net::TrustedProxies::default(),
        members: net::TrustedProxies::default(),
        local: None,
        source: None,
    }));
    let key = CookieKey::derive(SECRET);
    let (status, _, body) =
        send(&front, get("/mail/INBOX/7").header(header::COOKIE, cookie("alice@test.example", &key)), Body::empty())
            .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("S GET /mail/INBOX/7"), "{body}");
    assert_eq!(lookup.reported.load(Ordering::SeqCst), 1);

    // An upload cannot be sent twice (its body streamed into the dead
    // connection attempt): the user gets the 503 page, and the lookup is
    // not asked to wait.
    lookup.failed_over.store(false, Ordering::SeqCst);
    let upload = Request::builder()
        .method(Method::POST)
        .uri("/compose")
        .header(header::COOKIE, cookie("alice@test.example", &key));
    let (status, _, _) = send(&front, upload, Body::from(vec![b'x'; 1000])).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(lookup.reported.load(Ordering::SeqCst), 1);
    assert_eq!(survivor.hits.load(Ordering::SeqCst), 1);
}

/// Lets a test keep a handle on the lookup it gives away.
struct Shared<L>(Arc<L>);

#[async_trait::async_trait]
impl<L: BackendLookup> BackendLookup for Shared<L> {
    async fn backend(&self, account: &AccountName, protocol: Protocol) -> Result<Option<Backend>, proxy::LookupError> {
        self.0.backend(account, protocol).await
    }

    async fn unreachable(&self, account: &AccountName, backend: Backend) -> bool {
        self.0.unreachable(account, backend).await
    }
}

/// A lookup that always says "ask again" (a broken registry) and names a
/// dead backend each time.
struct NeverTakenOver {
    dead: SocketAddr,
    asked: AtomicUsize,
}

#[async_trait::async_trait]
impl BackendLookup for NeverTakenOver {
    async fn backend(&self, _: &AccountName, _: Protocol) -> Result<Option<Backend>, proxy::LookupError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(Some(Backend::There(self.dead)))
    }

    async fn unreachable(&self, _: &AccountName, _: Backend) -> bool {
        true
    }
}

#[tokio::test]
async fn a_lookup_that_keeps_saying_ask_again_does_not_hold_the_request_forever() {
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let lookup = Arc::new(NeverTakenOver { dead, asked: AtomicUsize::new(0) });
    let front = Arc::new(WebFront::new(WebFrontParts {
        lookup: Box::new(Shared(lookup.clone())),
        key: CookieKey::derive(SECRET),
        main_domain: domain(),
        proxies: net::TrustedProxies::default(),
        members: net::TrustedProxies::default(),
        local: None,
        source: None,
    }));
    let key = CookieKey::derive(SECRET);
    let (status, _, _) =
        send(&front, get("/mail/INBOX").header(header::COOKIE, cookie("alice@test.example", &key)), Body::empty())
            .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(lookup.asked.load(Ordering::SeqCst), MAX_TAKEOVERS);
}
