//! The PROXY protocol v2 header a frontend opens each backend connection
//! with, built with the `ppp` crate the backends parse it with. The
//! binary form is used because it is the one that can carry more than
//! addresses: the PP2_TYPE_SSL TLV says whether the client used TLS on
//! the frontend (a backend may let that stand in for its own TLS when it
//! decides whether a plaintext login is allowed).

use ppp::v2::{Builder, Command, Protocol, Type, Version};
use std::net::SocketAddr;

/// PP2_CLIENT_SSL: the client connected over TLS.
const PP2_CLIENT_SSL: u8 = 0x01;

/// The header naming `client` as the source and `frontend` (the address
/// the client connected to) as the destination.
pub(crate) fn v2_header(client: SocketAddr, frontend: SocketAddr, client_tls: bool) -> std::io::Result<Vec<u8>> {
    // Both ends must be of one family; a v4 client of a dual-stack
    // listener shows up v4-mapped, which the header cannot mix.
    let (client, frontend) = same_family(client, frontend);
    let builder = Builder::with_addresses(Version::Two | Command::Proxy, Protocol::Stream, (client, frontend));
    let builder = if client_tls {
        // client flags (1 byte), verify result (4 bytes, 0 = verified or
        // no certificate asked), no sub-TLVs.
        builder.write_tlv(Type::SSL, &[PP2_CLIENT_SSL, 0, 0, 0, 0])?
    } else {
        builder
    };
    builder.build()
}

fn same_family(client: SocketAddr, frontend: SocketAddr) -> (SocketAddr, SocketAddr) {
    let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    let (client, frontend) = (canonical(client), canonical(frontend));
    match (client, frontend) {
        (SocketAddr::V4(_), SocketAddr::V6(f)) => {
            (client, SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), f.port()))
        }
        (SocketAddr::V6(_), SocketAddr::V4(f)) => {
            (client, SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), f.port()))
        }
        _ => (client, frontend),
    }
}

#[cfg(test)]
mod tests;
