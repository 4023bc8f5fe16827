//! Text for bitmap output: DejaVu Sans laid out with side bearings and kerning,
//! sized like the SVG backend's `font-size` so PNG and SVG figures match.
//!
//! plotters' own ab_glyph text drops each glyph's left side bearing (uneven
//! letter spacing) and scales fonts by line height rather than em size, so the
//! bitmap backend is wrapped in [`Typeset`], which draws text itself and
//! forwards everything else.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters_backend::text_anchor::{HPos, VPos};

use crate::paint::PLOTTERS_FONT_SCALE;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
    FontStyle,
};

struct Faces {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

fn faces() -> Option<&'static Faces> {
    static FACES: OnceLock<Option<Faces>> = OnceLock::new();
    FACES
        .get_or_init(|| {
            Some(Faces {
                regular: FontRef::try_from_slice(dejavu::sans::regular()).ok()?,
                bold: FontRef::try_from_slice(dejavu::sans::bold()).ok()?,
            })
        })
        .as_ref()
}

/// DejaVu Sans x-height in em, which SVG viewers use for `0.5ex` centring.
const X_HEIGHT: f64 = 0.545;
/// SVG top anchoring puts the baseline this many em below the anchor.
const TOP_BASELINE: f64 = 0.76;

fn face(bold: bool) -> Option<&'static FontRef<'static>> {
    faces().map(|f| if bold { &f.bold } else { &f.regular })
}

/// ab_glyph scales by line height; convert an em size (CSS `font-size`) to that.
fn px_scale(font: &FontRef<'static>, size: f64) -> PxScale {
    let units = font.units_per_em().unwrap_or(2048.0);
    PxScale::from(size as f32 * font.height_unscaled() / units)
}

/// Advance width of `text` in pixels at em size `size`; `None` if the font is unavailable.
pub(crate) fn measure(text: &str, size: f64, bold: bool) -> Option<f64> {
    let font = face(bold)?;
    let scaled = font.as_scaled(px_scale(font, size));
    let mut width = 0.0f32;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            width += scaled.kern(p, id);
        }
        width += scaled.h_advance(id);
        previous = Some(id);
    }
    Some(width as f64)
}

/// Calls `plot(x, y, coverage)` for every pixel of `text` with the baseline's
/// left end at the origin.
fn rasterize(text: &str, size: f64, bold: bool, mut plot: impl FnMut(i32, i32, f32)) {
    let Some(font) = face(bold) else { return };
    let scaled = font.as_scaled(px_scale(font, size));
    let mut caret = 0.0f32;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scaled.scale(), point(caret, 0.0));
        if let Some(outline) = scaled.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            let (x0, y0) = (bounds.min.x as i32, bounds.min.y as i32);
            outline.draw(|x, y, coverage| plot(x0 + x as i32, y0 + y as i32, coverage));
        }
        caret += scaled.h_advance(id);
        previous = Some(id);
    }
}

/// A drawing backend whose text is measured by this module and, for bitmaps,
/// also drawn by it (`rasterize: false` leaves drawing to the wrapped backend,
/// e.g. SVG `<text>` elements, while keeping measurements consistent).
pub(crate) struct Typeset<DB> {
    pub inner: DB,
    pub rasterize: bool,
}

impl<DB: DrawingBackend> DrawingBackend for Typeset<DB> {
    type ErrorType = DB::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        if !self.rasterize {
            return self.inner.draw_text(text, style, pos);
        }
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let size = style.size() / PLOTTERS_FONT_SCALE;
        let bold = matches!(style.style(), FontStyle::Bold);
        let width = measure(text, size, bold).unwrap_or(0.0);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        // The same vertical placement as the SVG backend's `dy`.
        let baseline = match anchor.v_pos {
            VPos::Top => TOP_BASELINE * size,
            VPos::Center => 0.5 * X_HEIGHT * size,
            VPos::Bottom => -0.5 * X_HEIGHT * size,
        };
        let (dx, baseline) = (dx.round() as i32, baseline.round() as i32);
        let transform = style.transform();
        let (w, h) = self.get_size();
        let mut result = Ok(());
        rasterize(text, size, bold, |x, y, coverage| {
            if result.is_err() || coverage <= 0.0 {
                return;
            }
            let (tx, ty) = transform.transform(x + dx, y + baseline);
            let (px, py) = (pos.0 + tx, pos.1 + ty);
            if px >= 0 && py >= 0 && px < w as i32 && py < h as i32 {
                result = self.inner.draw_pixel(
                    (px, py),
                    BackendColor {
                        alpha: color.alpha * coverage.min(1.0) as f64,
                        rgb: color.rgb,
                    },
                );
            }
        });
        result
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let size = style.size() / PLOTTERS_FONT_SCALE;
        let bold = matches!(style.style(), FontStyle::Bold);
        let width = measure(text, size, bold).unwrap_or(0.0);
        Ok((width.ceil() as u32, size.ceil() as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wider_text_measures_wider_and_bold_is_wider() {
        let narrow = measure("il", 13.0, false).unwrap();
        let wide = measure("WM", 13.0, false).unwrap();
        assert!(wide > 2.0 * narrow, "{wide} vs {narrow}");
        assert!(
            measure("Ankle boot", 13.0, true).unwrap()
                > measure("Ankle boot", 13.0, false).unwrap()
        );
        // Em sizing: a DejaVu "M" is a bit under one em wide.
        let m = measure("M", 100.0, false).unwrap();
        assert!((75.0..100.0).contains(&m), "{m}");
    }

    #[test]
    fn rasterized_glyphs_sit_on_the_baseline_and_keep_their_spacing() {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        rasterize("ll", 20.0, false, |x, y, c| {
            if c > 0.5 {
                xs.push(x);
                ys.push(y);
            }
        });
        // Ascenders go above the baseline (negative y), nothing far below it.
        assert!(ys.iter().min().copied().unwrap_or(0) < -10);
        assert!(ys.iter().max().copied().unwrap_or(0) <= 1);
        // Both "l"s are drawn with a gap between them: two separate column runs.
        xs.sort_unstable();
        xs.dedup();
        let runs = 1 + xs.windows(2).filter(|w| w[1] - w[0] > 1).count();
        assert_eq!(runs, 2, "{xs:?}");
    }
}
