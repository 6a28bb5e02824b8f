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
    let (user, name) = extra.split_once(':').unwrap_or(("0", ""));
    let user = pg_sys::Oid::from(user.parse::<u32>().unwrap_or(0));
    super::connect(super::Target::Backend { database: db, user });
    autonomous::insert_from_file(name);
}
