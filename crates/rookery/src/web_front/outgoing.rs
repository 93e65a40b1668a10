//! A request on its way to a backend, kept so that it can be sent again
//! when it can (see `WebFront::dispatch`).

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, Method, Uri, Version};
use webmail::PeerInfo;

/// A request on its way to a backend: streamed (one try: its body is
/// read as it is sent), or held whole (a login form, or no body at all),
/// which can be sent again to another member.
pub(super) enum Outgoing {
    Streamed(Request),
    Replayable(Replay),
}

#[derive(Clone)]
pub(super) struct Replay {
    pub(super) method: Method,
    pub(super) uri: Uri,
    pub(super) version: Version,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
    /// The connection's facts, for this member's own web mail.
    pub(super) peer: Option<PeerInfo>,
}

impl Outgoing {
    pub(super) fn of(request: Request, peer: Option<PeerInfo>) -> Outgoing {
        use axum::body::HttpBody;
        if request.body().size_hint().exact() != Some(0) {
            return Outgoing::Streamed(request);
        }
        let (parts, _) = request.into_parts();
        Outgoing::Replayable(Replay {
            method: parts.method,
            uri: parts.uri,
            version: parts.version,
            headers: parts.headers,
            body: Bytes::new(),
            peer,
        })
    }

    /// A copy to send again, when the body is held.
    pub(super) fn replay(&self) -> Option<Replay> {
        match self {
            Outgoing::Streamed(_) => None,
            Outgoing::Replayable(replay) => Some(replay.clone()),
        }
    }

    pub(super) fn request(self) -> Request {
        match self {
            Outgoing::Streamed(request) => request,
            Outgoing::Replayable(replay) => {
                let mut request = Request::new(Body::from(replay.body));
                *request.method_mut() = replay.method;
                *request.uri_mut() = replay.uri;
                *request.version_mut() = replay.version;
                *request.headers_mut() = replay.headers;
                if let Some(peer) = replay.peer {
                    request.extensions_mut().insert(ConnectInfo(peer));
                }
                request
            }
        }
    }
}
