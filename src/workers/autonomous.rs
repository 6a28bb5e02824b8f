//! The autonomous-record worker: a short-lived dynamic worker that inserts one record
//! (`crate::pipeline::autonomous`) in a transaction of its own.

use crate::pipeline::autonomous;
use pgrx::bgworkers::BackgroundWorker;
use pgrx::prelude::*;

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_anomaly_autonomous_main(arg: pg_sys::Datum) {
    let db = pg_sys::Oid::from(arg.value() as u32);
    let extra = BackgroundWorker::get_extra().to_string();
    // "login:acting:name" (see pipeline::autonomous)
    let mut parts = extra.splitn(3, ':');
    let login = parts.next().and_then(|u| u.parse::<u32>().ok()).unwrap_or(0);
    let acting = parts.next().and_then(|u| u.parse::<u32>().ok());
    let name = parts.next().unwrap_or("");
    let caller = crate::pipeline::session::Caller::from_parts(login, acting);
    super::connect(super::Target::Backend { database: db, caller });
    autonomous::insert_from_file(name);
}
