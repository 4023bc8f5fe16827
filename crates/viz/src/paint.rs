//! The shared look: palette, fonts, text, pixel blocks, colour bars and number formats.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontDesc, FontFamily, FontStyle, FontTransform};

use crate::colour::ColourScale;
use crate::data::Maps;
use crate::render::DrawResult;

/// Body text.
pub(crate) const INK: RGBColor = RGBColor(33, 37, 41);
/// Secondary text (units, notes).
pub(crate) const MUTED: RGBColor = RGBColor(108, 117, 125);
/// Hairlines and frames.
pub(crate) const RULE: RGBColor = RGBColor(206, 212, 218);
/// Light panel background.
pub(crate) const PANEL: RGBColor = RGBColor(248, 249, 250);
/// Training series.
pub(crate) const TRAIN: RGBColor = RGBColor(31, 119, 180);
/// Validation series.
pub(crate) const VALIDATION: RGBColor = RGBColor(230, 115, 0);
/// A wrong prediction.
pub(crate) const BAD: RGBColor = RGBColor(198, 40, 40);

/// Outer margin of every figure.
pub(crate) const MARGIN: i32 = 24;
/// Title size.
pub(crate) const TITLE: f64 = 22.0;
/// Subtitle and section heading size.
pub(crate) const HEADING: f64 = 15.0;
/// Labels.
pub(crate) const LABEL: f64 = 13.0;
/// Small notes and tick labels.
pub(crate) const SMALL: f64 = 11.0;
/// Height reserved for a title and subtitle block.
pub(crate) const TITLE_BLOCK: i32 = 62;

/// plotters' SVG backend writes `font-size` as the style's size divided by
/// this factor; sizes here are em sizes, so fonts are created this much larger.
pub(crate) const PLOTTERS_FONT_SCALE: f64 = 1.24;

/// The font at em size `size` (what SVG calls `font-size`).
pub(crate) fn font(size: f64, bold: bool) -> FontDesc<'static> {
    let style = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    FontDesc::new(FontFamily::SansSerif, size * PLOTTERS_FONT_SCALE, style)
}

/// Width of `text` in pixels at `size`.
pub(crate) fn text_width(text: &str, size: f64, bold: bool) -> i32 {
    // Falls back to an average glyph width if the font is unavailable; drawing
    // reports that error later anyway.
    match crate::typeset::measure(text, size, bold) {
        Some(w) => w.ceil() as i32,
        None => (text.chars().count() as f64 * size * 0.6).ceil() as i32,
    }
}

/// `text` shortened with an ellipsis so that it fits in `max_width` pixels.
pub(crate) fn fit_text(text: &str, max_width: i32, size: f64, bold: bool) -> String {
    if text_width(text, size, bold) <= max_width {
        return text.to_string();
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().collect::<String>() + "…";
        if text_width(&candidate, size, bold) <= max_width {
            return candidate;
        }
    }
    String::new()
}

/// Text placement: which point of the text box sits at the given coordinate.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Anchor {
    TopLeft,
    TopCenter,
    Left,
    Center,
    Right,
    BottomCenter,
}

impl Anchor {
    fn pos(self) -> Pos {
        let (h, v) = match self {
            Anchor::TopLeft => (HPos::Left, VPos::Top),
            Anchor::TopCenter => (HPos::Center, VPos::Top),
            Anchor::Left => (HPos::Left, VPos::Center),
            Anchor::Center => (HPos::Center, VPos::Center),
            Anchor::Right => (HPos::Right, VPos::Center),
            Anchor::BottomCenter => (HPos::Center, VPos::Bottom),
        };
        Pos::new(h, v)
    }
}

/// A text element's look.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ink {
    pub size: f64,
    pub bold: bool,
    pub colour: RGBColor,
}

impl Ink {
    pub(crate) const fn new(size: f64, bold: bool, colour: RGBColor) -> Self {
        Ink { size, bold, colour }
    }
    pub(crate) const fn body(size: f64) -> Self {
        Ink::new(size, false, INK)
    }
    pub(crate) const fn bold(size: f64) -> Self {
        Ink::new(size, true, INK)
    }
    pub(crate) const fn muted(size: f64) -> Self {
        Ink::new(size, false, MUTED)
    }
}

pub(crate) fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    at: (i32, i32),
    ink: Ink,
    anchor: Anchor,
) -> DrawResult<DB> {
    let style = font(ink.size, ink.bold)
        .color(&ink.colour)
        .pos(anchor.pos());
    area.draw_text(s, &style, at)
}

/// Text turned 90° counter-clockwise, centred on `at`.
pub(crate) fn vertical_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    at: (i32, i32),
    ink: Ink,
) -> DrawResult<DB> {
    let style = font(ink.size, ink.bold)
        .transform(FontTransform::Rotate270)
        .color(&ink.colour)
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw_text(s, &style, at)
}

/// The figure title (bold) and an optional subtitle below it, left-aligned.
pub(crate) fn title_block<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> DrawResult<DB> {
    text(
        area,
        title,
        (MARGIN, MARGIN - 4),
        Ink::bold(TITLE),
        Anchor::TopLeft,
    )?;
    if !subtitle.is_empty() {
        text(
            area,
            subtitle,
            (MARGIN, MARGIN + 26),
            Ink::muted(LABEL),
            Anchor::TopLeft,
        )?;
    }
    Ok(())
}

/// Width the title block asks for; very long titles are shortened instead of
/// widening the figure beyond this.
pub(crate) fn title_width(title: &str, subtitle: &str) -> i32 {
    const MAX_TITLE_WIDTH: i32 = 1600;
    text_width(title, TITLE, true)
        .max(text_width(subtitle, LABEL, false))
        .min(MAX_TITLE_WIDTH)
        + 2 * MARGIN
}

pub(crate) fn rect<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x0, y0): (i32, i32),
    (x1, y1): (i32, i32),
    colour: RGBColor,
    filled: bool,
) -> DrawResult<DB> {
    let style = if filled {
        colour.filled()
    } else {
        colour.stroke_width(1)
    };
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], style))
}

/// A 1-pixel frame drawn just outside the block at `(x, y)` of size `w` × `h`.
pub(crate) fn frame<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    (w, h): (i32, i32),
    colour: RGBColor,
) -> DrawResult<DB> {
    rect(area, (x - 1, y - 1), (x + w, y + h), colour, false)
}

pub(crate) fn line<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: Vec<(i32, i32)>,
    colour: RGBColor,
    width: u32,
) -> DrawResult<DB> {
    area.draw(&PathElement::new(points, colour.stroke_width(width)))
}

/// A `cols` × `rows` grid of cells, each `cell_w` × `cell_h` pixels, painted as
/// one bitmap (crisp in PNG, one embedded image in SVG).
#[allow(clippy::too_many_arguments)] // reason: a grid needs origin, counts, cell size and colour
pub(crate) fn cells<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    (cols, rows): (usize, usize),
    (cell_w, cell_h): (u32, u32),
    colour: impl Fn(usize, usize) -> [u8; 3],
) -> DrawResult<DB> {
    let width = cols as u32 * cell_w;
    let height = rows as u32 * cell_h;
    if width == 0 || height == 0 {
        return Ok(());
    }
    let mut buffer = vec![0u8; width as usize * height as usize * 3];
    let row_stride = width as usize * 3;
    for row in 0..rows {
        for col in 0..cols {
            let rgb = colour(col, row);
            for dy in 0..cell_h as usize {
                let py = row * cell_h as usize + dy;
                let start = py * row_stride + col * cell_w as usize * 3;
                for dx in 0..cell_w as usize {
                    buffer[start + dx * 3..start + dx * 3 + 3].copy_from_slice(&rgb);
                }
            }
        }
    }
    match BitMapElement::with_owned_buffer((x, y), (width, height), buffer) {
        Some(element) => area.draw(&element),
        None => Ok(()),
    }
}

/// One image channel (or RGB triple) drawn at `scale` pixels per input pixel.
pub(crate) fn image<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    maps: &Maps,
    index: usize,
    scale: u32,
) -> DrawResult<DB> {
    let item = maps.item(index);
    let plane = maps.h * maps.w;
    let grey = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    cells(area, at, (maps.w, maps.h), (scale, scale), |x, y| {
        let p = y * maps.w + x;
        if maps.c == 3 {
            [
                grey(item[p]),
                grey(item[plane + p]),
                grey(item[2 * plane + p]),
            ]
        } else {
            let g = grey(item[p]);
            [g, g, g]
        }
    })
}

/// Whole-pixel enlargement that brings an image of `side` pixels closest to
/// `target` pixels (at least 1): 28 → 3, 32 → 3, 48 → 2, 96 → 1 for a target of 84.
pub(crate) fn image_scale(side: usize, target: usize) -> u32 {
    if side == 0 {
        return 1;
    }
    let scale = (target as f64 / side as f64).round();
    scale.clamp(1.0, 64.0) as u32
}

/// Orientation of a colour bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Orientation {
    Horizontal,
    Vertical,
}

/// Space a vertical colour bar needs to the right of its left edge (bar plus tick labels).
pub(crate) fn vertical_bar_width(scale: &ColourScale, thickness: i32) -> i32 {
    let (lo, hi) = scale.range();
    let labels = [fmt_num(lo as f64), fmt_num(hi as f64)];
    thickness
        + 8
        + labels
            .iter()
            .map(|l| text_width(l, SMALL, false))
            .max()
            .unwrap_or(0)
}

/// A colour bar from the low end (left or bottom) to the high end, with tick
/// labels at both ends and at zero (diverging) or the middle (sequential).
pub(crate) fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    length: i32,
    thickness: i32,
    orientation: Orientation,
    scale: &ColourScale,
) -> DrawResult<DB> {
    let (lo, hi) = scale.range();
    let steps = length.max(2) as usize;
    let value_at = |i: usize| lo + (hi - lo) * i as f32 / (steps - 1) as f32;
    let mid = match scale {
        ColourScale::Diverging { .. } => 0.0,
        ColourScale::Sequential { .. } => (lo + hi) / 2.0,
    };
    let ticks = [(lo, 0.0f32), (mid, 0.5), (hi, 1.0)];
    match orientation {
        Orientation::Horizontal => {
            cells(area, (x, y), (steps, 1), (1, thickness as u32), |i, _| {
                scale.rgb(value_at(i))
            })?;
            frame(area, (x, y), (steps as i32, thickness), RULE)?;
            for (value, t) in ticks {
                let tx = x + (t * (steps - 1) as f32).round() as i32;
                line(
                    area,
                    vec![(tx, y + thickness), (tx, y + thickness + 3)],
                    MUTED,
                    1,
                )?;
                text(
                    area,
                    &fmt_num(value as f64),
                    (tx, y + thickness + 5),
                    Ink::muted(SMALL),
                    Anchor::TopCenter,
                )?;
            }
        }
        Orientation::Vertical => {
            cells(area, (x, y), (1, steps), (thickness as u32, 1), |_, i| {
                scale.rgb(value_at(steps - 1 - i))
            })?;
            frame(area, (x, y), (thickness, steps as i32), RULE)?;
            for (value, t) in ticks {
                let ty = y + ((1.0 - t) * (steps - 1) as f32).round() as i32;
                line(
                    area,
                    vec![(x + thickness, ty), (x + thickness + 3, ty)],
                    MUTED,
                    1,
                )?;
                text(
                    area,
                    &fmt_num(value as f64),
                    (x + thickness + 6, ty),
                    Ink::muted(SMALL),
                    Anchor::Left,
                )?;
            }
        }
    }
    Ok(())
}

/// A compact number: three significant digits, no trailing zeros.
pub(crate) fn fmt_num(v: f64) -> String {
    let a = v.abs();
    let s = if a == 0.0 {
        return "0".to_string();
    } else if !(1e-3..1e5).contains(&a) {
        return format!("{v:.1e}");
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `63470` → `63,470`: digits grouped by three, as the figures print counts.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `[16, 6, 6]` → `16×6×6`.
pub(crate) fn fmt_shape(shape: &[usize]) -> String {
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

/// A fraction in `[0, 1]` as a percentage.
pub(crate) fn fmt_percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if p != 0.0 && p.abs() < 0.1 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

/// Converts colours for plotters.
pub(crate) fn rgb(c: [u8; 3]) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compact() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1234.0), "1234");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(96.0), "96");
        assert_eq!(fmt_num(0.1), "0.1");
        assert_eq!(fmt_num(-0.5), "-0.5");
        assert_eq!(fmt_num(-1.234), "-1.23");
        assert_eq!(fmt_num(0.01234), "0.012");
        assert_eq!(fmt_num(0.0001), "1.0e-4");
        assert_eq!(group_thousands(63470), "63,470");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000_000), "1,000,000");
        assert_eq!(fmt_shape(&[16, 6, 6]), "16×6×6");
        assert_eq!(fmt_percent(0.9879), "98.8%");
        assert_eq!(fmt_percent(0.0005), "0.05%");
    }

    #[test]
    fn images_are_enlarged_towards_the_target_size() {
        assert_eq!(image_scale(28, 84), 3);
        assert_eq!(image_scale(32, 84), 3);
        assert_eq!(image_scale(48, 84), 2);
        assert_eq!(image_scale(96, 84), 1);
        assert_eq!(image_scale(500, 84), 1);
        assert_eq!(image_scale(1, 84), 64);
        assert_eq!(image_scale(0, 84), 1);
    }

    #[test]
    fn long_text_is_shortened_to_fit() {
        let long = "a rather long class name that cannot fit";
        let short = fit_text(long, 80, LABEL, false);
        assert!(short.ends_with('…'), "{short}");
        assert!(text_width(&short, LABEL, false) <= 80);
        assert_eq!(fit_text("Bag", 80, LABEL, false), "Bag");
    }
}
