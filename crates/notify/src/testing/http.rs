//! A tiny HTTP/1.1 server: reads one request per connection (request line,
//! headers, `Content-Length` body), records it, and answers with the next
//! status of a configured sequence. Chunked request bodies are not
//! understood: the crate's clients always send a `Content-Length`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{wait_until, Acceptor, IDLE_LIMIT};

/// One request as received.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReceivedRequest {
    pub method: String,
    /// Path and query, as on the request line.
    pub target: String,
    /// In order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ReceivedRequest {
    /// The first header called `name`, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON, `None` if it is not JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Handle of a running server; dropping it stops accepting connections.
pub struct HttpServer {
    acceptor: Acceptor,
    requests: Arc<Mutex<Vec<ReceivedRequest>>>,
}

impl HttpServer {
    /// Answers the i-th request with `statuses[i]`, and the ones after the
    /// last with the last status (200 when `statuses` is empty), with a short
    /// text body naming the status.
    pub fn start(statuses: &[u16]) -> (SocketAddr, HttpServer) {
        Self::start_inner(statuses, false)
    }

    /// Like [`HttpServer::start`], but each response body echoes the request
    /// (target, headers and body), as some careless servers do in errors: to
    /// test that secrets echoed back do not reach error messages.
    pub fn start_echoing(statuses: &[u16]) -> (SocketAddr, HttpServer) {
        Self::start_inner(statuses, true)
    }

    fn start_inner(statuses: &[u16], echo: bool) -> (SocketAddr, HttpServer) {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let sink = requests.clone();
        let statuses = statuses.to_vec();
        let acceptor = Acceptor::start(move |stream| {
            let _ = serve(stream, &statuses, echo, &sink);
        });
        (acceptor.addr, HttpServer { acceptor, requests })
    }

    pub fn addr(&self) -> SocketAddr {
        self.acceptor.addr
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.acceptor.addr)
    }

    /// Requests received so far, in order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Waits until at least `n` requests arrived; returns them, or what
    /// arrived by `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedRequest> {
        wait_until(timeout, || Some(self.requests()).filter(|r| r.len() >= n))
            .unwrap_or_else(|| self.requests())
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn serve(
    stream: TcpStream,
    statuses: &[u16],
    echo: bool,
    sink: &Mutex<Vec<ReceivedRequest>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IDLE_LIMIT))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let mut parts = line.split_whitespace();
    let mut req = ReceivedRequest {
        method: parts.next().unwrap_or("").to_string(),
        target: parts.next().unwrap_or("").to_string(),
        ..Default::default()
    };
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            req.headers
                .push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(16 << 20);
    let mut body = vec![0u8; len];
    input.read_exact(&mut body)?;
    req.body = body;

    let echoed = format!("{} {:?} {}", req.target, req.headers, req.body_str());
    let status = {
        let mut all = match sink.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        all.push(req);
        statuses
            .get(all.len() - 1)
            .or(statuses.last())
            .copied()
            .unwrap_or(200)
    };
    let text = if echo {
        format!("status {status}: {echoed}")
    } else {
        format!("status {status}")
    };
    let resp = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        reason(status),
        text.len()
    );
    out.write_all(resp.as_bytes())?;
    out.flush()
}
