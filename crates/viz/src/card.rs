//! A card: a title and lines of text on a page of a given size, for slides and posters.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::paint::*;
use crate::render::{render, DrawResult, Figure};
use crate::VizError;

/// Size of a card's title, larger than a figure's.
const CARD_TITLE: f64 = 36.0;
/// Size of a card's lines.
const CARD_TEXT: f64 = 22.0;
const LINE_GAP: i32 = 14;

struct Card {
    title: String,
    lines: Vec<String>,
    width: u32,
    height: u32,
}

/// Draws a card of `width × height` pixels: `title` in large bold type at the top left
/// and `lines` below it, each shortened to the width if needed. A figure placed on the
/// card later goes below the title (the lines may be empty for that).
pub fn draw_card(
    title: &str,
    lines: &[String],
    (width, height): (u32, u32),
    path: &Path,
) -> Result<(), VizError> {
    if width < 200 || height < 100 {
        return Err(VizError::InvalidInput(format!(
            "a card of {width}x{height} pixels is too small, at least 200x100"
        )));
    }
    render(
        &Card {
            title: title.to_string(),
            lines: lines.to_vec(),
            width,
            height,
        },
        path,
    )
}

impl Figure for Card {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let max = self.width as i32 - 2 * MARGIN;
        text(
            root,
            &fit_text(&self.title, max, CARD_TITLE, true),
            (MARGIN, MARGIN),
            Ink::bold(CARD_TITLE),
            Anchor::TopLeft,
        )?;
        let mut y = MARGIN + 70;
        for line in &self.lines {
            text(
                root,
                &fit_text(line, max, CARD_TEXT, false),
                (MARGIN, y),
                Ink::body(CARD_TEXT),
                Anchor::TopLeft,
            )?;
            y += CARD_TEXT as i32 + LINE_GAP;
        }
        Ok(())
    }
}
