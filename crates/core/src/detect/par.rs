//! Order-preserving parallel maps for the pure parts of a fit: each item's result depends on
//! that item only, so splitting the work over threads gives the results a serial loop gives,
//! in the same order.

use crate::error::{CoreError, CoreResult};

#[cfg(test)]
thread_local! {
    /// Tests set the threads of this thread's fits (0: the machine's).
    pub(crate) static FORCE_THREADS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Threads for the parallel parts of fitting and scoring: the machine's cores, at most 8
/// (also the extension's training threads, `detect::fit_threads`).
pub fn threads() -> usize {
    #[cfg(test)]
    if FORCE_THREADS.with(|f| f.get()) > 0 {
        return FORCE_THREADS.with(|f| f.get());
    }
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8)
}

/// `f` on consecutive parts of `items` (at most `threads` of them, in order) on scoped threads;
/// the parts' results in the order of the parts. One part runs on the calling thread. A
/// panicking thread is an internal error.
pub(crate) fn parts<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(usize, &[T]) -> R + Sync) -> CoreResult<Vec<R>> {
    let per = items.len().div_ceil(threads.max(1)).max(1);
    if items.len() <= per {
        return Ok(vec![f(0, items)]);
    }
    let f = &f;
    std::thread::scope(|scope| {
        let mut chunks = items.chunks(per).enumerate();
        let (_, first) = chunks.next().expect("at least two parts");
        let handles: Vec<_> = chunks.map(|(k, part)| scope.spawn(move || f(k * per, part))).collect();
        let own = f(0, first);
        // every thread is joined before an error is returned
        let joined: Vec<Option<R>> = handles.into_iter().map(|h| h.join().ok()).collect();
        std::iter::once(Some(own)).chain(joined).map(|r| r.ok_or_else(|| CoreError::internal("a fitting thread panicked"))).collect()
    })
}

/// `f` on every item, in order, on up to `threads` threads.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> CoreResult<Vec<R>> {
    Ok(parts(items, threads, |_, part| part.iter().map(&f).collect::<Vec<R>>())?.into_iter().flatten().collect())
}
