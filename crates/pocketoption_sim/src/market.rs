//! The market: the asset catalog and a deterministic price path per asset.
//!
//! A price is a pure function of (seed, asset, instant). Log-prices are pinned at anchors
//! every 2^22 ms (about 70 minutes), drawn around the asset's base price, and between two
//! anchors the path is a Brownian bridge built by midpoint displacement: the value at any
//! millisecond is found by descending 22 halvings, each displacement drawn from a hash of
//! its position. So a tick streamed now, a history page for last week and a deal settled
//! later all read the same path, in any order, without storing it.
//!
//! Live prices are sampled on a grid of `tick_ms` (ticks, history points, open and close
//! prices all sit on it), which is what makes streamed ticks and history comparable.
//! Tests can *pin* an asset's price from now on to force trade outcomes.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::lock::lock;
use crate::prng::{gaussian, hash};

/// What kind of instrument an asset is (position 3 of an `updateAssets` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetKind {
    /// A currency pair.
    Currency,
    /// A company stock.
    Stock,
    /// A commodity.
    Commodity,
    /// A cryptocurrency.
    Cryptocurrency,
    /// A stock index.
    Index,
}

impl AssetKind {
    /// The platform's name for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Currency => "currency",
            AssetKind::Stock => "stock",
            AssetKind::Commodity => "commodity",
            AssetKind::Cryptocurrency => "cryptocurrency",
            AssetKind::Index => "index",
        }
    }
}

/// One tradable asset.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetSpec {
    /// Numeric id (position 0).
    pub id: u32,
    /// Symbol used on the wire (`EURUSD_otc`, `#AAPL_otc`).
    pub symbol: String,
    /// Display name.
    pub name: String,
    /// Instrument kind.
    pub kind: AssetKind,
    /// Payout percent of a winning trade.
    pub payout: u8,
    /// Whether it is an OTC asset.
    pub otc: bool,
    /// Whether it can be traded now.
    pub active: bool,
    /// Allowed expiries in seconds.
    pub expiries: Vec<u32>,
    /// The price the path wanders around.
    pub base_price: f64,
    /// Relative volatility over one hour (0.002 = 0.2 %).
    pub hourly_volatility: f64,
    /// Decimal places of quoted prices.
    pub precision: u32,
}

/// Expiries the default assets allow: 5 s to 4 h, as the platform's OTC assets do.
pub const DEFAULT_EXPIRIES: &[u32] = &[
    5, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600, 7200, 10800, 14400,
];

fn asset(
    id: u32,
    symbol: &str,
    name: &str,
    kind: AssetKind,
    payout: u8,
    base_price: f64,
    precision: u32,
) -> AssetSpec {
    let otc = symbol.ends_with("_otc");
    let hourly_volatility = match kind {
        AssetKind::Currency => 0.002,
        AssetKind::Commodity | AssetKind::Index => 0.004,
        AssetKind::Stock => 0.006,
        AssetKind::Cryptocurrency => 0.012,
    };
    AssetSpec {
        id,
        symbol: symbol.to_owned(),
        name: name.to_owned(),
        kind,
        payout,
        otc,
        active: true,
        expiries: DEFAULT_EXPIRIES.to_vec(),
        base_price,
        hourly_volatility,
        precision,
    }
}

/// The default catalog: OTC currency pairs, a few stocks, crypto, a commodity and an index,
/// plus two inactive assets (`EURUSD` outside market hours, `#FB_otc`).
pub fn default_assets() -> Vec<AssetSpec> {
    use AssetKind::*;
    let mut assets = vec![
        asset(66, "EURUSD_otc", "EUR/USD OTC", Currency, 92, 1.08, 5),
        asset(86, "GBPUSD_otc", "GBP/USD OTC", Currency, 90, 1.27, 5),
        asset(124, "USDJPY_otc", "USD/JPY OTC", Currency, 88, 151.2, 3),
        asset(67, "AUDCAD_otc", "AUD/CAD OTC", Currency, 85, 0.905, 5),
        asset(68, "EURJPY_otc", "EUR/JPY OTC", Currency, 83, 163.4, 3),
        asset(70, "USDCHF_otc", "USD/CHF OTC", Currency, 80, 0.882, 5),
        asset(71, "AUDUSD_otc", "AUD/USD OTC", Currency, 86, 0.655, 5),
        asset(72, "NZDUSD_otc", "NZD/USD OTC", Currency, 78, 0.601, 5),
        asset(1, "EURUSD", "EUR/USD", Currency, 82, 1.08, 5),
        asset(5, "#AAPL_otc", "Apple OTC", Stock, 85, 189.5, 2),
        asset(6, "#MSFT_otc", "Microsoft OTC", Stock, 80, 415.2, 2),
        asset(7, "#TSLA_otc", "Tesla OTC", Stock, 75, 242.8, 2),
        asset(8, "#FB_otc", "Facebook OTC", Stock, 70, 480.1, 2),
        asset(
            197,
            "BTCUSD_otc",
            "Bitcoin OTC",
            Cryptocurrency,
            80,
            64250.0,
            2,
        ),
        asset(
            198,
            "ETHUSD_otc",
            "Ethereum OTC",
            Cryptocurrency,
            78,
            3150.0,
            2,
        ),
        asset(169, "XAUUSD_otc", "Gold OTC", Commodity, 84, 2350.0, 2),
        asset(170, "SP500_otc", "SP500 OTC", Index, 76, 5200.0, 1),
    ];
    for a in &mut assets {
        if a.symbol == "EURUSD" || a.symbol == "#FB_otc" {
            a.active = false;
        }
    }
    assets
}

/// Anchors of the price path are this many milliseconds apart (2^22 ≈ 70 minutes).
const SEGMENT_BITS: u32 = 22;
const SEGMENT_MS: i64 = 1 << SEGMENT_BITS;
const ANCHOR_TAG: u64 = u64::MAX;
const SENTIMENT_TAG: u64 = u64::MAX - 1;

/// A price forced from an instant on.
#[derive(Debug, Clone, Copy)]
struct Pin {
    from_ms: i64,
    until_ms: Option<i64>,
    price: f64,
}

/// The asset catalog and price paths, shared by every connection.
#[derive(Debug)]
pub(crate) struct Market {
    seed: u64,
    tick_ms: i64,
    assets: Mutex<Vec<AssetSpec>>,
    pins: Mutex<HashMap<String, Vec<Pin>>>,
}

/// Everything needed to price one asset, copied out of the locks.
#[derive(Debug, Clone)]
pub(crate) struct Sampler {
    seed: u64,
    asset_key: u64,
    log_base: f64,
    anchor_sd: f64,
    sigma_per_sqrt_ms: f64,
    scale: f64,
    pins: Vec<Pin>,
}

impl Sampler {
    /// The price at `t_ms` (rounded to the asset's precision).
    pub(crate) fn price(&self, t_ms: i64) -> f64 {
        if let Some(pin) = self
            .pins
            .iter()
            .rev()
            .find(|p| t_ms >= p.from_ms && p.until_ms.is_none_or(|u| t_ms < u))
        {
            return pin.price;
        }
        let raw = self.log_price(t_ms).exp();
        (raw * self.scale).round() / self.scale
    }

    fn anchor(&self, segment: i64) -> f64 {
        self.log_base
            + gaussian(hash(&[
                self.seed,
                self.asset_key,
                segment as u64,
                ANCHOR_TAG,
            ])) * self.anchor_sd
    }

    fn log_price(&self, t_ms: i64) -> f64 {
        let segment = t_ms.div_euclid(SEGMENT_MS);
        let k = t_ms.rem_euclid(SEGMENT_MS);
        let (mut lo, mut hi) = (0_i64, SEGMENT_MS);
        let (mut x_lo, mut x_hi) = (self.anchor(segment), self.anchor(segment + 1));
        while k != lo && hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let spread = self.sigma_per_sqrt_ms * ((hi - lo) as f64).sqrt() / 2.0;
            let z = gaussian(hash(&[
                self.seed,
                self.asset_key,
                segment as u64,
                mid as u64,
            ]));
            let x_mid = (x_lo + x_hi) / 2.0 + z * spread;
            if k < mid {
                hi = mid;
                x_hi = x_mid;
            } else {
                lo = mid;
                x_lo = x_mid;
            }
        }
        x_lo
    }
}

/// One OHLC candle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Candle {
    pub time_s: i64,
    pub open: f64,
    pub close: f64,
    pub high: f64,
    pub low: f64,
}

/// At most this many price samples are taken per candle (longer candles are strided).
const MAX_SAMPLES_PER_CANDLE: i64 = 240;

impl Market {
    pub(crate) fn new(seed: u64, tick_ms: u64, assets: Vec<AssetSpec>) -> Self {
        Market {
            seed,
            tick_ms: tick_ms.max(1) as i64,
            assets: Mutex::new(assets),
            pins: Mutex::new(HashMap::new()),
        }
    }

    /// The grid point at or before `t_ms`.
    pub(crate) fn grid(&self, t_ms: i64) -> i64 {
        t_ms.div_euclid(self.tick_ms) * self.tick_ms
    }

    fn with_assets<R>(&self, f: impl FnOnce(&mut Vec<AssetSpec>) -> R) -> R {
        // A panic while holding this lock cannot leave the catalog half-updated (every
        // mutation is a single field store), so a poisoned lock is still usable.
        f(&mut lock(&self.assets))
    }

    pub(crate) fn asset(&self, symbol: &str) -> Option<AssetSpec> {
        self.with_assets(|a| a.iter().find(|a| a.symbol == symbol).cloned())
    }

    pub(crate) fn assets(&self) -> Vec<AssetSpec> {
        self.with_assets(|a| a.clone())
    }

    pub(crate) fn update_asset(&self, symbol: &str, f: impl FnOnce(&mut AssetSpec)) -> bool {
        self.with_assets(|a| match a.iter_mut().find(|a| a.symbol == symbol) {
            Some(asset) => {
                f(asset);
                true
            }
            None => false,
        })
    }

    pub(crate) fn sampler(&self, symbol: &str) -> Option<Sampler> {
        let spec = self.asset(symbol)?;
        let pins = lock(&self.pins).get(symbol).cloned().unwrap_or_default();
        Some(Sampler {
            seed: self.seed,
            asset_key: u64::from(spec.id) ^ hash(&[spec.symbol.len() as u64]),
            log_base: spec.base_price.max(f64::MIN_POSITIVE).ln(),
            anchor_sd: spec.hourly_volatility,
            sigma_per_sqrt_ms: spec.hourly_volatility / (3_600_000_f64).sqrt(),
            scale: 10_f64.powi(spec.precision.min(10) as i32),
            pins,
        })
    }

    /// The price of `symbol` at grid point `grid(t_ms)`.
    pub(crate) fn price_at(&self, symbol: &str, t_ms: i64) -> Option<f64> {
        Some(self.sampler(symbol)?.price(self.grid(t_ms)))
    }

    /// Pins `symbol` to `price` from the current grid point on (until unpinned).
    pub(crate) fn pin(&self, symbol: &str, price: f64, now_ms: i64) -> bool {
        if self.asset(symbol).is_none() {
            return false;
        }
        let from_ms = self.grid(now_ms);
        let mut pins = lock(&self.pins);
        let list = pins.entry(symbol.to_owned()).or_default();
        for p in list.iter_mut().filter(|p| p.until_ms.is_none()) {
            p.until_ms = Some(from_ms);
        }
        list.push(Pin {
            from_ms,
            until_ms: None,
            price,
        });
        true
    }

    /// Ends the pin of `symbol` at the current grid point (the path resumes).
    pub(crate) fn unpin(&self, symbol: &str, now_ms: i64) {
        let until = self.grid(now_ms);
        let mut pins = lock(&self.pins);
        if let Some(list) = pins.get_mut(symbol) {
            for p in list.iter_mut().filter(|p| p.until_ms.is_none()) {
                p.until_ms = Some(until.max(p.from_ms + 1));
            }
        }
    }

    /// The last `count` grid points up to `now_ms`, oldest first: `(t_ms, price)`.
    pub(crate) fn recent_ticks(&self, symbol: &str, now_ms: i64, count: usize) -> Vec<(i64, f64)> {
        let Some(sampler) = self.sampler(symbol) else {
            return Vec::new();
        };
        let last = self.grid(now_ms);
        (0..count as i64)
            .rev()
            .map(|i| {
                let t = last - i * self.tick_ms;
                (t, sampler.price(t))
            })
            .collect()
    }

    /// Candles of `period_s` whose start lies in `[from_s, to_s]`, never past `now_ms`.
    ///
    /// Each candle samples the grid points inside it (strided for long candles), so every
    /// streamed tick of a short candle lies between its low and high.
    pub(crate) fn candles(
        &self,
        symbol: &str,
        period_s: i64,
        from_s: i64,
        to_s: i64,
        now_ms: i64,
        max_candles: usize,
    ) -> Vec<Candle> {
        let Some(sampler) = self.sampler(symbol) else {
            return Vec::new();
        };
        let period_s = period_s.max(1);
        let period_ms = period_s * 1000;
        let last_grid = self.grid(now_ms);
        let first = from_s.div_euclid(period_s) * period_s;
        let mut candles = Vec::new();
        let mut start_s = first;
        while start_s <= to_s && candles.len() < max_candles {
            let start_ms = start_s * 1000;
            if start_ms > last_grid {
                break;
            }
            // First grid point inside the candle.
            let first_pt = self.grid(start_ms + self.tick_ms - 1);
            let end_ms = (start_ms + period_ms - 1).min(last_grid);
            if first_pt <= end_ms {
                let points = (end_ms - first_pt) / self.tick_ms + 1;
                let stride =
                    ((points + MAX_SAMPLES_PER_CANDLE - 1) / MAX_SAMPLES_PER_CANDLE).max(1);
                let mut candle = Candle {
                    time_s: start_s,
                    open: sampler.price(first_pt),
                    close: 0.0,
                    high: f64::MIN,
                    low: f64::MAX,
                };
                let mut t = first_pt;
                let mut last_t = first_pt;
                while t <= end_ms {
                    let p = sampler.price(t);
                    candle.high = candle.high.max(p);
                    candle.low = candle.low.min(p);
                    last_t = t;
                    t += stride * self.tick_ms;
                }
                let last_pt = self.grid(end_ms);
                if last_pt != last_t {
                    let p = sampler.price(last_pt);
                    candle.high = candle.high.max(p);
                    candle.low = candle.low.min(p);
                }
                candle.close = sampler.price(last_pt);
                candles.push(candle);
            }
            start_s += period_s;
        }
        candles
    }

    /// The `chafor` payload pushed after `subfor`: `[[symbol, percent]]`, the share of
    /// traders on the call side, deterministic per (seed, asset, minute). The platform's
    /// items are documented only by their second element (a sentiment percentage); the
    /// symbol in first place is this simulator's choice.
    pub(crate) fn sentiment_payload(&self, symbol: &str, now_ms: i64) -> Option<Value> {
        let spec = self.asset(symbol)?;
        let minute = now_ms.div_euclid(60_000) as u64;
        let z = gaussian(hash(&[
            self.seed,
            u64::from(spec.id),
            minute,
            SENTIMENT_TAG,
        ]));
        let percent = (50.0 + 15.0 * z).round().clamp(0.0, 100.0) as u8;
        Some(json!([[spec.symbol, percent]]))
    }

    /// The `updateAssets` payload: an array of 19-element rows.
    pub(crate) fn assets_payload(&self) -> Value {
        let rows: Vec<Value> = self.with_assets(|assets| {
            assets
                .iter()
                .map(|a| {
                    let expiries: Vec<Value> =
                        a.expiries.iter().map(|t| json!({ "time": t })).collect();
                    json!([
                        a.id,
                        a.symbol,
                        a.name,
                        a.kind.as_str(),
                        2,
                        a.payout,
                        60,
                        30,
                        a.precision,
                        u8::from(a.otc),
                        200,
                        0,
                        [],
                        1_700_000_000,
                        a.active,
                        expiries,
                        -1440,
                        1_700_000_000,
                        5
                    ])
                })
                .collect()
        });
        Value::Array(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market(seed: u64) -> Market {
        Market::new(seed, 100, default_assets())
    }

    #[test]
    fn prices_are_deterministic_per_seed_and_instant() {
        let (a, b, c) = (market(7), market(7), market(8));
        let t = 1_732_288_888_100;
        let p = a.price_at("EURUSD_otc", t).unwrap();
        assert_eq!(Some(p), b.price_at("EURUSD_otc", t));
        assert_ne!(Some(p), c.price_at("EURUSD_otc", t));
        assert!((p - 1.08).abs() < 0.05, "{p}");
    }

    #[test]
    fn path_moves_like_a_random_walk_not_white_noise() {
        let m = market(3);
        let s = m.sampler("EURUSD_otc").unwrap();
        let t0 = 1_732_288_800_000_i64;
        let near = (s.price(t0) - s.price(t0 + 100)).abs();
        let far = (0..50)
            .map(|i| (s.price(t0 + i * 1000) - s.price(t0 + i * 1000 + 600_000)).abs())
            .sum::<f64>()
            / 50.0;
        assert!(near < far, "near {near} far {far}");
        assert!(far > 0.0);
    }

    #[test]
    fn pins_override_the_path_from_now_until_unpinned() {
        let m = market(1);
        let now = 1_732_288_888_000;
        let before = m.price_at("EURUSD_otc", now - 1000).unwrap();
        assert!(m.pin("EURUSD_otc", 2.0, now));
        assert_eq!(m.price_at("EURUSD_otc", now), Some(2.0));
        assert_eq!(m.price_at("EURUSD_otc", now + 5000), Some(2.0));
        assert_eq!(m.price_at("EURUSD_otc", now - 1000), Some(before));
        m.unpin("EURUSD_otc", now + 10_000);
        assert_ne!(m.price_at("EURUSD_otc", now + 10_000), Some(2.0));
        assert_eq!(m.price_at("EURUSD_otc", now + 5000), Some(2.0));
        assert!(!m.pin("NOPE", 1.0, now));
    }

    #[test]
    fn candles_contain_every_grid_price_inside_them() {
        let m = market(9);
        let now = 1_732_288_888_000;
        let candles = m.candles("EURUSD_otc", 5, (now / 1000) - 60, now / 1000, now, 100);
        assert!(candles.len() >= 12);
        for c in &candles {
            for t in (c.time_s * 1000..(c.time_s + 5) * 1000).step_by(100) {
                if t > now {
                    break;
                }
                let p = m.price_at("EURUSD_otc", t).unwrap();
                assert!(c.low <= p && p <= c.high, "{c:?} {p}");
            }
            assert_eq!(m.price_at("EURUSD_otc", c.time_s * 1000), Some(c.open));
        }
    }

    #[test]
    fn asset_rows_have_nineteen_fields() {
        let payload = market(1).assets_payload();
        let rows = payload.as_array().unwrap();
        assert!(rows.len() >= 15);
        for row in rows {
            let row = row.as_array().unwrap();
            assert_eq!(row.len(), 19);
            assert!(row[14].is_boolean());
            assert!(row[15].as_array().unwrap()[0]["time"].is_u64());
        }
    }
}
