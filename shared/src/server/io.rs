//! The socket as hyper sees it: reads tell the connection's [`Activity`] that a
//! request is starting, and hyper's own bodiless answers to requests it could
//! not parse (400 bad header, 414 URI too long, 431 headers too large) are
//! rewritten with the plane's JSON error body. hyper offers no hook for those
//! answers: it writes them itself before any service runs.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::conn::Activity;

pub(super) struct TrackedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
    /// A replacement answer and how much of it is written; once set, whatever
    /// else hyper writes is dropped (it closes the connection after its answer).
    replaced: Option<(Vec<u8>, usize)>,
}

impl TrackedIo {
    pub(super) fn new(inner: TcpStream, activity: Arc<Activity>) -> Self {
        TrackedIo {
            inner,
            activity,
            replaced: None,
        }
    }

    /// Writes what is left of the replacement answer.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((bytes, done)) = &mut self.replaced {
            while *done < bytes.len() {
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*done..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *done += n;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replaced.is_none() && this.activity.no_request_in_flight() {
            if let Some(answer) = json_answer(buf) {
                this.replaced = Some((answer, 0));
            }
        }
        if this.replaced.is_some() {
            ready!(this.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
        let candidate =
            this.activity.no_request_in_flight() && AUTOMATIC.iter().any(|p| first.starts_with(p));
        if this.replaced.is_some() || candidate {
            // Inspect (and maybe replace) the head on its own; a short
            // vectored write is allowed.
            return Pin::new(this).poll_write(cx, first);
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The status lines hyper's automatic answers start with.
const AUTOMATIC: [&[u8]; 3] = [b"HTTP/1.1 400 ", b"HTTP/1.1 414 ", b"HTTP/1.1 431 "];

/// The JSON answer that replaces hyper's automatic one, when `head` is such an
/// answer: one of its three statuses, `connection: close` and an empty body.
/// The router never answers those statuses with an empty body, and no request
/// is in flight when this is asked, so nothing of the app's is ever replaced.
fn json_answer(head: &[u8]) -> Option<Vec<u8>> {
    let (status, reason, message) = if head.starts_with(b"HTTP/1.1 400 ") {
        (
            400,
            "Bad Request",
            "the request is not valid HTTP/1.1 (a malformed request line or header)",
        )
    } else if head.starts_with(b"HTTP/1.1 414 ") {
        (414, "URI Too Long", "the request URI is too long")
    } else if head.starts_with(b"HTTP/1.1 431 ") {
        (
            431,
            "Request Header Fields Too Large",
            "the request headers are too large",
        )
    } else {
        return None;
    };
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let lower = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    let automatic =
        lower.contains("\r\nconnection: close") && lower.contains("\r\ncontent-length: 0");
    if !automatic {
        return None;
    }
    let body =
        serde_json::json!({"error": {"type": "invalid_request", "message": message}}).to_string();
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::json_answer;

    #[test]
    fn only_hypers_bodiless_answers_are_replaced() {
        let auto = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let replaced = String::from_utf8(json_answer(auto).expect("replaced")).expect("utf8");
        assert!(replaced.starts_with("HTTP/1.1 431 "));
        assert!(replaced.contains(r#"{"error":{"#) && replaced.contains("invalid_request"));
        let app = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{";
        assert!(json_answer(app).is_none());
        assert!(json_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
