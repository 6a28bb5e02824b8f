//! Background workers. `realtime`: the static micro-batch worker. `notifier`: delivers the outbox. `autonomous`: writes a record that must outlive the caller's
//! transaction (the log row of a failed training, the record of a failed stage run).

pub mod autonomous;
pub mod notifier;
pub mod realtime;
