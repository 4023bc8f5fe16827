//! Colour scales: a diverging blue-white-red scale centred on zero and sequential scales.

/// A named sequential palette, from low to high values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// Perceptually uniform dark purple → green → yellow (matplotlib's viridis).
    Viridis,
    /// White → dark blue (ColorBrewer Blues), for counts and probabilities.
    Blues,
    /// Black → white, for input images.
    Grey,
}

/// Maps a value to a colour.
///
/// ```
/// use convlens_viz::ColourScale;
/// let scale = ColourScale::diverging(2.0);
/// assert_eq!(scale.rgb(0.0), [255, 255, 255]);
/// assert_eq!(scale.rgb(2.0), ColourScale::DIVERGING_HIGH);
/// assert_eq!(scale.rgb(-5.0), ColourScale::DIVERGING_LOW); // clamped
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColourScale {
    /// Blue (−max) → white (0) → red (+max); values beyond ±max are clamped.
    Diverging {
        /// The magnitude mapped to the ends.
        max: f32,
    },
    /// `min` → low end of the palette, `max` → high end; clamped outside.
    Sequential {
        /// Value mapped to the low end.
        min: f32,
        /// Value mapped to the high end.
        max: f32,
        /// The colours.
        palette: Palette,
    },
}

const DIVERGING: [[u8; 3]; 9] = [
    [33, 102, 172],
    [67, 147, 195],
    [146, 197, 222],
    [209, 229, 240],
    [255, 255, 255],
    [253, 219, 199],
    [244, 165, 130],
    [214, 96, 77],
    [178, 24, 43],
];

const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [72, 40, 120],
    [62, 73, 137],
    [49, 104, 142],
    [38, 130, 142],
    [31, 158, 137],
    [53, 183, 121],
    [110, 206, 88],
    [253, 231, 37],
];

const BLUES: [[u8; 3]; 9] = [
    [247, 251, 255],
    [222, 235, 247],
    [198, 219, 239],
    [158, 202, 225],
    [107, 174, 214],
    [66, 146, 198],
    [33, 113, 181],
    [8, 81, 156],
    [8, 48, 107],
];

const GREY: [[u8; 3]; 2] = [[0, 0, 0], [255, 255, 255]];

impl ColourScale {
    /// Colour of `-max` on the diverging scale (blue).
    pub const DIVERGING_LOW: [u8; 3] = DIVERGING[0];
    /// Colour of `+max` on the diverging scale (red).
    pub const DIVERGING_HIGH: [u8; 3] = DIVERGING[8];

    /// A diverging scale symmetric around zero; `max` is taken by magnitude.
    pub fn diverging(max: f32) -> Self {
        ColourScale::Diverging { max: max.abs() }
    }

    /// A sequential scale from `min` to `max`.
    pub fn sequential(min: f32, max: f32, palette: Palette) -> Self {
        ColourScale::Sequential { min, max, palette }
    }

    /// The scale a set of activations or weights should share: diverging around
    /// zero (up to the largest magnitude) when any value is negative, otherwise
    /// viridis from 0 to the largest value.
    pub fn for_values(values: &[f32]) -> Self {
        let (lo, hi) = finite_range(values);
        if lo < 0.0 {
            Self::diverging(lo.abs().max(hi.abs()))
        } else {
            Self::sequential(0.0, hi, Palette::Viridis)
        }
    }

    /// The values at the two ends of the scale.
    pub fn range(&self) -> (f32, f32) {
        match *self {
            ColourScale::Diverging { max } => (-max, max),
            ColourScale::Sequential { min, max, .. } => (min, max),
        }
    }

    /// Where `value` falls on the scale, as a fraction in `[0, 1]`
    /// (0.5 is zero on a diverging scale). Non-finite values map to the middle
    /// of a diverging scale and the low end of a sequential one.
    pub fn fraction(&self, value: f32) -> f32 {
        let t = match *self {
            ColourScale::Diverging { max } => {
                if max > 0.0 {
                    0.5 + 0.5 * value / max
                } else {
                    0.5
                }
            }
            ColourScale::Sequential { min, max, .. } => {
                if max > min {
                    (value - min) / (max - min)
                } else {
                    0.0
                }
            }
        };
        if t.is_nan() {
            match self {
                ColourScale::Diverging { .. } => 0.5,
                ColourScale::Sequential { .. } => 0.0,
            }
        } else {
            t.clamp(0.0, 1.0)
        }
    }

    /// The colour of `value` as `[r, g, b]`.
    pub fn rgb(&self, value: f32) -> [u8; 3] {
        let stops: &[[u8; 3]] = match self {
            ColourScale::Diverging { .. } => &DIVERGING,
            ColourScale::Sequential { palette, .. } => match palette {
                Palette::Viridis => &VIRIDIS,
                Palette::Blues => &BLUES,
                Palette::Grey => &GREY,
            },
        };
        interpolate(stops, self.fraction(value))
    }
}

/// Linear interpolation between evenly spaced colour stops.
fn interpolate(stops: &[[u8; 3]], t: f32) -> [u8; 3] {
    let segments = (stops.len() - 1) as f32;
    let position = t * segments;
    let index = (position.floor() as usize).min(stops.len() - 2);
    let local = position - index as f32;
    let (a, b) = (stops[index], stops[index + 1]);
    let mix = |i: usize| -> u8 {
        let v = a[i] as f32 + (b[i] as f32 - a[i] as f32) * local;
        v.round().clamp(0.0, 255.0) as u8
    };
    [mix(0), mix(1), mix(2)]
}

/// Smallest and largest finite values (0, 0 when there are none).
pub(crate) fn finite_range(values: &[f32]) -> (f32, f32) {
    let mut lo = f32::INFINITY;
    let mut hi = f32::NEG_INFINITY;
    for &v in values.iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        (0.0, 0.0)
    } else {
        (lo, hi)
    }
}

/// Relative luminance, to pick dark or light text on a coloured cell.
pub(crate) fn is_dark(rgb: [u8; 3]) -> bool {
    let [r, g, b] = rgb.map(|c| c as f32 / 255.0);
    0.299 * r + 0.587 * g + 0.114 * b < 0.55
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverging_maps_zero_to_white_and_extremes_to_ends() {
        let s = ColourScale::diverging(0.8);
        assert_eq!(s.rgb(0.0), [255, 255, 255]);
        assert_eq!(s.rgb(0.8), ColourScale::DIVERGING_HIGH);
        assert_eq!(s.rgb(-0.8), ColourScale::DIVERGING_LOW);
        assert_eq!(s.rgb(3.0), ColourScale::DIVERGING_HIGH);
        assert_eq!(s.rgb(-3.0), ColourScale::DIVERGING_LOW);
        // Halfway towards the positive end is reddish, towards the negative bluish.
        let [r, _, b] = s.rgb(0.4);
        assert!(r > b);
        let [r, _, b] = s.rgb(-0.4);
        assert!(b > r);
    }

    #[test]
    fn diverging_with_zero_max_is_white() {
        assert_eq!(ColourScale::diverging(0.0).rgb(1.0), [255, 255, 255]);
    }

    #[test]
    fn sequential_ends_and_clamping() {
        let s = ColourScale::sequential(1.0, 3.0, Palette::Grey);
        assert_eq!(s.rgb(1.0), [0, 0, 0]);
        assert_eq!(s.rgb(3.0), [255, 255, 255]);
        assert_eq!(s.rgb(2.0), [128, 128, 128]);
        assert_eq!(s.rgb(-10.0), [0, 0, 0]);
        assert_eq!(s.rgb(f32::NAN), [0, 0, 0]);
        let v = ColourScale::sequential(0.0, 1.0, Palette::Viridis);
        assert_eq!(v.rgb(0.0), VIRIDIS[0]);
        assert_eq!(v.rgb(1.0), VIRIDIS[8]);
    }

    #[test]
    fn scale_for_values_picks_diverging_only_for_signed_data() {
        assert_eq!(
            ColourScale::for_values(&[-0.5, 2.0]),
            ColourScale::diverging(2.0)
        );
        assert_eq!(
            ColourScale::for_values(&[0.0, 2.0, f32::NAN]),
            ColourScale::sequential(0.0, 2.0, Palette::Viridis)
        );
        assert_eq!(ColourScale::for_values(&[-3.0, 2.0]).range(), (-3.0, 3.0));
    }

    #[test]
    fn dark_cells_get_light_text() {
        assert!(is_dark([8, 48, 107]));
        assert!(!is_dark([247, 251, 255]));
    }
}
