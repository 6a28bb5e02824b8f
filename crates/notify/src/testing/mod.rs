//! Real loopback servers for tests: a tiny SMTP server and a tiny HTTP server
//! (plain `std::net`, one thread per connection), so that delivery is tested
//! through the real clients and sockets, not mocks.
//!
//! Compiled for this crate's tests and behind the `testing` feature, so the
//! extension's integration tests can point a channel at them. They listen on
//! 127.0.0.1 only, stop accepting when their handle is dropped, and each
//! connection gives up after [`IDLE_LIMIT`] of silence, so a test that
//! forgets one cannot hang.

mod http;
mod mail;
mod smtp;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

pub use http::{HttpServer, ReceivedRequest};
pub use mail::ReceivedMail;
pub use smtp::{SmtpOptions, SmtpServer};

/// How long a server connection waits for the client before hanging up.
pub const IDLE_LIMIT: Duration = Duration::from_secs(30);

/// An address where nothing listens (connection refused): a port that was
/// just bound and released.
pub fn refused_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 9)))
}

/// A server that accepts connections and never says a word, to test
/// timeouts. Connections are held open until the handle is dropped or for
/// [`IDLE_LIMIT`].
pub struct SilentServer {
    acceptor: Acceptor,
}

impl SilentServer {
    pub fn start() -> (SocketAddr, SilentServer) {
        let acceptor = Acceptor::start(|stream| {
            let _ = stream.set_read_timeout(Some(IDLE_LIMIT));
            let mut buf = [0u8; 1024];
            // Swallow whatever comes until the client gives up.
            while matches!(std::io::Read::read(&mut &stream, &mut buf), Ok(n) if n > 0) {}
        });
        (acceptor.addr, SilentServer { acceptor })
    }

    pub fn addr(&self) -> SocketAddr {
        self.acceptor.addr
    }
}

/// Polls `f` until it returns `Some` or `timeout` passes: servers record what
/// they received on their own threads, slightly after the client returns.
pub fn wait_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The accept loop shared by the servers: one thread per connection, stopped
/// by a flag plus a self-connection to wake the blocking `accept`.
struct Acceptor {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Acceptor {
    fn start(handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Acceptor {
        // Tests cannot run without a loopback port; say so plainly.
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("bind a loopback port for a test server");
        let addr = listener
            .local_addr()
            .expect("local address of a bound listener");
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = Arc::new(handle);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let h = handle.clone();
                thread::spawn(move || h(stream));
            }
        });
        Acceptor { addr, stop }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}
