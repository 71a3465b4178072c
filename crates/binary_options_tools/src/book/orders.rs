//! [`OrderKey`] and [`OrderReply`]: how a waiting market order is identified and what it
//! receives.

use std::hash::{Hash, Hasher};

use rust_decimal::Decimal;

use crate::types::Deal;

/// What a waiting order receives: the opened deal, or the platform's refusal reason.
pub(crate) type OrderReply = Result<Deal, String>;

/// Identifies a waiting order: by request id, carrying asset and amount for failures.
#[derive(Debug, Clone)]
pub(crate) struct OrderKey {
    pub(crate) request_id: String,
    pub(crate) asset: String,
    pub(crate) amount: Decimal,
}

impl PartialEq for OrderKey {
    fn eq(&self, other: &Self) -> bool {
        self.request_id == other.request_id
    }
}

impl Eq for OrderKey {}

impl Hash for OrderKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.request_id.hash(state);
    }
}
