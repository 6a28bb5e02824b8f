//! Background workers. `realtime`: the static micro-batch worker. `autonomous`: writes a record that must outlive the caller's
//! transaction (the log row of a failed training, the record of a failed stage run).

pub mod autonomous;
pub mod realtime;
