//! The storage layer: the only code that talks SPI. Every statement is a constant
//! string with `$n` parameters; no user input is ever pasted into SQL text.

pub mod labels;
pub mod metrics;
pub mod runs;
pub mod sources;
pub mod subxact;
pub mod time;

pub use time::{from_unix_us, to_unix_us};
