//! Deterministic randomness: a counter-based hash (SplitMix64) and a small sequential
//! generator built on it.
//!
//! Every random thing the simulator does (price paths, session ids, deal ids) derives from
//! the seed through these functions, so two runs with the same seed behave alike. Hashing a
//! key instead of stepping a shared generator is what lets a price be computed for any
//! instant on demand, in any order, by any connection.

/// SplitMix64's finalizer: a well-mixed 64-bit hash of `x`.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Hashes a tuple of keys into one 64-bit value.
pub(crate) fn hash(keys: &[u64]) -> u64 {
    keys.iter()
        .fold(0x5151_5151_u64, |acc, &k| mix(acc ^ mix(k)))
}

/// A standard normal sample derived from a 64-bit hash (Box–Muller on its two halves).
pub(crate) fn gaussian(h: u64) -> f64 {
    let u1 = ((h >> 32) as f64 + 0.5) / 4_294_967_296.0;
    let u2 = ((h & 0xFFFF_FFFF) as f64 + 0.5) / 4_294_967_296.0;
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A sequential generator for ids.
#[derive(Debug, Clone)]
pub(crate) struct Sequence {
    state: u64,
}

impl Sequence {
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        Sequence {
            state: hash(&[seed, stream]),
        }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(1);
        mix(self.state)
    }

    /// A random (version 4 shaped) UUID string.
    pub(crate) fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xFFFF,
            a & 0x0FFF,
            ((b >> 48) & 0x3FFF) | 0x8000,
            b & 0xFFFF_FFFF_FFFF
        )
    }

    /// A random alphanumeric id of `len` characters (Engine.IO session ids).
    pub(crate) fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..len)
            .map(|_| ALPHABET[(self.next_u64() % ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_samples_have_unit_spread() {
        let n = 20_000;
        let samples: Vec<f64> = (0..n).map(|i| gaussian(hash(&[7, i]))).collect();
        let mean = samples.iter().sum::<f64>() / n as f64;
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
    }

    #[test]
    fn sequences_repeat_for_the_same_seed_and_differ_across_seeds() {
        let ids = |seed| {
            let mut s = Sequence::new(seed, 1);
            (0..3).map(|_| s.uuid()).collect::<Vec<_>>()
        };
        assert_eq!(ids(1), ids(1));
        assert_ne!(ids(1), ids(2));
        assert_eq!(ids(1)[0].len(), 36);
        assert_eq!(&ids(1)[0][14..15], "4");
    }
}
