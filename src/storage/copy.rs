//! Bulk writes through PostgreSQL's own COPY FROM machinery, fed from memory.
//!
//! `INSERT ... SELECT FROM unnest(34 arrays)` costs three times what PostgreSQL needs to
//! write the same rows. COPY in binary format is the cheapest way in: multi-row heap
//! inserts, partition routing, constraints, indexes and statement triggers (with their
//! transition tables) all work as for a client's COPY. We call BeginCopyFrom with a data
//! source callback that reads from a buffer built in Rust, as COPY FROM STDIN would.

use crate::errors::{Error, Result};
use pg_anomaly_core::CoreError;
use pgrx::pg_sys;
use std::cell::RefCell;
use std::ffi::CString;

/// Microseconds between 1970-01-01 and 2000-01-01.
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// Rows in PostgreSQL's binary COPY format.
pub struct BinaryRows {
    buf: Vec<u8>,
    ncols: i16,
    rows: usize,
}

impl BinaryRows {
    pub fn new(ncols: usize, capacity_rows: usize) -> Self {
        let mut buf = Vec::with_capacity(19 + capacity_rows * (2 + ncols * 12));
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        BinaryRows { buf, ncols: ncols as i16, rows: 0 }
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn begin_row(&mut self) {
        self.buf.extend_from_slice(&self.ncols.to_be_bytes());
        self.rows += 1;
    }
    pub fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }
    pub fn text(&mut self, s: &str) {
        self.buf.extend_from_slice(&(s.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(s.as_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_bits().to_be_bytes());
    }
    pub fn opt_f64(&mut self, v: Option<f64>) {
        match v {
            Some(v) => self.f64(v),
            None => self.null(),
        }
    }
    /// A real (float4) column: the value rounded to the nearest float4. A finite value
    /// beyond float4's range (about 3.4e38) has no float4 and is written as NULL, never as
    /// an infinity.
    pub fn opt_f32(&mut self, v: Option<f64>) {
        match v.map(|v| v as f32).filter(|v| v.is_finite()) {
            Some(v) => {
                self.buf.extend_from_slice(&4i32.to_be_bytes());
                self.buf.extend_from_slice(&v.to_bits().to_be_bytes());
            }
            None => self.null(),
        }
    }
    pub fn opt_i16(&mut self, v: Option<f64>) {
        match v {
            Some(v) => {
                self.buf.extend_from_slice(&2i32.to_be_bytes());
                self.buf.extend_from_slice(&(v as i16).to_be_bytes());
            }
            None => self.null(),
        }
    }
    pub fn opt_bool(&mut self, v: Option<f64>) {
        match v {
            Some(v) => {
                self.buf.extend_from_slice(&1i32.to_be_bytes());
                self.buf.push(u8::from(v != 0.0));
            }
            None => self.null(),
        }
    }
    /// A timestamptz given as microseconds since the Unix epoch.
    pub fn timestamptz(&mut self, unix_us: i64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&unix_us.saturating_sub(PG_EPOCH_OFFSET_US).to_be_bytes());
    }
    fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

thread_local! {
    /// The buffer the COPY data source callback reads from, and how far it got.
    static SOURCE: RefCell<(Vec<u8>, usize)> = const { RefCell::new((Vec::new(), 0)) };
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn read_source(outbuf: *mut core::ffi::c_void, _minread: i32, maxread: i32) -> i32 {
    SOURCE.with(|s| {
        let mut s = s.borrow_mut();
        let (ref data, ref mut pos) = *s;
        let n = (data.len() - *pos).min(maxread.max(0) as usize);
        // SAFETY: COPY hands us a buffer of at least maxread bytes.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr().add(*pos), outbuf as *mut u8, n) };
        *pos += n;
        n as i32
    })
}

/// COPYs `rows` into `table` (a relation of this extension, resolved through the
/// function's search_path) for the given columns; returns the rows written.
///
/// On a Citus cluster the table is distributed and its relation on this node is an empty
/// shell: PostgreSQL's COPY machinery, called directly, would write into the shell where
/// no query sees the rows. There the rows are copied into a temporary table of this
/// session and moved with one INSERT ... SELECT, which Citus routes to the shards.
pub fn copy_into(table: &'static str, columns: &[&'static str], rows: BinaryRows) -> Result<u64> {
    if rows.rows() == 0 {
        return Ok(0);
    }
    if super::citus::is_distributed(table)? {
        return copy_via_temp(table, columns, rows);
    }
    let relid = super::one::<pg_sys::Oid>("SELECT pg_catalog.to_regclass($1)::oid", &[table.into()])?
        .ok_or_else(|| Error::Core(CoreError::internal(format!("relation {table} not found"))))?;
    copy_rel(relid, columns, rows)
}

/// The Citus path of `copy_into`: COPY into `pg_temp.pg_anomaly_copy_<table>` (created
/// once per session with the table's columns, emptied at commit), then one INSERT ...
/// SELECT into the distributed table. Table and column names are this crate's constants.
fn copy_via_temp(table: &'static str, columns: &[&'static str], rows: BinaryRows) -> Result<u64> {
    let tmp = format!("pg_anomaly_copy_{table}");
    let relid = match super::one::<pg_sys::Oid>("SELECT pg_catalog.to_regclass($1)::oid", &[format!("pg_temp.{tmp}").into()])? {
        Some(oid) => oid,
        None => {
            super::exec(&format!("CREATE TEMP TABLE {tmp} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"), &[])?;
            super::one::<pg_sys::Oid>("SELECT pg_catalog.to_regclass($1)::oid", &[format!("pg_temp.{tmp}").into()])?
                .ok_or_else(|| Error::Core(CoreError::internal(format!("temporary table {tmp} not created"))))?
        }
    };
    super::exec(&format!("TRUNCATE pg_temp.{tmp}"), &[])?;
    copy_rel(relid, columns, rows)?;
    let cols = columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    let n = super::exec(&format!("INSERT INTO {table} ({cols}) SELECT {cols} FROM pg_temp.{tmp}"), &[])?;
    super::exec(&format!("TRUNCATE pg_temp.{tmp}"), &[])?;
    Ok(n as u64)
}

/// COPYs `rows` into the relation `relid` for the given columns.
fn copy_rel(relid: pg_sys::Oid, columns: &[&'static str], rows: BinaryRows) -> Result<u64> {
    let data = rows.finish();
    SOURCE.with(|s| *s.borrow_mut() = (data, 0));
    // SAFETY: the sequence DoCopy runs for COPY FROM STDIN, with our callback as the data
    // source. Errors raised inside unwind through pgrx's guard and abort the transaction,
    // which releases the relation and the COPY state's memory.
    let n = unsafe {
        if pg_sys::pg_class_aclcheck(relid, pg_sys::GetUserId(), pg_sys::ACL_INSERT as pg_sys::AclMode)
            != pg_sys::AclResult::ACLCHECK_OK
        {
            pg_sys::aclcheck_error(pg_sys::AclResult::ACLCHECK_NO_PRIV, pg_sys::ObjectType::OBJECT_TABLE, pg_sys::get_rel_name(relid));
        }
        let rel = pg_sys::table_open(relid, pg_sys::RowExclusiveLock as i32);
        let pstate = pg_sys::make_parsestate(std::ptr::null_mut());
        pg_sys::addRangeTableEntryForRelation(pstate, rel, pg_sys::RowExclusiveLock as i32, std::ptr::null_mut(), false, false);
        let mut attlist: *mut pg_sys::List = std::ptr::null_mut();
        for c in columns {
            let c = CString::new(*c).unwrap_or_default();
            attlist = pg_sys::lappend(attlist, pg_sys::makeString(pg_sys::pstrdup(c.as_ptr())).cast());
        }
        let format = pg_sys::makeDefElem(
            pg_sys::pstrdup(c"format".as_ptr()),
            pg_sys::makeString(pg_sys::pstrdup(c"binary".as_ptr())).cast(),
            -1,
        );
        let options = pg_sys::lappend(std::ptr::null_mut(), format.cast());
        let cstate = pg_sys::BeginCopyFrom(pstate, rel, std::ptr::null_mut(), std::ptr::null(), false, Some(read_source), attlist, options);
        let n = pg_sys::CopyFrom(cstate);
        pg_sys::EndCopyFrom(cstate);
        pg_sys::free_parsestate(pstate);
        pg_sys::table_close(rel, pg_sys::NoLock as i32);
        n
    };
    SOURCE.with(|s| *s.borrow_mut() = (Vec::new(), 0));
    Ok(n)
}
