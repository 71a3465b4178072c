//! The one mutex helper of the simulator: lock, and recover the data if a holder panicked.
//!
//! Every critical section in the simulator either completes its update or makes none, so
//! the data behind a poisoned mutex is still consistent; recovering it keeps one panicking
//! task from taking the whole simulator down with it. Every module locks through [`lock`].

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, recovering the guard if a previous holder panicked.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
