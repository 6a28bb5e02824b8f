//! Keeping credentials out of error messages.
//!
//! Error messages end up in logs and in a table column that more people can
//! read than the channel config. We never format a secret ourselves, but the
//! libraries' errors and the servers' replies (which we quote, because they
//! are the most useful part of a failure) may echo what we sent; so every
//! message goes through [`Secrets::scrub`] before it leaves the crate.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::Channel;

const REDACTED: &str = "[redacted]";

/// Headers whose values are not secrets; every other header value (an
/// `Authorization`, an `X-Api-Key`, ...) is redacted.
const HARMLESS_HEADERS: &[&str] = &[
    "content-type",
    "accept",
    "user-agent",
    "content-language",
    "accept-language",
];

/// The strings a message must not contain.
#[derive(Default)]
pub(crate) struct Secrets(Vec<String>);

impl Secrets {
    pub(crate) fn add(&mut self, s: &str) {
        if !s.is_empty() && !self.0.iter().any(|x| x == s) {
            self.0.push(s.to_string());
        }
    }

    /// SMTP credentials, raw and in the base64 forms AUTH PLAIN/LOGIN send.
    pub(crate) fn add_smtp(&mut self, username: Option<&str>, password: Option<&str>) {
        let user = username.unwrap_or("");
        let pass = password.unwrap_or("");
        for s in [user, pass] {
            if !s.is_empty() {
                self.add(s);
                self.add(&B64.encode(s));
            }
        }
        if !pass.is_empty() {
            self.add(&B64.encode(format!("\0{user}\0{pass}")));
        }
    }

    /// Values of non-harmless headers, and the userinfo and query values of a URL.
    pub(crate) fn add_http(&mut self, url: &str, headers: &[(String, String)]) {
        for (name, value) in headers {
            if !HARMLESS_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                self.add(value.trim());
            }
        }
        if let Ok(u) = url::Url::parse(url) {
            // Userinfo raw, percent-decoded, and as the Basic auth token it becomes.
            let user = u.username().to_string();
            let pass = u.password().unwrap_or("").to_string();
            for s in [&user, &pass] {
                self.add(s);
                self.add(
                    &url::form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default(),
                );
            }
            if !user.is_empty() || !pass.is_empty() {
                self.add(&B64.encode(format!("{user}:{pass}")));
            }
            for (_, v) in u.query_pairs() {
                self.add(&v);
            }
            if let Some(q) = u.query() {
                for part in q.split('&') {
                    if let Some((_, v)) = part.split_once('=') {
                        self.add(v);
                    }
                }
            }
        }
    }

    /// `text` with every secret replaced, longest first so that a secret
    /// containing another is not left half visible. Secrets shorter than
    /// [`SHORT`] are replaced only where they stand as a whole word, so that a
    /// username `u` does not turn every `u` of a message into `[redacted]`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut sorted: Vec<&String> = self.0.iter().collect();
        sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut out = text.to_string();
        for s in sorted {
            if !out.contains(s.as_str()) {
                continue;
            }
            out = if s.chars().count() >= SHORT {
                out.replace(s.as_str(), REDACTED)
            } else {
                replace_words(&out, s)
            };
        }
        out
    }
}

/// Below this length a secret is only redacted as a whole word.
const SHORT: usize = 6;

fn replace_words(text: &str, word: &str) -> String {
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(word) {
        let before = if i == 0 {
            out.chars().next_back()
        } else {
            rest[..i].chars().next_back()
        };
        let after = rest[i + word.len()..].chars().next();
        out.push_str(&rest[..i]);
        out.push_str(if is_word(before) || is_word(after) {
            word
        } else {
            REDACTED
        });
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}

/// A URL as we print it: scheme, host, port and path; no userinfo, no query,
/// no fragment (where API keys of SMS gateways usually live).
pub(crate) fn display_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            match u.port() {
                Some(p) => format!("{}://{host}:{p}{}", u.scheme(), u.path()),
                None => format!("{}://{host}{}", u.scheme(), u.path()),
            }
        }
        Err(_) => "<invalid url>".to_string(),
    }
}

/// At most `max` characters of `s`, on one line, marked when cut.
pub(crate) fn snippet(s: &str, max: usize) -> String {
    let one_line: String = s
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max).collect();
        format!("{cut}...")
    }
}

/// Redacts password and header values: channels get logged.
impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |h: &[(String, String)]| -> Vec<String> {
            h.iter().map(|(k, _)| format!("{k}: [redacted]")).collect()
        };
        match self {
            Channel::Email {
                host,
                port,
                tls,
                username,
                password,
                from,
                to,
            } => f
                .debug_struct("Email")
                .field("host", host)
                .field("port", port)
                .field("tls", tls)
                .field("username", &username.as_ref().map(|_| "[redacted]"))
                .field("password", &password.as_ref().map(|_| "[redacted]"))
                .field("from", from)
                .field("to", to)
                .finish(),
            Channel::Webhook { url, headers } => f
                .debug_struct("Webhook")
                .field("url", &display_url(url))
                .field("headers", &hidden(headers))
                .finish(),
            Channel::Sms {
                url,
                headers,
                body_template,
                phone,
            } => f
                .debug_struct("Sms")
                .field("url", &display_url(url))
                .field("headers", &hidden(headers))
                .field("body_template", body_template)
                .field("phone", phone)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_long_secrets_everywhere_and_short_ones_as_words() {
        let mut s = Secrets::default();
        s.add_smtp(Some("u"), Some("hunter2-long"));
        let out = s.scrub("auth failed for u (user u): xhunter2-longx u");
        assert_eq!(
            out,
            "auth failed for [redacted] (user [redacted]): x[redacted]x [redacted]"
        );
        let mut h = Secrets::default();
        h.add_http(
            "https://me:pw@h.example/p?key=abc&x=1",
            &[("X-Key".into(), "k9".into())],
        );
        assert_eq!(
            h.scrub("key abc, pw=pw, k9 ok, mepw"),
            "key [redacted], [redacted]=[redacted], [redacted] ok, mepw"
        );
        assert_eq!(
            display_url("https://me:pw@h.example:8443/p?key=abc#f"),
            "https://h.example:8443/p"
        );
    }
}
