//! Background-worker entry points only; what they run lives in `crate::pipeline`.
//! `realtime`: the static micro-batch worker. `notifier`: delivers the outbox.
//! `parallel`: one partition of a parallel run. `autonomous`: writes a record that must
//! outlive the caller's transaction (the log row of a failed training, the record of a
//! failed stage run).

pub mod autonomous;
pub mod notifier;
pub mod parallel;
pub mod realtime;

use pgrx::bgworkers::BackgroundWorker;
use crate::pipeline::session::Caller;
use pgrx::pg_sys;

unsafe extern "C-unwind" {
    /// PostgreSQL's SIGTERM handler for backends (tcop/postgres.c). pg_sys::die is a Rust
    /// wrapper, not a signal handler, so the C symbol is declared here. With it, a long
    /// round is cancelled at its next CHECK_FOR_INTERRUPTS and shutdown never waits on us.
    #[link_name = "die"]
    fn postgres_die(signal: core::ffi::c_int);
}

/// Where a worker connects: the database named by pg_anomaly.database (static workers),
/// or the database of the backend that started it (dynamic workers), logged in as that
/// backend's login role and acting as the role the backend acted as (see [`Caller`]).
pub enum Target<'a> {
    Named(&'a str),
    Backend { database: pg_sys::Oid, caller: Caller },
}

/// The one start-up of every worker: signal handling (SIGHUP through pgrx for a reload,
/// SIGTERM through die(); SIGUSR1 stays PostgreSQL's, which parallel query and sinval
/// messages need), then the connection.
pub fn connect(target: Target) {
    BackgroundWorker::attach_signal_handlers(pgrx::bgworkers::SignalWakeFlags::SIGHUP);
    unsafe {
        pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(postgres_die));
    }
    match target {
        Target::Named(db) => BackgroundWorker::connect_worker_to_spi(Some(db), None),
        Target::Backend { database, caller } => {
            BackgroundWorker::connect_worker_to_spi_by_oid(Some(database), Some(caller.login));
            if caller.acting != caller.login {
                unsafe { pg_sys::SetUserIdAndSecContext(caller.acting, pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32) };
            }
        }
    }
}

/// Between two rounds of a static worker: waits `secs` on the latch, exits on SIGTERM
/// (die() set ProcDiePending), reloads the configuration after SIGHUP.
pub fn wait(secs: u64) {
    BackgroundWorker::wait_latch(Some(std::time::Duration::from_secs(secs)));
    pgrx::check_for_interrupts!();
    if BackgroundWorker::sighup_received() {
        unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
    }
}
