//! From a laid-out figure to a file: backend by extension, embedded font, atomic write.

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::typeset::Typeset;
use crate::VizError;

/// The largest width or height of a figure, in pixels.
pub(crate) const MAX_SIDE: u32 = 16_384;

/// Result of drawing on a plotters area with backend `DB`.
pub(crate) type DrawResult<DB> =
    Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure whose data is validated and whose size is known; drawing cannot
/// fail except in the backend.
pub(crate) trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Paints the figure on a white canvas of [`Figure::size`].
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// The output format, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Png,
    Svg,
}

impl Format {
    /// `.png` or `.svg` (case-insensitive); anything else is an error naming the path.
    pub(crate) fn from_path(path: &Path) -> Result<Self, VizError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(VizError::UnsupportedFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Registers DejaVu Sans (regular and bold) as plotters' "sans-serif" once.
pub(crate) fn ensure_fonts() -> Result<(), VizError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        let regular = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let bold =
            plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
        regular.is_ok() && bold.is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(VizError::Font)
    }
}

/// Checks the path's format first (so a wrong extension costs nothing), then
/// draws `figure` and writes it atomically to `path`.
pub(crate) fn render<F: Figure>(figure: &F, path: &Path) -> Result<(), VizError> {
    let format = Format::from_path(path)?;
    ensure_fonts()?;
    let (width, height) = figure.size();
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(VizError::TooLarge {
            path: path.to_path_buf(),
            width: width.into(),
            height: height.into(),
            limit: MAX_SIDE,
        });
    }
    let draw_error = |message: String| VizError::Draw {
        path: path.to_path_buf(),
        message,
    };
    let bytes = match format {
        Format::Png => {
            let mut buffer = vec![255u8; width as usize * height as usize * 3];
            {
                let root = Typeset {
                    inner: BitMapBackend::with_buffer(&mut buffer, (width, height)),
                    rasterize: true,
                }
                .into_drawing_area();
                root.fill(&WHITE).map_err(|e| draw_error(e.to_string()))?;
                figure.draw(&root).map_err(|e| draw_error(e.to_string()))?;
                root.present().map_err(|e| draw_error(e.to_string()))?;
            }
            encode_png(&buffer, width, height).map_err(|message| VizError::Encode {
                path: path.to_path_buf(),
                message,
            })?
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = Typeset {
                    inner: SVGBackend::with_string(&mut svg, (width, height)),
                    rasterize: false,
                }
                .into_drawing_area();
                root.fill(&WHITE).map_err(|e| draw_error(e.to_string()))?;
                figure.draw(&root).map_err(|e| draw_error(e.to_string()))?;
                root.present().map_err(|e| draw_error(e.to_string()))?;
            }
            // plotters writes a bare "png" media type; viewers need "image/png".
            svg.replace("href=\"data:png;base64,", "href=\"data:image/png;base64,")
                .into_bytes()
        }
    };
    write_atomically(path, &bytes)
}

/// Draws `figure` into 8-bit RGB pixels (row-major, `width × height × 3`), as the PNG
/// files are drawn; the error is the backend's message.
pub(crate) fn render_rgb<F: Figure>(figure: &F) -> Result<Vec<u8>, String> {
    ensure_fonts().map_err(|e| e.to_string())?;
    let (width, height) = figure.size();
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "{width}x{height} pixels, more than the {MAX_SIDE}-pixel limit per side"
        ));
    }
    let mut buffer = vec![255u8; width as usize * height as usize * 3];
    {
        let root = Typeset {
            inner: BitMapBackend::with_buffer(&mut buffer, (width, height)),
            rasterize: true,
        }
        .into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        figure.draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buffer)
}

/// Encodes 8-bit RGB pixels as a PNG (deterministic: no timestamps, fixed settings).
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Default);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(rgb).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Writes `bytes` to `path` atomically and durably (temporary file, fsync, rename, fsync of
/// the folder: the `atomic-write-file` crate), so a reader never sees a half-written figure
/// and a failure leaves nothing behind. A replaced figure keeps its permissions.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), VizError> {
    let io_error = |source: std::io::Error| VizError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = atomic_write_file::AtomicWriteFile::open(path).map_err(io_error)?;
    file.write_all(bytes).map_err(io_error)?;
    file.commit().map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_extension() {
        assert_eq!(
            Format::from_path(Path::new("a/b.png")).ok(),
            Some(Format::Png)
        );
        assert_eq!(
            Format::from_path(Path::new("b.SVG")).ok(),
            Some(Format::Svg)
        );
        let err = Format::from_path(Path::new("out/figure.jpg")).unwrap_err();
        assert!(err.to_string().contains("out/figure.jpg"), "{err}");
        assert!(Format::from_path(Path::new("noext")).is_err());
    }

    #[test]
    fn png_encoding_is_a_valid_png() {
        let bytes = encode_png(&[255; 2 * 3 * 3], 2, 3).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&bytes[16..24], &[0, 0, 0, 2, 0, 0, 0, 3]);
    }
}
