//! Locking a mutex whose holder panicked: the host's shared state stays
//! usable (each holder leaves it whole between statements), so a panic in
//! one call does not take every later call down with it.

use std::sync::{Mutex, MutexGuard};

/// `mutex`'s guard, poisoned or not.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
