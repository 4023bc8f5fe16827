//! Inputs and file checks shared by the tests.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use convlens_viz::{EpochPoint, LayerBlock, LayerStats, Misclassified};

pub const FASHION: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

pub fn class_names() -> Vec<String> {
    FASHION.iter().map(|s| s.to_string()).collect()
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// A deterministic tensor of the given shape with values `offset + scale * sin(i)`.
pub fn wave(shape: &[usize], scale: f32, offset: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|i| offset + scale * (i as f32 * 0.37).sin())
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).expect("tensor")
}

/// Images in [0, 1].
pub fn images(n: usize) -> Tensor {
    wave(&[n, 1, 28, 28], 0.5, 0.5)
}

pub fn captions(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("true {} / pred {}", FASHION[i % 10], FASHION[(i + 1) % 10]))
        .collect()
}

pub fn lenet_blocks() -> Vec<LayerBlock> {
    vec![
        LayerBlock::new("conv1", &[3, 32, 32], 30),
        LayerBlock::new("relu1", &[3, 32, 32], 0),
        LayerBlock::new("maxp1", &[3, 16, 16], 0),
        LayerBlock::new("conv2", &[16, 12, 12], 1216),
        LayerBlock::new("relu2", &[16, 12, 12], 0),
        LayerBlock::new("maxp2", &[16, 6, 6], 0),
        LayerBlock::new("conv3", &[110, 1, 1], 63470),
        LayerBlock::new("relu3", &[110, 1, 1], 0),
        LayerBlock::new("flatten", &[110], 0),
        LayerBlock::new("fc1", &[60], 6660),
        LayerBlock::new("relu4", &[60], 0),
        LayerBlock::new("fc2", &[10], 610),
    ]
}

pub fn history(epochs: usize) -> Vec<EpochPoint> {
    (1..=epochs)
        .map(|e| {
            let t = e as f64;
            EpochPoint {
                epoch: e,
                train_loss: 0.5 / t,
                val_loss: 0.6 / t + 0.01,
                train_accuracy: 1.0 - 0.1 / t,
                val_accuracy: 0.98 - 0.1 / t,
            }
        })
        .collect()
}

/// Feature maps of the course network for `n` images, relu layers non-negative.
pub fn feature_layers(n: usize) -> Vec<(String, Tensor)> {
    let spec: [(&str, [usize; 3], bool); 8] = [
        ("conv1", [3, 32, 32], true),
        ("relu1", [3, 32, 32], false),
        ("maxp1", [3, 16, 16], false),
        ("conv2", [16, 12, 12], true),
        ("relu2", [16, 12, 12], false),
        ("maxp2", [16, 6, 6], false),
        ("conv3", [110, 1, 1], true),
        ("relu3", [110, 1, 1], false),
    ];
    spec.iter()
        .map(|(name, [c, h, w], signed)| {
            let t = if *signed {
                wave(&[n, *c, *h, *w], 1.5, 0.0)
            } else {
                wave(&[n, *c, *h, *w], 1.0, 1.0)
            };
            (name.to_string(), t)
        })
        .collect()
}

pub fn dense_layers(n: usize) -> Vec<(String, Tensor)> {
    vec![
        ("flatten".to_string(), wave(&[n, 110], 1.0, 1.0)),
        ("fc1".to_string(), wave(&[n, 60], 2.0, 0.0)),
        ("relu4".to_string(), wave(&[n, 60], 1.0, 1.0)),
        ("fc2".to_string(), wave(&[n, 10], 3.0, 0.0)),
    ]
}

/// Rows sum to one, with the largest value at class `i % 10` for image `i`.
pub fn probabilities(n: usize) -> Tensor {
    let mut v = vec![0.02f32; n * 10];
    for i in 0..n {
        v[i * 10 + i % 10] = 0.82;
    }
    Tensor::from_vec(v, (n, 10), &Device::Cpu).expect("tensor")
}

pub fn confusion() -> Vec<Vec<u64>> {
    (0..10)
        .map(|t| {
            (0..10)
                .map(|p| {
                    if t == p {
                        900 + t as u64
                    } else {
                        ((t + 2 * p) % 5) as u64
                    }
                })
                .collect()
        })
        .collect()
}

pub fn misclassified(n: usize) -> Vec<Misclassified> {
    (0..n)
        .map(|i| Misclassified {
            true_class: i % 10,
            predicted: (i + 3) % 10,
            confidence: 0.6,
        })
        .collect()
}

pub fn stats() -> Vec<LayerStats> {
    [
        ("conv1", 3, false),
        ("relu1", 3, true),
        ("conv2", 16, false),
        ("relu2", 16, true),
        ("fc1", 0, false),
    ]
    .iter()
    .map(|(name, c, relu)| LayerStats {
        layer: name.to_string(),
        zero_fraction: if *relu { 0.4 } else { 0.0 },
        mean: if *relu { 0.3 } else { -0.05 },
        dead_channel_fraction: if *relu { 0.125 } else { 0.0 },
        channel_means: (0..*c).map(|i| (i as f64 * 0.7).sin()).collect(),
        channel_stds: (0..*c).map(|i| 0.1 + i as f64 * 0.01).collect(),
    })
    .collect()
}

/// A decoded PNG.
pub struct Png {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Png {
    pub fn pixels(&self) -> impl Iterator<Item = [u8; 3]> + '_ {
        self.rgb.chunks_exact(3).map(|p| [p[0], p[1], p[2]])
    }

    pub fn count(&self, colour: [u8; 3]) -> usize {
        self.pixels().filter(|p| *p == colour).count()
    }
}

/// Checks the signature and IHDR, then decodes the whole image.
pub fn read_png(path: &Path) -> Png {
    let bytes = std::fs::read(path).expect("png file");
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("png header");
    let mut rgb = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut rgb).expect("png data");
    assert_eq!((info.width, info.height), (width, height));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    rgb.truncate(info.buffer_size());
    Png { width, height, rgb }
}

/// Reads an SVG, checks it is a complete document and returns it.
pub fn read_svg(path: &Path) -> String {
    let svg = std::fs::read_to_string(path).expect("svg file");
    assert!(
        svg.trim_start().starts_with("<svg"),
        "{} does not start with <svg",
        path.display()
    );
    assert!(
        svg.trim_end().ends_with("</svg>"),
        "{} is not closed",
        path.display()
    );
    svg
}

/// `width` and `height` attributes of the root element.
pub fn svg_size(svg: &str) -> (u32, u32) {
    let attr = |name: &str| -> u32 {
        let start = svg.find(&format!("{name}=\"")).expect("attribute") + name.len() + 2;
        let end = start + svg[start..].find('"').expect("closing quote");
        svg[start..end].parse().expect("number")
    };
    (attr("width"), attr("height"))
}

/// Escapes text the way the SVG backend writes it.
pub fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Files in `dir` (to check that failures leave nothing behind).
pub fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

/// Pure colours of the four quadrants of [`quadrants`]: top left, top right,
/// bottom left, bottom right.
pub const QUADRANT_COLOURS: [[u8; 3]; 4] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]];

/// `n` RGB images of `side`×`side` (even) pixels: red, green / blue, magenta quadrants.
pub fn quadrants(n: usize, side: usize) -> Tensor {
    let half = side / 2;
    let mut v = vec![0f32; n * 3 * side * side];
    for i in 0..n {
        for y in 0..side {
            for x in 0..side {
                let q = (y >= half) as usize * 2 + (x >= half) as usize;
                for ch in 0..3 {
                    let on = QUADRANT_COLOURS[q][ch] == 255;
                    v[((i * 3 + ch) * side + y) * side + x] = if on { 1.0 } else { 0.0 };
                }
            }
        }
    }
    Tensor::from_vec(v, (n, 3, side, side), &Device::Cpu).expect("tensor")
}

/// `names` of `n` classes: `"class 0"`, `"class 1"`, …
pub fn many_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("class {i}")).collect()
}

impl Png {
    /// The colour at `(x, y)`.
    pub fn at(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Top-left corners `(x, y)` of the `size`×`size` squares fully of `colour`
    /// whose left and upper neighbours are of another colour, row by row.
    pub fn squares(&self, colour: [u8; 3], size: u32) -> Vec<(u32, u32)> {
        let mut corners = Vec::new();
        for y in 0..self.height.saturating_sub(size - 1) {
            for x in 0..self.width.saturating_sub(size - 1) {
                let starts = self.at(x, y) == colour
                    && (x == 0 || self.at(x - 1, y) != colour)
                    && (y == 0 || self.at(x, y - 1) != colour);
                if starts
                    && (0..size).all(|dy| (0..size).all(|dx| self.at(x + dx, y + dy) == colour))
                {
                    corners.push((x, y));
                }
            }
        }
        corners
    }
}
