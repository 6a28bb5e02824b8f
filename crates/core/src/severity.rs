//! The severity of an alert: dusuk < orta < yuksek < kritik (low, medium, high, critical;
//! the web application's vocabulary, stored as text in ml_alerts.severity).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Dusuk,
    Orta,
    Yuksek,
    Kritik,
}

impl Severity {
    /// Every level, lowest first.
    pub const ALL: [Severity; 4] = [Severity::Dusuk, Severity::Orta, Severity::Yuksek, Severity::Kritik];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Dusuk => "dusuk",
            Severity::Orta => "orta",
            Severity::Yuksek => "yuksek",
            Severity::Kritik => "kritik",
        }
    }

    /// The level of a stored name, exactly as stored (no case folding).
    pub fn parse(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The names, lowest first, joined for a message ("dusuk, orta, yuksek or kritik").
    pub fn names_for_message() -> String {
        let n: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
        format!("{} or {}", n[..n.len() - 1].join(", "), n[n.len() - 1])
    }

    /// A SQL array literal of the names, lowest first, for ranking with array_position.
    pub fn sql_array() -> String {
        let n: Vec<String> = Severity::ALL.iter().map(|s| format!("'{}'", s.as_str())).collect();
        format!("ARRAY[{}]", n.join(","))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_order_and_parse() {
        assert!(Severity::Dusuk < Severity::Kritik);
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
        assert_eq!(Severity::parse("KRITIK"), None);
        assert_eq!(Severity::names_for_message(), "dusuk, orta, yuksek or kritik");
        assert_eq!(Severity::sql_array(), "ARRAY['dusuk','orta','yuksek','kritik']");
        assert_eq!(crate::detect::SEVERITY_LEVELS, Severity::ALL.map(Severity::as_str));
    }
}
