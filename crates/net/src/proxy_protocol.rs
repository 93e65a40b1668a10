//! The HAProxy PROXY protocol (v1 text, v2 binary) on connections from
//! trusted load balancers, so that the real client address reaches the
//! per-IP limit, the sessions and the logs.
//!
//! Only connections from a [`TrustedProxies`] address are parsed for a
//! header, and they must start with one: anyone else could claim any
//! address. Parsing is the `ppp` crate's (Apache-2.0, no dependency but
//! thiserror, builds on our Rust): it reads both versions from a borrowed
//! slice and tells an incomplete header from a malformed one, which is what
//! reading a header split over several TCP segments needs, and it skips v2
//! TLVs without interpreting them. What it does not do is bound a v2
//! header (its length field allows 64 KiB), so [`parse`] caps that first.

use bytes::BytesMut;
use ipnet::IpNet;
use ppp::{HeaderResult, PartialResult, v1, v2};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest v2 header accepted, TLVs included. HAProxy's own TLVs
/// (ALPN, authority, SSL details, unique id) fit easily; a load balancer
/// that sends more is misconfigured, and a longer wait would only hold
/// memory for a connection that has not said anything yet.
pub const MAX_V2_HEADER: usize = 4096;

/// The v2 signature, the 12 bytes every binary header starts with.
const V2_SIGNATURE: &[u8] = v2::PROTOCOL_PREFIX;
/// Signature, version/command, family/protocol and the 16-bit length.
const V2_FIXED: usize = 16;

/// Load balancers allowed to speak the PROXY protocol to a listener: a
/// connection from one of these addresses must begin with a header, and the
/// address in it becomes the connection's client address.
#[derive(Debug, Clone)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header_timeout: Duration,
}

/// An entry of a trusted-proxy list that is not an address or a network.
#[derive(Debug, thiserror::Error)]
#[error("{entry:?} is neither an IP address nor a network such as 10.0.0.0/8")]
pub struct TrustedProxiesError {
    pub entry: String,
}

impl Default for TrustedProxies {
    fn default() -> Self {
        Self { nets: Vec::new(), header_timeout: Self::DEFAULT_HEADER_TIMEOUT }
    }
}

impl TrustedProxies {
    /// A load balancer writes the header at once; a peer that has not
    /// completed it in this time is not one.
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        Self { nets: nets.into_iter().collect(), ..Self::default() }
    }

    /// Parses a configured list: each entry a network (`10.0.0.0/8`,
    /// `2001:db8::/32`) or a single address (`192.0.2.7`).
    pub fn parse<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Result<Self, TrustedProxiesError> {
        let nets = entries
            .into_iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| TrustedProxiesError { entry: entry.to_owned() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(nets))
    }

    /// How long a trusted peer has to send its whole header.
    pub fn with_header_timeout(self, header_timeout: Duration) -> Self {
        Self { header_timeout, ..self }
    }

    pub fn header_timeout(&self) -> Duration {
        self.header_timeout
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether connections from `ip` must carry a header. An IPv4 peer
    /// accepted on a dual-stack socket shows as `::ffff:a.b.c.d`; it is
    /// matched as the IPv4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }
}

/// Why a trusted peer's connection was closed before its session began.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("no complete PROXY protocol header within {0:?}")]
    Timeout(Duration),
    #[error("connection closed before the PROXY protocol header was complete")]
    Closed,
    #[error("reading the PROXY protocol header: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed PROXY protocol header: {0}")]
    Malformed(String),
}

/// What the bytes at the start of a trusted connection hold so far.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// A header may still complete with more bytes.
    Incomplete,
    /// A whole header of `len` bytes. `client` is the address it carries,
    /// or `None` when the connection's own address stands (v1 `UNKNOWN`,
    /// v2 `LOCAL`, v2 families with no IP address).
    Complete { len: usize, client: Option<SocketAddr> },
    /// No header can start this way.
    Malformed(String),
}

/// Parses the PROXY protocol header at the front of `input`.
pub(crate) fn parse(input: &[u8]) -> Parsed {
    if input.len() >= V2_FIXED && input.starts_with(V2_SIGNATURE) {
        let declared = usize::from(u16::from_be_bytes([input[14], input[15]]));
        if V2_FIXED + declared > MAX_V2_HEADER {
            return Parsed::Malformed(format!("v2 header of {} bytes, more than {MAX_V2_HEADER}", V2_FIXED + declared));
        }
    }
    let result = HeaderResult::parse(input);
    if result.is_incomplete() {
        return Parsed::Incomplete;
    }
    match result {
        HeaderResult::V1(Ok(header)) => {
            let client = match header.addresses {
                v1::Addresses::Tcp4(a) => Some(SocketAddr::new(a.source_address.into(), a.source_port)),
                v1::Addresses::Tcp6(a) => Some(SocketAddr::new(a.source_address.into(), a.source_port)),
                v1::Addresses::Unknown => None,
            };
            Parsed::Complete { len: header.header.len(), client }
        }
        HeaderResult::V2(Ok(header)) => {
            let len = header.len();
            if header.command == v2::Command::Local {
                // Health checks of the load balancer itself.
                return Parsed::Complete { len, client: None };
            }
            if header.protocol == v2::Protocol::Datagram {
                return Parsed::Malformed("v2 header for a datagram on a stream connection".to_owned());
            }
            let client = match header.addresses {
                v2::Addresses::IPv4(a) => Some(SocketAddr::new(a.source_address.into(), a.source_port)),
                v2::Addresses::IPv6(a) => Some(SocketAddr::new(a.source_address.into(), a.source_port)),
                // The spec lets the receiver use the real endpoints for
                // families it does not support; a Unix path is no client
                // address we could count or log.
                v2::Addresses::Unspecified | v2::Addresses::Unix(_) => None,
            };
            Parsed::Complete { len, client }
        }
        // ppp judges some unfinished lines as if they were whole: one cut
        // just after the space that follows the source port fails on an
        // empty destination port. So a line that starts like a v1 header
        // is judged only once its CR is in (ppp stops at 107 bytes).
        HeaderResult::V1(Err(v1::BinaryParseError::Parse(e)))
            if !input.contains(&b'\r')
                && !matches!(e, v1::ParseError::InvalidPrefix | v1::ParseError::HeaderTooLong) =>
        {
            Parsed::Incomplete
        }
        HeaderResult::V1(Err(e)) => Parsed::Malformed(e.to_string()),
        HeaderResult::V2(Err(e)) => Parsed::Malformed(e.to_string()),
    }
}

/// What a trusted peer's header said about the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientFacts {
    /// The client's address; `None`: the connection's own address stands.
    pub(crate) addr: Option<SocketAddr>,
    /// The client reached the sender over TLS (v2 `PP2_TYPE_SSL` with
    /// `PP2_CLIENT_SSL`): a TLS-terminating balancer, or a Rookery
    /// frontend that did STARTTLS with the client. The session then takes
    /// the connection as encrypted, e.g. for plaintext logins.
    pub(crate) tls: bool,
}

/// `PP2_TYPE_SSL` and its `PP2_CLIENT_SSL` flag (PROXY protocol §2.2.5).
const PP2_TYPE_SSL: u8 = 0x20;
const PP2_CLIENT_SSL: u8 = 0x01;

/// Whether a whole v2 `header` says the client used TLS; false for v1.
pub(crate) fn client_used_tls(header: &[u8]) -> bool {
    let Ok(header) = v2::Header::try_from(header) else { return false };
    header
        .tlvs()
        .flatten()
        .any(|tlv| tlv.kind == PP2_TYPE_SSL && tlv.value.first().is_some_and(|flags| flags & PP2_CLIENT_SSL != 0))
}

/// Reads the header a trusted peer must send first. Returns what it says
/// about the client and the bytes read after the header, which belong to
/// the session.
pub(crate) async fn read_header<R: AsyncRead + Unpin>(
    stream: &mut R,
    timeout: Duration,
) -> Result<(ClientFacts, BytesMut), HeaderError> {
    match tokio::time::timeout(timeout, read_until_complete(stream)).await {
        Ok(result) => result,
        Err(_) => Err(HeaderError::Timeout(timeout)),
    }
}

async fn read_until_complete<R: AsyncRead + Unpin>(stream: &mut R) -> Result<(ClientFacts, BytesMut), HeaderError> {
    // A v1 header fits in 107 bytes and most v2 headers in a few hundred:
    // one read usually brings the whole header and the client's first
    // bytes, which stay in the buffer for the session.
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        match parse(&buf) {
            Parsed::Complete { len, client } => {
                let header = buf.split_to(len);
                return Ok((ClientFacts { addr: client, tls: client_used_tls(&header) }, buf));
            }
            Parsed::Malformed(reason) => return Err(HeaderError::Malformed(reason)),
            Parsed::Incomplete => {}
        }
        // ppp bounds v1 at 107 bytes and `parse` bounds v2; this guards
        // against anything that slips between them.
        if buf.len() >= MAX_V2_HEADER {
            return Err(HeaderError::Malformed(format!("no header within {MAX_V2_HEADER} bytes")));
        }
        buf.reserve(1024);
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(HeaderError::Closed);
        }
    }
}

#[cfg(test)]
mod tests;
