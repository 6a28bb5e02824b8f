//! Background workers. `realtime`: the static micro-batch worker. `notifier`: delivers the outbox. `autonomous`: writes a record that must outlive the caller's
//! transaction (the log row of a failed training, the record of a failed stage run).

pub mod autonomous;
pub mod notifier;
pub mod parallel;
pub mod realtime;

unsafe extern "C-unwind" {
    /// PostgreSQL's SIGTERM handler for backends (tcop/postgres.c). pg_sys::die is a Rust
    /// wrapper, not a signal handler, so the C symbol is declared here. With it, a long
    /// round is cancelled at its next CHECK_FOR_INTERRUPTS and shutdown never waits on us.
    #[link_name = "die"]
    fn postgres_die(signal: core::ffi::c_int);
}

/// Signal handling of our static workers: SIGHUP through pgrx (reload), SIGTERM through die().
pub fn attach_signals() {
    pgrx::bgworkers::BackgroundWorker::attach_signal_handlers(pgrx::bgworkers::SignalWakeFlags::SIGHUP);
    unsafe {
        pgrx::pg_sys::pqsignal(pgrx::pg_sys::SIGTERM as i32, Some(postgres_die));
    }
}
