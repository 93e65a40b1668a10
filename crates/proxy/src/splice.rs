//! After the login: bytes both ways until either side closes, or until
//! neither has sent anything for the protocol's idle timeout.

use crate::backend::BackendConn;
use crate::client::Io;
use bytes::BytesMut;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;

/// Splices `client` and `backend`. `client_early` is what the client sent
/// after its login command (pipelined), owed to the backend.
pub(crate) async fn splice(mut client: Box<dyn Io>, client_early: BytesMut, backend: BackendConn, idle: Duration) {
    let backend_addr = backend.addr;
    let (mut backend, backend_early) = backend.into_parts();
    if !client_early.is_empty() && backend.write_all(&client_early).await.is_err() {
        return;
    }
    if !backend_early.is_empty() && client.write_all(&backend_early).await.is_err() {
        return;
    }
    let activity = Arc::new(Activity::new());
    let mut client = Watched { inner: client, activity: activity.clone() };
    let mut backend = Watched { inner: backend, activity: activity.clone() };
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut client, &mut backend) => match copied {
            Ok((to_backend, to_client)) => {
                tracing::debug!(target: "proxy::splice", backend = %backend_addr, to_backend, to_client, "closed");
            }
            Err(e) => tracing::debug!(target: "proxy::splice", backend = %backend_addr, error = %e, "broken"),
        },
        _ = activity.idle_for(idle) => {
            tracing::debug!(target: "proxy::splice", backend = %backend_addr, "idle timeout");
        }
    }
}

/// When bytes last moved, in milliseconds since `start`.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self { start: Instant::now(), last_ms: AtomicU64::new(0) }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once nothing has moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A stream that records each read with data in the shared [`Activity`];
/// reads suffice, every byte written was first read from the other side.
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
