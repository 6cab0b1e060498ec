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

    #[test]
    fn a_lock_whose_holder_panicked_still_gives_its_value() {
        let mutex = Arc::new(Mutex::new(7));
        let rwlock = Arc::new(RwLock::new(7));
        let (held_mutex, held_rwlock) = (mutex.clone(), rwlock.clone());
        let _ = thread::spawn(move || {
            let _held = (held_mutex.lock(), held_rwlock.write());
            panic!("the holder panics");
        })
        .join();
        assert!(mutex.is_poisoned() && rwlock.is_poisoned());
        *lock(&mutex) += 1;
        *write(&rwlock) += 1;
        assert_eq!((*lock(&mutex), *read(&rwlock)), (8, 8));
    }
}
