//! The books and registries the modules share through
//! [`PocketOptionState`](crate::state::PocketOptionState): what each module fills and what
//! the handles read. They sit below both the state and the module loops, so neither the
//! state nor a book knows any module.

pub(crate) mod deals;
pub(crate) mod history;
pub(crate) mod orders;
pub(crate) mod pending;
pub(crate) mod raw;
pub(crate) mod subscriptions;
pub(crate) mod tick_queue;
