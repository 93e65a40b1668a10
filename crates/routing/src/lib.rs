//! Where outbound mail for a domain goes (RFC 5321 §5): the `[outbound]`
//! configuration ([`OutboundConfig`]) and the [`Router`] that turns a
//! recipient domain into the ordered list of [`Destination`]s (host name,
//! socket address, preference) that the SMTP client should try.
//!
//! The rules, first match wins: a static route for the domain, the relay
//! ("smarthost") or forward-to hosts, an address literal (`[192.0.2.1]`)
//! as is, and otherwise DNS: MX records by preference, equal preferences
//! shuffled, each host's AAAA and A records; no MX means the domain's own
//! addresses (implicit MX). Failures are [`RouteError`]s that say whether
//! to try again later and carry the enhanced status code for the DSN.
//!
//! This crate owns DNS lookups for mail routing and nothing else: it does
//! not connect to the destinations, does not decide retries, and caches
//! nothing itself (hickory's bounded cache honours the records' TTLs).
#![forbid(unsafe_code)]

mod config;
mod destination;
mod dns;
mod domain;
mod error;
mod host;
mod mx;
mod route_table;
mod router;

pub use config::OutboundConfig;
pub use destination::{Destination, MAX_ADDRESSES, MAX_ADDRESSES_PER_HOST, MAX_MX_HOSTS};
pub use error::{ConfigError, RouteError};
pub use host::{ForwardTarget, HostSpec};
pub use router::Router;
