//! Locking a mutex or a read-write lock whose holder panicked: the host's
//! shared state stays usable (each holder leaves it whole between
//! statements), so a panic in one call does not take every later call down
//! with it.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// `mutex`'s guard, poisoned or not.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A read guard of `rwlock`, poisoned or not.
pub(crate) fn read<T>(rwlock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    rwlock.read().unwrap_or_else(|p| p.into_inner())
}

/// The write guard of `rwlock`, poisoned or not.
pub(crate) fn write<T>(rwlock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    rwlock.write().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, RwLock};
    use std::thread;

    use super::*;

    /// Poisons `shared` by panicking on another thread while holding it.
    fn poison_with<S: Send + Sync + 'static>(shared: &Arc<S>, hold: fn(&S)) {
        let held = shared.clone();
        let _ = thread::spawn(move || {
            hold(&held);
        })
        .join();
    }

    #[test]
    fn a_poisoned_mutex_still_locks_with_its_value() {
        let shared = Arc::new(Mutex::new(7));
        poison_with(&shared, |m| {
            let _guard = m.lock();
            panic!("holder panics");
        });
        assert!(shared.is_poisoned());
        *lock(&shared) += 1;
        assert_eq!(*lock(&shared), 8);
    }

    #[test]
    fn a_poisoned_rwlock_still_reads_and_writes() {
        let shared = Arc::new(RwLock::new(7));
        poison_with(&shared, |l| {
            let _guard = l.write();
            panic!("holder panics");
        });
        assert!(shared.is_poisoned());
        *write(&shared) += 1;
        assert_eq!(*read(&shared), 8);
    }
}
