//! Figure 1: the network as a chain of blocks, input to logits.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::paint::*;
use crate::render::{render, DrawResult, Figure};
use crate::VizError;

/// One layer of the network as the architecture diagram shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlock {
    /// Layer name, e.g. `conv1`. Its prefix picks the block colour:
    /// `conv`, `relu`, `maxp`/`pool`, `flatten`, `fc`/`linear`; anything else is grey.
    pub name: String,
    /// Output shape of one sample, without the batch axis, e.g. `[3, 32, 32]`.
    pub output_shape: Vec<usize>,
    /// Number of trainable parameters.
    pub params: usize,
}

impl LayerBlock {
    /// A block named `name` with `output_shape` and `params` parameters.
    pub fn new(name: impl Into<String>, output_shape: &[usize], params: usize) -> Self {
        LayerBlock {
            name: name.into(),
            output_shape: output_shape.to_vec(),
            params,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Input,
    Conv,
    Activation,
    Pool,
    Reshape,
    Linear,
    Other,
}

impl Kind {
    fn of(name: &str) -> Kind {
        let n = name.to_ascii_lowercase();
        if n.starts_with("conv") {
            Kind::Conv
        } else if n.starts_with("relu") || n.starts_with("act") || n.starts_with("softmax") {
            Kind::Activation
        } else if n.starts_with("maxp") || n.contains("pool") {
            Kind::Pool
        } else if n.starts_with("flatten") || n.starts_with("reshape") {
            Kind::Reshape
        } else if n.starts_with("fc") || n.starts_with("linear") || n.starts_with("dense") {
            Kind::Linear
        } else {
            Kind::Other
        }
    }

    fn colour(self) -> RGBColor {
        match self {
            Kind::Input => RGBColor(73, 80, 87),
            Kind::Conv => RGBColor(31, 119, 180),
            Kind::Activation => RGBColor(230, 115, 0),
            Kind::Pool => RGBColor(44, 160, 44),
            Kind::Reshape => RGBColor(127, 127, 127),
            Kind::Linear => RGBColor(148, 103, 189),
            Kind::Other => RGBColor(140, 86, 75),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Input => "input",
            Kind::Conv => "convolution",
            Kind::Activation => "activation",
            Kind::Pool => "max pooling",
            Kind::Reshape => "reshape",
            Kind::Linear => "fully connected",
            Kind::Other => "other",
        }
    }
}

/// A light tint of `c` for block backgrounds.
fn tint(c: RGBColor, amount: f64) -> RGBColor {
    let mix = |v: u8| (v as f64 * amount + 255.0 * (1.0 - amount)).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

struct Block {
    name: String,
    shape: String,
    params: String,
    kind: Kind,
}

struct Architecture {
    title: String,
    subtitle: String,
    blocks: Vec<Block>,
    kinds: Vec<Kind>,
    total: String,
    per_row: usize,
    block_w: i32,
    width: u32,
    height: u32,
}

const BLOCK_H: i32 = 96;
const ARROW: i32 = 38;
const ROW_GAP: i32 = 56;
const STRIPE: i32 = 6;
const FOOTER: i32 = 64;

/// Draws the network as a chain of blocks from the input to the logits: each
/// block shows the layer name, its output shape and its parameter count (with
/// its share of the total); the footer gives the total and a colour legend.
///
/// `input_shape` is one sample's shape without the batch axis, e.g. `[1, 28, 28]`.
pub fn draw_architecture(
    layers: &[LayerBlock],
    input_shape: &[usize],
    title: &str,
    path: &Path,
) -> Result<(), VizError> {
    let figure = Architecture::new(layers, input_shape, title)?;
    render(&figure, path)
}

impl Architecture {
    fn new(layers: &[LayerBlock], input_shape: &[usize], title: &str) -> Result<Self, VizError> {
        crate::data::check_non_empty("layers", layers.len())?;
        if input_shape.is_empty() || input_shape.contains(&0) {
            return Err(VizError::InvalidInput(format!(
                "input_shape {input_shape:?} must be non-empty with no zero dimension"
            )));
        }
        for (i, layer) in layers.iter().enumerate() {
            if layer.name.trim().is_empty() {
                return Err(VizError::InvalidInput(format!(
                    "layer {i} has an empty name"
                )));
            }
            if layer.output_shape.is_empty() || layer.output_shape.contains(&0) {
                return Err(VizError::InvalidInput(format!(
                    "layer {} has output_shape {:?}, expected a non-empty shape with no zero dimension",
                    layer.name, layer.output_shape
                )));
            }
        }
        let total: u64 = layers.iter().map(|l| l.params as u64).sum();
        let mut blocks = vec![Block {
            name: "input".to_string(),
            shape: fmt_shape(input_shape),
            params: "no parameters".to_string(),
            kind: Kind::Input,
        }];
        for layer in layers {
            let params = if layer.params == 0 {
                "no parameters".to_string()
            } else {
                let share = layer.params as f64 / total.max(1) as f64;
                format!(
                    "{} params · {:.0}%",
                    group_thousands(layer.params as u64),
                    (share * 100.0).max(if share > 0.0 { 1.0 } else { 0.0 })
                )
            };
            blocks.push(Block {
                name: layer.name.clone(),
                shape: fmt_shape(&layer.output_shape),
                params,
                kind: Kind::of(&layer.name),
            });
        }
        let mut kinds: Vec<Kind> = Vec::new();
        for b in &blocks {
            if !kinds.contains(&b.kind) {
                kinds.push(b.kind);
            }
        }
        let block_w = blocks
            .iter()
            .map(|b| {
                text_width(&b.name, HEADING, true)
                    .max(text_width(&b.shape, LABEL, false))
                    .max(text_width(&b.params, SMALL, false))
            })
            .max()
            .unwrap_or(0)
            .max(112)
            + 20;
        let n = blocks.len();
        let per_row = if n <= 7 { n } else { n.div_ceil(2).min(8) };
        let rows = n.div_ceil(per_row) as i32;
        let output = layers
            .last()
            .map(|l| fmt_shape(&l.output_shape))
            .unwrap_or_default();
        let subtitle = format!(
            "{} layers · input {} → output {} · {} trainable parameters",
            layers.len(),
            fmt_shape(input_shape),
            output,
            group_thousands(total)
        );
        let content_w = per_row as i32 * block_w + (per_row as i32 - 1) * ARROW + 2 * MARGIN;
        let legend_w: i32 = kinds
            .iter()
            .map(|k| 14 + 6 + text_width(k.label(), LABEL, false) + 22)
            .sum::<i32>()
            + 2 * MARGIN;
        let width = content_w.max(title_width(title, &subtitle)).max(legend_w);
        let height = TITLE_BLOCK + 12 + rows * BLOCK_H + (rows - 1) * ROW_GAP + FOOTER + MARGIN;
        Ok(Architecture {
            title: title.to_string(),
            subtitle,
            blocks,
            kinds,
            total: format!("Total: {} trainable parameters", group_thousands(total)),
            per_row,
            block_w,
            width: width as u32,
            height: height as u32,
        })
    }

    fn origin(&self, index: usize) -> (i32, i32) {
        let row = (index / self.per_row) as i32;
        let col = (index % self.per_row) as i32;
        let content_w = self.per_row as i32 * self.block_w + (self.per_row as i32 - 1) * ARROW;
        let left = (self.width as i32 - content_w) / 2;
        (
            left + col * (self.block_w + ARROW),
            TITLE_BLOCK + 12 + row * (BLOCK_H + ROW_GAP),
        )
    }
}

fn arrow_head<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    tip: (i32, i32),
    direction: (i32, i32),
) -> DrawResult<DB> {
    let (x, y) = tip;
    let points = match direction {
        (1, 0) => vec![(x, y), (x - 8, y - 5), (x - 8, y + 5)],
        _ => vec![(x, y), (x - 5, y - 8), (x + 5, y - 8)],
    };
    area.draw(&Polygon::new(points, MUTED.filled()))
}

impl Figure for Architecture {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        title_block(root, &self.title, &self.subtitle)?;
        let bw = self.block_w;
        for (i, block) in self.blocks.iter().enumerate() {
            let (x, y) = self.origin(i);
            let colour = block.kind.colour();
            rect(
                root,
                (x, y),
                (x + bw, y + BLOCK_H),
                tint(colour, 0.10),
                true,
            )?;
            rect(root, (x, y), (x + bw, y + STRIPE), colour, true)?;
            rect(
                root,
                (x, y),
                (x + bw, y + BLOCK_H),
                tint(colour, 0.55),
                false,
            )?;
            let cx = x + bw / 2;
            text(
                root,
                &block.name,
                (cx, y + STRIPE + 12),
                Ink::bold(HEADING),
                Anchor::TopCenter,
            )?;
            text(
                root,
                &block.shape,
                (cx, y + STRIPE + 40),
                Ink::body(LABEL),
                Anchor::TopCenter,
            )?;
            text(
                root,
                &block.params,
                (cx, y + STRIPE + 64),
                Ink::muted(SMALL),
                Anchor::TopCenter,
            )?;

            if i + 1 < self.blocks.len() {
                let (nx, ny) = self.origin(i + 1);
                if ny == y {
                    let mid = y + BLOCK_H / 2;
                    line(root, vec![(x + bw + 4, mid), (nx - 5, mid)], MUTED, 2)?;
                    arrow_head(root, (nx - 3, mid), (1, 0))?;
                } else {
                    // Down from this block, back to the start of the next row, down into it.
                    let turn = y + BLOCK_H + ROW_GAP / 2;
                    let next_cx = nx + bw / 2;
                    line(
                        root,
                        vec![
                            (cx, y + BLOCK_H + 4),
                            (cx, turn),
                            (next_cx, turn),
                            (next_cx, ny - 5),
                        ],
                        MUTED,
                        2,
                    )?;
                    arrow_head(root, (next_cx, ny - 3), (0, 1))?;
                }
            }
        }
        let footer_y = self.height as i32 - MARGIN - FOOTER + 18;
        text(
            root,
            &self.total,
            (MARGIN, footer_y),
            Ink::bold(LABEL),
            Anchor::TopLeft,
        )?;
        let mut x = MARGIN;
        let legend_y = footer_y + 28;
        for kind in &self.kinds {
            rect(
                root,
                (x, legend_y),
                (x + 14, legend_y + 14),
                kind.colour(),
                true,
            )?;
            text(
                root,
                kind.label(),
                (x + 20, legend_y + 7),
                Ink::body(LABEL),
                Anchor::Left,
            )?;
            x += 14 + 6 + text_width(kind.label(), LABEL, false) + 22;
        }
        Ok(())
    }
}
