//! The public colour scales.

use convlens_viz::{ColourScale, Palette};

#[test]
fn diverging_scale_is_white_at_zero_and_reaches_its_ends_at_plus_minus_max() {
    for max in [0.01f32, 1.0, 250.0] {
        let s = ColourScale::diverging(max);
        assert_eq!(s.rgb(0.0), [255, 255, 255], "max {max}");
        assert_eq!(s.rgb(max), ColourScale::DIVERGING_HIGH);
        assert_eq!(s.rgb(-max), ColourScale::DIVERGING_LOW);
        assert_eq!(s.range(), (-max, max));
        // Symmetric: equal distances from zero are equally far from white.
        let lightness = |c: [u8; 3]| c.iter().map(|&v| v as u32).sum::<u32>();
        let (up, down) = (s.rgb(max * 0.5), s.rgb(-max * 0.5));
        assert!(lightness(up).abs_diff(lightness(down)) < 80);
        assert!(up[0] > up[2] && down[2] > down[0]);
    }
    assert_eq!(ColourScale::diverging(-2.0), ColourScale::diverging(2.0));
    assert_ne!(ColourScale::DIVERGING_HIGH, ColourScale::DIVERGING_LOW);
}

#[test]
fn sequential_scale_runs_between_its_bounds() {
    let s = ColourScale::sequential(0.0, 10.0, Palette::Blues);
    assert_eq!(s.fraction(5.0), 0.5);
    assert_eq!(s.fraction(20.0), 1.0);
    assert_eq!(s.fraction(-1.0), 0.0);
    let lightness = |c: [u8; 3]| c.iter().map(|&v| v as u32).sum::<u32>();
    assert!(lightness(s.rgb(0.0)) > lightness(s.rgb(5.0)));
    assert!(lightness(s.rgb(5.0)) > lightness(s.rgb(10.0)));
}
