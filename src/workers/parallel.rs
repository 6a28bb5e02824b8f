//! The worker of a parallel run: runs its one job (`crate::pipeline::parallel::run_job`)
//! in a transaction, then reports the outcome to its leader in a transaction of its own.

use crate::pipeline::{parallel, session};
use pgrx::bgworkers::BackgroundWorker;
use pgrx::prelude::*;

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_anomaly_parallel_main(arg: pg_sys::Datum) {
    let a = arg.value() as u64;
    let database = pg_sys::Oid::from((a >> 32) as u32);
    let login = (a & 0xffff_ffff) as u32;
    let Some(job) = parallel::Job::decode(BackgroundWorker::get_extra()) else { return };
    let caller = session::Caller::from_parts(login, job.acting);
    super::connect(super::Target::Backend { database, caller });
    let outcome = BackgroundWorker::transaction(|| {
        session::guarded("parallel", || {
            parallel::enter_job()?;
            parallel::run_job(&job)
        })
    });
    BackgroundWorker::transaction(|| {
        if let Err(e) = session::guarded("parallel", || parallel::report(&job, &outcome)) {
            pgrx::warning!("pg_anomaly parallel: could not report: {e}");
        }
    });
}
