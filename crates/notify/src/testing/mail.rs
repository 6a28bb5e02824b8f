//! A message as the test SMTP server received it, with just enough MIME
//! decoding (folded headers, RFC 2047 encoded words, quoted-printable and
//! base64 bodies) for tests to assert on what a person would read.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReceivedMail {
    /// The EHLO/HELO argument.
    pub helo: String,
    /// (username, password) from AUTH PLAIN or LOGIN, when the client logged in.
    pub auth: Option<(String, String)>,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// Headers and body as sent, dot-stuffing undone, CRLF line ends.
    pub data: String,
}

impl ReceivedMail {
    fn split(&self) -> (&str, &str) {
        self.data
            .split_once("\r\n\r\n")
            .unwrap_or((self.data.as_str(), ""))
    }

    /// The first header called `name` (case-insensitive), unfolded and with
    /// encoded words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.split();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| decode_words(v.trim()))
        })
    }

    /// The body, decoded per its Content-Transfer-Encoding.
    pub fn body_text(&self) -> String {
        let (_, body) = self.split();
        let cte = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match cte.as_str() {
            "base64" => B64
                .decode(body.split_whitespace().collect::<String>())
                .unwrap_or_default(),
            "quoted-printable" => quoted_printable(body, false),
            _ => body.as_bytes().to_vec(),
        };
        String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
    }
}

/// Decodes quoted-printable; `q_mode` is RFC 2047's variant where `_` is a space.
fn quoted_printable(s: &str, q_mode: bool) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'=' if b[i + 1..].starts_with(b"\r\n") => i += 3,
            b'=' if b[i + 1..].starts_with(b"\n") => i += 2,
            b'=' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b'_' if q_mode => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Decodes `=?charset?B|Q?text?=` words (assuming UTF-8), dropping the
/// whitespace between adjacent encoded words as RFC 2047 says.
fn decode_words(v: &str) -> String {
    let mut out = String::new();
    let mut last_was_word = false;
    for (i, token) in v.split(' ').enumerate() {
        let decoded = token
            .strip_prefix("=?")
            .and_then(|t| t.strip_suffix("?="))
            .and_then(|t| {
                let mut p = t.splitn(3, '?');
                let (_, enc, text) = (p.next()?, p.next()?, p.next()?);
                let bytes = match enc.to_ascii_uppercase().as_str() {
                    "B" => B64.decode(text).ok()?,
                    "Q" => quoted_printable(text, true),
                    _ => return None,
                };
                Some(String::from_utf8_lossy(&bytes).into_owned())
            });
        let is_word = decoded.is_some();
        if i > 0 && !(is_word && last_was_word) {
            out.push(' ');
        }
        out.push_str(decoded.as_deref().unwrap_or(token));
        last_was_word = is_word;
    }
    out
}
