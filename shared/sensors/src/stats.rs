//! The figures of a set of readings (count, exact sum, min, max), and where a mean stands
//! against a band.
//!
//! The sum is exact: a float sum depends on the order of its terms, so two arrivals of the same
//! readings could disagree in the last bit of a mean, and a mean at a band's edge could flip
//! its verdict. [`ExactSum`] keeps the sum as non-overlapping partials (Shewchuk's algorithm,
//! as Python's `math.fsum`) and rounds it once, correctly: any order gives the same mean.

use serde::{Deserialize, Serialize};

use crate::events::Direction;

/// The largest magnitude a reading's value may have. Exact sums of up to 10^8 such values
/// cannot overflow a float; no physical reading comes near it.
pub const MAX_MAGNITUDE: f64 = 1e300;

/// An exact sum of floats, rounded once when read ([`ExactSum::value`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExactSum {
    /// Non-overlapping partial sums in increasing magnitude; their exact total is the sum.
    partials: Vec<f64>,
}

impl ExactSum {
    /// Adds `x`, exactly. `x` must be finite with a magnitude of at most [`MAX_MAGNITUDE`].
    pub fn add(&mut self, x: f64) {
        let mut x = x;
        let mut kept = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        self.partials.truncate(kept);
        self.partials.push(x);
    }

    /// The sum, correctly rounded to the nearest float (ties to even): the same whatever the
    /// order the terms were added in.
    pub fn value(&self) -> f64 {
        let p = &self.partials;
        let Some(&top) = p.last() else {
            return 0.0;
        };
        let (mut n, mut hi, mut lo) = (p.len() - 1, top, 0.0);
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        // Round half to even across the partials left: when the rest pushes the same way as the
        // half, the sum is past the half and rounds away.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }
}

/// Count, exact sum, min and max of a non-empty set of values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// How many values.
    pub count: u64,
    /// Their exact sum.
    pub sum: ExactSum,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Stats {
    /// The figures of the single value `x` (`-0.0` is counted as `0.0`, so min and max do
    /// not depend on which zero came first).
    pub fn of(x: f64) -> Self {
        let x = x + 0.0;
        let mut sum = ExactSum::default();
        sum.add(x);
        Self {
            count: 1,
            sum,
            min: x,
            max: x,
        }
    }

    /// Adds `x`.
    pub fn add(&mut self, x: f64) {
        let x = x + 0.0;
        self.count += 1;
        self.sum.add(x);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// The mean, the min and the max, as events carry them.
    pub fn figures(&self) -> Figures {
        #[allow(clippy::cast_precision_loss)] // a count is far below 2^53
        let mean = self.sum.value() / self.count as f64;
        Figures {
            count: self.count,
            mean,
            min: self.min,
            max: self.max,
        }
    }
}

/// What a window's readings add up to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// How many distinct readings.
    pub count: u64,
    /// Their mean (the exact sum, rounded, divided by the count).
    pub mean: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

/// Where `mean` stands against the band `low..=high`: above it, below it, or inside (`None`).
/// The band's limits are inside.
pub fn outside(mean: f64, low: f64, high: f64) -> Option<Direction> {
    if mean > high {
        Some(Direction::Above)
    } else if mean < low {
        Some(Direction::Below)
    } else {
        None
    }
}

/// Whether `value` may be counted: finite, with a magnitude of at most [`MAX_MAGNITUDE`].
pub fn is_countable(value: f64) -> bool {
    value.is_finite() && value.abs() <= MAX_MAGNITUDE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(values: &[f64]) -> f64 {
        let mut sum = ExactSum::default();
        values.iter().for_each(|&v| sum.add(v));
        sum.value()
    }

    #[test]
    fn given_terms_that_cancel_then_the_exact_sum_keeps_what_a_float_sum_loses() {
        assert_eq!([1e100, 1.0, -1e100].iter().sum::<f64>(), 0.0);
        assert_eq!(exact(&[1e100, 1.0, -1e100]), 1.0);
        assert_eq!(exact(&[0.1; 10]), 1.0);
        assert_ne!([0.1; 10].iter().sum::<f64>(), 1.0);
    }

    #[test]
    fn given_any_order_then_the_exact_sum_is_the_same() {
        let values = [0.1, 0.2, 0.3, 1e16, -1e16, 3.3, 7e-12, 21.55];
        let forward = exact(&values);
        let mut backward = values;
        backward.reverse();
        assert_eq!(forward.to_bits(), exact(&backward).to_bits());
        let (a, b) = ((0.1 + 0.2) + 0.3, 0.1 + (0.2 + 0.3));
        assert_ne!(a, b, "float addition is not associative");
        assert_eq!(exact(&[0.1, 0.2, 0.3]), exact(&[0.3, 0.2, 0.1]));
    }

    #[test]
    fn given_a_half_way_sum_then_it_rounds_to_even() {
        // 1 + 2^-53 is half way between 1 and the next float: ties go to the even one, 1. With
        // one more tiny term in the same direction it is past the half and rounds up.
        let half = 2f64.powi(-53);
        assert_eq!(exact(&[1.0, half]), 1.0);
        assert_eq!(exact(&[1.0, half, half * 1e-10]), 1.0 + 2.0 * half);
        assert_eq!(exact(&[half * 1e-10, half, 1.0]), 1.0 + 2.0 * half);
    }

    #[test]
    fn given_values_then_figures_and_side_of_the_band_follow() {
        let mut stats = Stats::of(-0.0);
        stats.add(4.0);
        stats.add(2.0);
        let figures = stats.figures();
        assert_eq!(
            (figures.count, figures.mean, figures.min, figures.max),
            (3, 2.0, 0.0, 4.0)
        );
        assert!(figures.min.is_sign_positive());
        assert_eq!(outside(2.0, 0.0, 2.0), None);
        assert_eq!(outside(2.5, 0.0, 2.0), Some(Direction::Above));
        assert_eq!(outside(-0.5, 0.0, 2.0), Some(Direction::Below));
        assert!(is_countable(1e300) && !is_countable(1e301) && !is_countable(f64::NAN));
    }
}
