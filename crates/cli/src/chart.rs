//! The candlestick chart `candles --png` writes: plotters draws into an RGB buffer with its
//! bitmap backend, `png` encodes it.
//!
//! The chart has no text (no fonts to find or ship): a light grid with one vertical line
//! per tenth of the time span and one horizontal line per tenth of the price range, green
//! candles for a rise, red for a fall, and the last close as a blue line. The numbers are
//! in the table/CSV/JSON output of the same command.

use std::path::Path;

use binary_options_tools::Candle;
use plotters::prelude::*;

/// Why a chart could not be written.
#[derive(Debug)]
pub(crate) enum ChartError {
    /// No candles, or a size too small to draw on.
    Nothing(String),
    /// Drawing failed.
    Draw(String),
    /// The file could not be written.
    Io(std::io::Error),
    /// The PNG encoder failed.
    Encode(String),
}

impl std::fmt::Display for ChartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChartError::Nothing(why) => write!(f, "nothing to draw: {why}"),
            ChartError::Draw(why) => write!(f, "drawing failed: {why}"),
            ChartError::Io(e) => write!(f, "{e}"),
            ChartError::Encode(why) => write!(f, "PNG encoding failed: {why}"),
        }
    }
}

impl std::error::Error for ChartError {}

const BACKGROUND: RGBColor = RGBColor(255, 255, 255);
const GRID: RGBColor = RGBColor(230, 230, 230);
const RISE: RGBColor = RGBColor(38, 166, 91);
const FALL: RGBColor = RGBColor(214, 69, 65);
const LAST: RGBColor = RGBColor(52, 120, 246);

/// Draws `candles` (oldest first, of `period` seconds) into a `width`×`height` RGB buffer.
pub(crate) fn render(
    candles: &[Candle],
    period: f64,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, ChartError> {
    if candles.is_empty() {
        return Err(ChartError::Nothing("no candles".to_owned()));
    }
    if width < 50 || height < 50 {
        return Err(ChartError::Nothing(format!(
            "{width}×{height} is too small (at least 50×50)"
        )));
    }
    let draw = |e: &dyn std::fmt::Display| ChartError::Draw(e.to_string());
    let mut buffer = vec![0_u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        root.fill(&BACKGROUND).map_err(|e| draw(&e))?;

        let first = candles[0].time;
        let last = candles[candles.len() - 1].time;
        let period = if period > 0.0 { period } else { 1.0 };
        let (x0, x1) = (first - period, last + period);
        let low = candles.iter().map(|c| c.low).fold(f64::INFINITY, f64::min);
        let high = candles
            .iter()
            .map(|c| c.high)
            .fold(f64::NEG_INFINITY, f64::max);
        // A flat series still gets a visible band around it.
        let pad = ((high - low) * 0.05).max(high.abs() * 1e-6).max(1e-9);
        let (y0, y1) = (low - pad, high + pad);

        let area = root.margin(12, 12, 12, 12);
        let mut chart = ChartBuilder::on(&area)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| draw(&e))?;
        let grid = ShapeStyle::from(&GRID).stroke_width(1);
        for i in 0..=10 {
            let x = x0 + (x1 - x0) * f64::from(i) / 10.0;
            let y = y0 + (y1 - y0) * f64::from(i) / 10.0;
            chart
                .draw_series([
                    PathElement::new(vec![(x, y0), (x, y1)], grid),
                    PathElement::new(vec![(x0, y), (x1, y)], grid),
                ])
                .map_err(|e| draw(&e))?;
        }
        let plot_width = f64::from(width.saturating_sub(24));
        let candle_px = (plot_width / (candles.len() as f64 + 2.0) * 0.7).clamp(1.0, 40.0) as u32;
        chart
            .draw_series(candles.iter().map(|c| {
                CandleStick::new(
                    c.time,
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    RISE.filled(),
                    FALL.filled(),
                    candle_px,
                )
            }))
            .map_err(|e| draw(&e))?;
        let close = candles[candles.len() - 1].close;
        chart
            .draw_series([PathElement::new(
                vec![(x0, close), (x1, close)],
                ShapeStyle::from(&LAST).stroke_width(1),
            )])
            .map_err(|e| draw(&e))?;
        root.present().map_err(|e| draw(&e))?;
    }
    Ok(buffer)
}

/// Encodes an RGB buffer as a PNG file at `path`.
pub(crate) fn write_png(
    path: &Path,
    rgb: &[u8],
    width: u32,
    height: u32,
) -> Result<(), ChartError> {
    let file = std::fs::File::create(path).map_err(ChartError::Io)?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| ChartError::Encode(e.to_string()))?;
    writer
        .write_image_data(rgb)
        .map_err(|e| ChartError::Encode(e.to_string()))?;
    writer
        .finish()
        .map_err(|e| ChartError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn candle(time: f64, open: f64, close: f64) -> Candle {
        Candle {
            asset: Arc::from("T"),
            time,
            open,
            high: open.max(close) + 0.5,
            low: open.min(close) - 0.5,
            close,
            ticks: 1,
        }
    }

    fn pixel(rgb: &[u8], width: u32, x: u32, y: u32) -> (u8, u8, u8) {
        let i = (y as usize * width as usize + x as usize) * 3;
        (rgb[i], rgb[i + 1], rgb[i + 2])
    }

    #[test]
    fn rising_and_falling_candles_get_their_colours() {
        let (w, h) = (200, 100);
        let candles = [candle(60.0, 10.0, 12.0), candle(120.0, 12.0, 10.0)];
        let rgb = render(&candles, 60.0, w, h).unwrap();
        let count = |colour: RGBColor| {
            (0..h)
                .flat_map(|y| (0..w).map(move |x| (x, y)))
                .filter(|&(x, y)| pixel(&rgb, w, x, y) == (colour.0, colour.1, colour.2))
                .count()
        };
        assert!(count(RISE) > 20, "no rising candle drawn");
        assert!(count(FALL) > 20, "no falling candle drawn");
        // The rising candle is left of the falling one.
        let first_x = |colour: RGBColor| {
            (0..w)
                .find(|&x| (0..h).any(|y| pixel(&rgb, w, x, y) == (colour.0, colour.1, colour.2)))
                .unwrap()
        };
        assert!(first_x(RISE) < first_x(FALL));
    }

    #[test]
    fn nothing_to_draw_is_an_error() {
        assert!(matches!(
            render(&[], 60.0, 100, 100),
            Err(ChartError::Nothing(_))
        ));
        assert!(matches!(
            render(&[candle(0.0, 1.0, 1.0)], 60.0, 10, 10),
            Err(ChartError::Nothing(_))
        ));
    }
}
