//! A tiny SMTP server: enough of RFC 5321 for one client to log in and send
//! mail in plain text (no STARTTLS), recording each message it accepts.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use super::{wait_until, Acceptor, ReceivedMail, IDLE_LIMIT};

/// What the server offers and how it answers.
#[derive(Debug, Clone, Default)]
pub struct SmtpOptions {
    /// Advertise `AUTH PLAIN LOGIN` and accept any credentials (recorded),
    /// unless `auth_reply` says otherwise.
    pub auth: bool,
    /// Reply to AUTH instead of `235`, e.g. `"535 5.7.8 bad credentials"`.
    pub auth_reply: Option<String>,
    /// Reply to every RCPT TO instead of `250`, e.g. `"550 5.1.1 no such user"`
    /// (permanent) or `"451 4.3.0 try later"` (transient).
    pub rcpt_reply: Option<String>,
}

/// Handle of a running server; dropping it stops accepting connections.
pub struct SmtpServer {
    acceptor: Acceptor,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
}

impl SmtpServer {
    /// A server without AUTH that accepts every message.
    pub fn start() -> (SocketAddr, SmtpServer) {
        Self::start_with(SmtpOptions::default())
    }

    pub fn start_with(opts: SmtpOptions) -> (SocketAddr, SmtpServer) {
        let mails = Arc::new(Mutex::new(Vec::new()));
        let sink = mails.clone();
        let acceptor = Acceptor::start(move |stream| {
            let _ = session(stream, &opts, &sink);
        });
        (acceptor.addr, SmtpServer { acceptor, mails })
    }

    pub fn addr(&self) -> SocketAddr {
        self.acceptor.addr
    }

    /// Messages accepted so far (answered `250` after DATA).
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.mails.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Waits until at least `n` messages arrived; returns them, or what
    /// arrived by `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        wait_until(timeout, || Some(self.messages()).filter(|m| m.len() >= n))
            .unwrap_or_else(|| self.messages())
    }
}

fn decode(s: &str) -> String {
    B64.decode(s.trim())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// One connection, from the greeting to QUIT (or the client hanging up).
fn session(
    stream: TcpStream,
    opts: &SmtpOptions,
    sink: &Mutex<Vec<ReceivedMail>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IDLE_LIMIT))?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    let mut read = move || -> std::io::Result<Option<String>> {
        let mut l = String::new();
        if lines.read_line(&mut l)? == 0 {
            return Ok(None);
        }
        Ok(Some(l.trim_end_matches(['\r', '\n']).to_string()))
    };
    let mut say = |s: &str| out.write_all(format!("{s}\r\n").as_bytes());

    say("220 pg_anomaly test SMTP ready")?;
    let mut cur = ReceivedMail::default();
    while let Some(line) = read()? {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        match verb {
            "EHLO" => {
                cur.helo = line[4..].trim().to_string();
                let mut ext = vec!["250-localhost", "250-8BITMIME"];
                if opts.auth {
                    ext.push("250-AUTH PLAIN LOGIN");
                }
                ext.push("250 SIZE 10485760");
                say(&ext.join("\r\n"))?;
            }
            "HELO" => {
                cur.helo = line[4..].trim().to_string();
                say("250 localhost")?;
            }
            "AUTH" if opts.auth => {
                let args: Vec<&str> = line.split_whitespace().skip(1).collect();
                let creds = match args.first().map(|m| m.to_ascii_uppercase()).as_deref() {
                    Some("PLAIN") => {
                        let token = match args.get(1) {
                            Some(t) => t.to_string(),
                            None => {
                                say("334 ")?;
                                read()?.unwrap_or_default()
                            }
                        };
                        let plain = decode(&token);
                        let mut it = plain.split('\0').skip(1);
                        Some((
                            it.next().unwrap_or("").to_string(),
                            it.next().unwrap_or("").to_string(),
                        ))
                    }
                    Some("LOGIN") => {
                        say("334 VXNlcm5hbWU6")?;
                        let u = decode(&read()?.unwrap_or_default());
                        say("334 UGFzc3dvcmQ6")?;
                        let p = decode(&read()?.unwrap_or_default());
                        Some((u, p))
                    }
                    _ => None,
                };
                match (creds, &opts.auth_reply) {
                    (None, _) => say("504 5.5.4 mechanism not supported")?,
                    (Some(_), Some(reply)) => say(reply)?,
                    (Some(c), None) => {
                        cur.auth = Some(c);
                        say("235 2.7.0 authenticated")?;
                    }
                }
            }
            "MAIL" => {
                cur.mail_from = angle(&line);
                say("250 2.1.0 ok")?;
            }
            "RCPT" => match &opts.rcpt_reply {
                Some(reply) => say(reply)?,
                None => {
                    cur.rcpt_to.push(angle(&line));
                    say("250 2.1.5 ok")?;
                }
            },
            "DATA" => {
                say("354 end data with <CR><LF>.<CR><LF>")?;
                let mut data = String::new();
                while let Some(l) = read()? {
                    if l == "." {
                        break;
                    }
                    // Undo the client's dot-stuffing.
                    data.push_str(
                        l.strip_prefix('.')
                            .filter(|_| l.starts_with(".."))
                            .unwrap_or(&l),
                    );
                    data.push_str("\r\n");
                }
                cur.data = data;
                if let Ok(mut m) = sink.lock() {
                    m.push(cur.clone());
                }
                cur.mail_from.clear();
                cur.rcpt_to.clear();
                say("250 2.0.0 queued")?;
            }
            "RSET" => {
                cur.mail_from.clear();
                cur.rcpt_to.clear();
                say("250 ok")?;
            }
            "NOOP" => say("250 ok")?,
            "QUIT" => {
                say("221 bye")?;
                break;
            }
            _ => say("502 5.5.2 command not implemented")?,
        }
    }
    Ok(())
}

/// The address inside `<...>` of a MAIL FROM / RCPT TO line.
fn angle(line: &str) -> String {
    match (line.find('<'), line.rfind('>')) {
        (Some(a), Some(b)) if a < b => line[a + 1..b].to_string(),
        _ => line.split(':').nth(1).unwrap_or("").trim().to_string(),
    }
}
