//! The handshake: version negotiation and mutual proof of the cluster
//! secret, before any request.
//!
//! ```text
//! client -> Hello     { magic, versions it speaks, client nonce Nc }
//! server -> Challenge { chosen version, server nonce Ns,
//!                       HMAC(secret, "server" transcript) }
//!        or Refused   { NoCommonVersion { versions the server speaks } }
//! client -> Proof     { HMAC(secret, "client" transcript) }
//!        or Refused   { BadProof }            (the server's proof was wrong)
//! server -> Welcome
//!        or Refused   { BadProof }
//! ```
//!
//! The transcript is the role, the offered versions, Nc, the chosen version
//! and Ns. Each side's proof covers a nonce the other side just drew, so a
//! recorded handshake replayed later fails; the role label keeps one side's
//! proof from being reflected as the other's; covering the offered
//! versions keeps a man in the middle from forcing an older version. The
//! secret itself never crosses the wire.

use super::config::ClusterSecret;
use super::conn::{Conn, ConnError};
use super::frame::Kind;
use bytes::Bytes;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// Versions this build speaks, oldest first; the highest common one wins.
/// Version 2 added remote mailbox access (`mailbox.rs`).
pub const SUPPORTED_VERSIONS: &[u16] = &[1, 2];
/// "RKLK": tells a stray client (or a member of another product) apart at
/// once.
const MAGIC: u32 = 0x524b_4c4b;
type Nonce = [u8; 32];
type Tag = [u8; 32];

#[derive(Debug, Serialize, Deserialize)]
struct Hello {
    magic: u32,
    versions: Vec<u16>,
    nonce: Nonce,
}

#[derive(Debug, Serialize, Deserialize)]
struct Challenge {
    version: u16,
    nonce: Nonce,
    proof: Tag,
}

#[derive(Debug, Serialize, Deserialize)]
struct Proof {
    proof: Tag,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Refusal {
    NoCommonVersion { versions: Vec<u16> },
    BadProof,
    NotALinkClient,
}

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("no common protocol version: we speak {ours:?}, the peer speaks {theirs:?}")]
    NoCommonVersion { ours: Vec<u16>, theirs: Vec<u16> },
    /// The peer's proof does not match our secret.
    #[error("the peer does not prove the cluster secret")]
    BadProof,
    /// The peer found our proof wrong: the secrets differ.
    #[error("the peer does not accept our proof of the cluster secret")]
    ProofRejected,
    #[error("handshake protocol violation: {0}")]
    Protocol(String),
    #[error("no random numbers for a nonce")]
    Random,
    #[error(transparent)]
    Conn(#[from] ConnError),
}

fn nonce(random: &SystemRandom) -> Result<Nonce, HandshakeError> {
    let mut nonce = [0; 32];
    random.fill(&mut nonce).map_err(|_| HandshakeError::Random)?;
    Ok(nonce)
}

fn transcript(role: &str, offered: &[u16], client_nonce: &Nonce, version: u16, server_nonce: &Nonce) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(128);
    bytes.extend_from_slice(b"rookery cluster link ");
    bytes.extend_from_slice(role.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(&(offered.len() as u32).to_be_bytes());
    for version in offered {
        bytes.extend_from_slice(&version.to_be_bytes());
    }
    bytes.extend_from_slice(client_nonce);
    bytes.extend_from_slice(&version.to_be_bytes());
    bytes.extend_from_slice(server_nonce);
    bytes
}

fn sign(secret: &ClusterSecret, transcript: &[u8]) -> Tag {
    let mut tag = [0; 32];
    tag.copy_from_slice(hmac::sign(secret.key(), transcript).as_ref());
    tag
}

/// Constant-time, so timing tells an attacker nothing about the tag.
fn verify(secret: &ClusterSecret, transcript: &[u8], tag: &Tag) -> bool {
    hmac::verify(secret.key(), transcript, tag).is_ok()
}

async fn send<T: Serialize>(conn: &mut Conn, kind: Kind, message: &T) -> Result<(), HandshakeError> {
    let meta = postcard::to_stdvec(message).map_err(|e| HandshakeError::Protocol(e.to_string()))?;
    conn.write_frame(kind, 0, &meta, &Bytes::new()).await?;
    Ok(())
}

fn parse<'a, T: Deserialize<'a>>(meta: &'a [u8]) -> Result<T, HandshakeError> {
    postcard::from_bytes(meta).map_err(|e| HandshakeError::Protocol(e.to_string()))
}

/// The connecting side; returns the version agreed on.
pub async fn client(conn: &mut Conn, secret: &ClusterSecret, versions: &[u16]) -> Result<u16, HandshakeError> {
    let random = SystemRandom::new();
    let hello = Hello { magic: MAGIC, versions: versions.to_vec(), nonce: nonce(&random)? };
    send(conn, Kind::Hello, &hello).await?;
    let frame = conn.read_frame().await?;
    let challenge: Challenge = match frame.kind {
        Kind::Challenge => parse(&frame.meta)?,
        Kind::Refused => {
            return Err(match parse(&frame.meta)? {
                Refusal::NoCommonVersion { versions: theirs } => {
                    HandshakeError::NoCommonVersion { ours: versions.to_vec(), theirs }
                }
                Refusal::BadProof => HandshakeError::ProofRejected,
                Refusal::NotALinkClient => {
                    HandshakeError::Protocol("the peer did not take us for a link client".into())
                }
            });
        }
        kind => return Err(HandshakeError::Protocol(format!("expected a challenge, got {kind:?}"))),
    };
    if !versions.contains(&challenge.version) {
        return Err(HandshakeError::Protocol(format!("the peer chose version {} we never offered", challenge.version)));
    }
    let server_transcript = transcript("server", versions, &hello.nonce, challenge.version, &challenge.nonce);
    if !verify(secret, &server_transcript, &challenge.proof) {
        // Tell the peer, so that its operator sees why as well.
        let _ = send(conn, Kind::Refused, &Refusal::BadProof).await;
        return Err(HandshakeError::BadProof);
    }
    let client_transcript = transcript("client", versions, &hello.nonce, challenge.version, &challenge.nonce);
    send(conn, Kind::Proof, &Proof { proof: sign(secret, &client_transcript) }).await?;
    let frame = conn.read_frame().await?;
    match frame.kind {
        Kind::Welcome => {
            conn.established();
            conn.version = challenge.version;
            Ok(challenge.version)
        }
        Kind::Refused => Err(HandshakeError::ProofRejected),
        kind => Err(HandshakeError::Protocol(format!("expected a welcome, got {kind:?}"))),
    }
}

/// The accepting side; returns the version agreed on. Nothing but
/// handshake frames is read before it succeeds.
pub async fn server(conn: &mut Conn, secret: &ClusterSecret, versions: &[u16]) -> Result<u16, HandshakeError> {
    let frame = conn.read_frame().await?;
    let hello: Hello = match (frame.kind, parse::<Hello>(&frame.meta)) {
        (Kind::Hello, Ok(hello)) if hello.magic == MAGIC => hello,
        _ => {
            let _ = send(conn, Kind::Refused, &Refusal::NotALinkClient).await;
            return Err(HandshakeError::Protocol("the first frame is not a link hello".into()));
        }
    };
    let Some(version) = versions.iter().copied().filter(|v| hello.versions.contains(v)).max() else {
        let _ = send(conn, Kind::Refused, &Refusal::NoCommonVersion { versions: versions.to_vec() }).await;
        return Err(HandshakeError::NoCommonVersion { ours: versions.to_vec(), theirs: hello.versions });
    };
    let server_nonce = nonce(&SystemRandom::new())?;
    let server_transcript = transcript("server", &hello.versions, &hello.nonce, version, &server_nonce);
    let challenge = Challenge { version, nonce: server_nonce, proof: sign(secret, &server_transcript) };
    send(conn, Kind::Challenge, &challenge).await?;
    let frame = conn.read_frame().await?;
    let proof: Proof = match frame.kind {
        Kind::Proof => parse(&frame.meta)?,
        Kind::Refused => return Err(HandshakeError::ProofRejected),
        kind => return Err(HandshakeError::Protocol(format!("expected a proof, got {kind:?}"))),
    };
    let client_transcript = transcript("client", &hello.versions, &hello.nonce, version, &server_nonce);
    if !verify(secret, &client_transcript, &proof.proof) {
        let _ = send(conn, Kind::Refused, &Refusal::BadProof).await;
        return Err(HandshakeError::BadProof);
    }
    send(conn, Kind::Welcome, &()).await?;
    conn.established();
    conn.version = version;
    Ok(version)
}

#[cfg(test)]
mod tests;
