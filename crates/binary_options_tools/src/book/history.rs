//! [`HistoryPage`]: one reply to a history request.

use crate::types::{Candle, Tick};

/// One `loadHistoryPeriod` reply: its OHLC items and its price items (the platform sends
/// one kind or the other).
#[derive(Debug, Clone, Default)]
pub(crate) struct HistoryPage {
    pub(crate) candles: Vec<Candle>,
    pub(crate) ticks: Vec<Tick>,
}
