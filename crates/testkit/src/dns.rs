//! A DNS server on loopback that serves a test zone, for code that looks
//! up MX and address records (outbound routing) without any network.
//!
//! Built on hickory-server 0.26: the zone is an `InMemoryZoneHandler`
//! rooted at `.` inside a `Catalog`, so every name the test did not add
//! answers NXDOMAIN with the zone's SOA, as a real authoritative server
//! would. The catalog is wrapped by [`FaultyHandler`], which answers
//! SERVFAIL, or nothing at all, for the names a test marks, before the
//! catalog sees the query: hickory's catalog has no way to fail on purpose.
//!
//! The server runs on a thread that owns its own tokio runtime, so blocking
//! tests and `#[tokio::test]`s alike can use it; dropping [`DnsServer`]
//! stops it and joins the thread.

use anyhow::anyhow;
use hickory_server::Server;
use hickory_server::net::runtime::{Time, TokioRuntimeProvider};
use hickory_server::proto::op::{Header, HeaderCounts, MessageType, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, MX, SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};
use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;

/// Every record gets this TTL; each test builds its own resolver, so
/// caching across tests is not a concern.
const TTL: u32 = 60;
/// The SOA minimum, which resolvers use as the negative-caching TTL.
const NEGATIVE_TTL: u32 = 5;

/// The records a [`DnsServer`] serves, and the names it misbehaves for.
/// Names are absolute whether or not they end with a dot.
#[derive(Debug, Default, Clone)]
pub struct Zone {
    records: Vec<Record>,
    servfail: HashSet<LowerName>,
    silent: HashSet<LowerName>,
}

impl Zone {
    pub fn new() -> Zone {
        Zone::default()
    }

    /// `name MX preference exchange`; an exchange of `.` is a null MX
    /// (RFC 7505).
    pub fn mx(mut self, name: &str, preference: u16, exchange: &str) -> Zone {
        let rdata = RData::MX(MX::new(preference, fqdn(exchange)));
        self.records.push(Record::from_rdata(fqdn(name), TTL, rdata));
        self
    }

    pub fn a(mut self, name: &str, address: Ipv4Addr) -> Zone {
        self.records.push(Record::from_rdata(fqdn(name), TTL, RData::A(A(address))));
        self
    }

    pub fn aaaa(mut self, name: &str, address: Ipv6Addr) -> Zone {
        self.records.push(Record::from_rdata(fqdn(name), TTL, RData::AAAA(AAAA(address))));
        self
    }

    pub fn cname(mut self, name: &str, target: &str) -> Zone {
        self.records.push(Record::from_rdata(fqdn(name), TTL, RData::CNAME(CNAME(fqdn(target)))));
        self
    }

    /// A name that exists without MX or address records.
    pub fn txt(mut self, name: &str, text: &str) -> Zone {
        let rdata = RData::TXT(TXT::new(vec![text.to_owned()]));
        self.records.push(Record::from_rdata(fqdn(name), TTL, rdata));
        self
    }

    /// Every query for `name` (any type) answers SERVFAIL.
    pub fn servfail(mut self, name: &str) -> Zone {
        self.servfail.insert(LowerName::new(&fqdn(name)));
        self
    }

    /// Every query for `name` (any type) is dropped unanswered, so the
    /// client times out.
    pub fn silent(mut self, name: &str) -> Zone {
        self.silent.insert(LowerName::new(&fqdn(name)));
        self
    }
}

/// A test name must parse; a typo in a test is a bug in the test.
fn fqdn(name: &str) -> Name {
    let mut parsed =
        Name::from_utf8(name).unwrap_or_else(|error| panic!("bad DNS name {name:?} in a test zone: {error}"));
    parsed.set_fqdn(true);
    parsed
}

/// A running DNS server on 127.0.0.1 (UDP and TCP on the same port).
pub struct DnsServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DnsServer {
    /// Binds UDP on an OS-chosen port and TCP on the same port, and serves
    /// `zone` until dropped. May be called inside or outside a runtime.
    pub fn start(zone: Zone) -> anyhow::Result<DnsServer> {
        let (udp, tcp) = bind_udp_and_tcp()?;
        let addr = udp.local_addr()?;
        let handler = FaultyHandler::new(zone)?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new().name(format!("dns-server-{addr}")).spawn(move || {
            let serve = || -> anyhow::Result<(tokio::runtime::Runtime, Server<FaultyHandler>)> {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                let _entered = runtime.enter();
                let mut server = Server::new(handler);
                server.register_socket(tokio::net::UdpSocket::from_std(udp)?);
                server.register_listener(tokio::net::TcpListener::from_std(tcp)?, Duration::from_secs(10), 64);
                Ok((runtime, server))
            };
            match serve() {
                Ok((runtime, server)) => {
                    let _ = ready_tx.send(Ok(()));
                    // A stop request, or the DnsServer gone without one.
                    let _ = runtime.block_on(stop_rx);
                    // Dropping the server aborts its tasks: no graceful
                    // wait for a resolver's idle TCP connection.
                    drop(server);
                }
                Err(error) => {
                    let _ = ready_tx.send(Err(error));
                }
            }
        })?;
        ready_rx.recv().map_err(|_| anyhow!("the DNS server thread died while starting"))??;
        Ok(DnsServer { addr, stop: Some(stop_tx), thread: Some(thread) })
    }

    /// The address to give a resolver (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// UDP first on port 0, then TCP on the port UDP got; another process may
/// hold that TCP port, so try a few times. Non-blocking, for tokio.
fn bind_udp_and_tcp() -> anyhow::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let mut last_error = None;
    for _ in 0..20 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
        match std::net::TcpListener::bind(udp.local_addr()?) {
            Ok(tcp) => {
                udp.set_nonblocking(true)?;
                tcp.set_nonblocking(true)?;
                return Ok((udp, tcp));
            }
            Err(error) => last_error = Some(error),
        }
    }
    Err(anyhow!("no port free for both UDP and TCP: {last_error:?}"))
}

/// The zone's catalog, with SERVFAIL and silence for the marked names.
struct FaultyHandler {
    catalog: Catalog,
    servfail: HashSet<LowerName>,
    silent: HashSet<LowerName>,
}

impl FaultyHandler {
    fn new(zone: Zone) -> anyhow::Result<FaultyHandler> {
        let root = Name::root();
        let mut handler =
            InMemoryZoneHandler::<TokioRuntimeProvider>::empty(root.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let soa = SOA::new(fqdn("ns.test"), fqdn("hostmaster.test"), 1, 3600, 600, 86400, NEGATIVE_TTL);
        let serial = 1;
        let records = std::iter::once(Record::from_rdata(root.clone(), TTL, RData::SOA(soa))).chain(zone.records);
        for record in records {
            let description = format!("{} {}", record.name, record.record_type());
            // upsert refuses a record that conflicts with the zone (a CNAME
            // beside other data); say which one.
            if !handler.upsert_mut(record, serial) {
                return Err(anyhow!("the test zone refused {description}"));
            }
        }
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&root), vec![Arc::new(handler)]);
        Ok(FaultyHandler { catalog, servfail: zone.servfail, silent: zone.silent })
    }
}

#[async_trait::async_trait]
impl RequestHandler for FaultyHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let name = request.request_info().ok().map(|info| info.query.name().clone());
        if let Some(name) = name {
            if self.silent.contains(&name) {
                // Nothing is sent; the info is only for hickory's logging.
                return no_response(request);
            }
            if self.servfail.contains(&name) {
                let response = MessageResponseBuilder::from_message_request(request)
                    .error_msg(&request.metadata, ResponseCode::ServFail);
                return match response_handle.send_response(response).await {
                    Ok(info) => info,
                    Err(_) => no_response(request),
                };
            }
        }
        self.catalog.handle_request::<R, T>(request, response_handle).await
    }
}

fn no_response(request: &Request) -> ResponseInfo {
    let mut metadata = Metadata::new(request.metadata.id, MessageType::Response, request.metadata.op_code);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header { metadata, counts: HeaderCounts::default() })
}
