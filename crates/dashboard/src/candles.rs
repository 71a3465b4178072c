//! Live candles from ticks: the chart's data, kept by the app as the subscription stream
//! delivers prices. Pure (no clock, no I/O) so it is tested natively.

/// One candle of the chart: `[start, open, high, low, close]` on the wire to the page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Start of the candle's period, unix seconds (a multiple of the period).
    pub start: f64,
    /// First price in the period.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price.
    pub close: f64,
}

/// The last `capacity` candles of `period` seconds; the newest may still be forming.
#[derive(Debug, Clone)]
pub struct LiveCandles {
    period: f64,
    capacity: usize,
    bars: Vec<Bar>,
}

impl LiveCandles {
    /// Candles of `period_secs` (at least 1), keeping the last `capacity` (at least 1).
    pub fn new(period_secs: u32, capacity: usize) -> Self {
        LiveCandles {
            period: f64::from(period_secs.max(1)),
            capacity: capacity.max(1),
            bars: Vec::new(),
        }
    }

    /// Adds a price seen at `time` (unix seconds). A tick older than the newest candle's
    /// period is ignored (the chart only moves forward); a non-finite one too.
    /// Returns whether the chart changed.
    pub fn push(&mut self, time: f64, price: f64) -> bool {
        if !time.is_finite() || !price.is_finite() {
            return false;
        }
        let start = (time / self.period).floor() * self.period;
        match self.bars.last_mut() {
            Some(bar) if bar.start == start => {
                bar.high = bar.high.max(price);
                bar.low = bar.low.min(price);
                bar.close = price;
            }
            Some(bar) if bar.start > start => return false,
            _ => {
                self.bars.push(Bar {
                    start,
                    open: price,
                    high: price,
                    low: price,
                    close: price,
                });
                if self.bars.len() > self.capacity {
                    let extra = self.bars.len() - self.capacity;
                    self.bars.drain(..extra);
                }
            }
        }
        true
    }

    /// The candles, oldest first.
    pub fn bars(&self) -> &[Bar] {
        &self.bars
    }

    /// The candles as the page reads them: `[[start, open, high, low, close], …]`.
    pub fn to_json(&self) -> serde_json::Value {
        self.bars
            .iter()
            .map(|b| serde_json::json!([b.start, b.open, b.high, b.low, b.close]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_in_one_period_form_one_candle_and_a_new_period_starts_the_next() {
        let mut live = LiveCandles::new(2, 10);
        assert!(live.push(100.1, 1.0));
        assert!(live.push(100.5, 1.3));
        assert!(live.push(101.9, 0.8));
        assert!(live.push(102.0, 1.1));
        assert_eq!(
            live.bars(),
            &[
                Bar {
                    start: 100.0,
                    open: 1.0,
                    high: 1.3,
                    low: 0.8,
                    close: 0.8
                },
                Bar {
                    start: 102.0,
                    open: 1.1,
                    high: 1.1,
                    low: 1.1,
                    close: 1.1
                },
            ]
        );
        assert_eq!(
            live.to_json()[0],
            serde_json::json!([100.0, 1.0, 1.3, 0.8, 0.8])
        );
    }

    #[test]
    fn keeps_only_the_newest_candles_and_ignores_old_or_broken_ticks() {
        let mut live = LiveCandles::new(1, 3);
        for second in 0..5 {
            live.push(f64::from(second), f64::from(second));
        }
        let starts: Vec<f64> = live.bars().iter().map(|b| b.start).collect();
        assert_eq!(starts, [2.0, 3.0, 4.0]);
        assert!(!live.push(1.5, 9.0), "a tick before the newest candle");
        assert!(!live.push(f64::NAN, 1.0));
        assert!(!live.push(5.0, f64::INFINITY));
        assert_eq!(live.bars().len(), 3);
        assert_eq!(live.bars()[2].close, 4.0);
    }
}
