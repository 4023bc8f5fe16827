//! The page: the data checked, encoded compactly, and rendered through the template.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Serialize;

use crate::data::{Epoch, Evaluation, ImageEntry, LayerSpec, LayerStatsRow, Report};

/// The page's Content-Security-Policy: nothing may be fetched, connected to, framed or
/// submitted; only the inline script and style run.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; img-src data: blob:; base-uri 'none'; form-action 'none'";

const TEMPLATE: &str = include_str!("../assets/report.html");
const SCRIPT: &str = include_str!("../assets/report.js");
const STYLE: &str = include_str!("../assets/report.css");

/// What can go wrong rendering a page: data whose parts do not fit together.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A list's length does not match the shapes it should follow.
    #[error("{field}: {found} values, expected {expected} ({why})")]
    Length {
        /// The field.
        field: String,
        /// Values found.
        found: usize,
        /// Values expected.
        expected: usize,
        /// Where the expected count comes from.
        why: String,
    },
    /// A name refers to nothing.
    #[error("{field}: {name:?} is not {what}")]
    Unknown {
        /// The field.
        field: String,
        /// The name.
        name: String,
        /// What it should name.
        what: &'static str,
    },
    /// A value out of its range.
    #[error("{field}: {value} is out of range ({why})")]
    Range {
        /// The field.
        field: String,
        /// The value.
        value: usize,
        /// The range.
        why: String,
    },
    /// The template engine failed.
    #[error("the page template: {0}")]
    Template(#[from] minijinja::Error),
}

/// JSON made safe inside an HTML `<script>` element: `<`, `>` and `&` become `\u003c`,
/// `\u003e` and `\u0026`, the line separators U+2028 and U+2029 `\u2028` and `\u2029`. The
/// result is the same JSON value, and contains no `</script`, `<!--` or `]]>`.
///
/// ```
/// let safe = convlens_report::escape_json_for_html(r#"{"name":"</script><!--&"}"#);
/// assert_eq!(safe, r#"{"name":"\u003c/script\u003e\u003c!--\u0026"}"#);
/// ```
pub fn escape_json_for_html(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Values quantized to `u8` per block: `lo + q · (hi − lo) / 255`.
#[derive(Serialize)]
struct Quantized {
    /// Per block: the minimum and maximum.
    range: Vec<[f32; 2]>,
    /// base64 of the `u8` codes, blocks one after the other.
    data: String,
}

fn quantize(values: &[f32], block: usize) -> Quantized {
    let mut range = Vec::new();
    let mut codes = Vec::with_capacity(values.len());
    for chunk in values.chunks(block.max(1)) {
        let lo = chunk.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = chunk.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let (lo, hi) = if lo.is_finite() && hi.is_finite() {
            (lo, hi)
        } else {
            (0.0, 0.0)
        };
        let span = hi - lo;
        codes.extend(chunk.iter().map(|&v| {
            if span > 0.0 {
                ((v - lo) / span * 255.0).round().clamp(0.0, 255.0) as u8
            } else {
                0
            }
        }));
        range.push([lo, hi]);
    }
    Quantized {
        range,
        data: BASE64.encode(&codes),
    }
}

fn f32_base64(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    BASE64.encode(bytes)
}

#[derive(Serialize)]
struct EncodedTensor<'a> {
    shape: &'a [usize],
    /// base64 of little-endian `f32`.
    data: String,
}

#[derive(Serialize)]
struct EncodedAttributions<'a> {
    images: &'a [usize],
    size: [usize; 2],
    methods: Vec<(&'a str, Quantized)>,
}

#[derive(Serialize)]
struct Embedded<'a> {
    title: &'a str,
    dataset: &'a str,
    version: &'a str,
    config: &'a serde_json::Map<String, serde_json::Value>,
    in_channels: usize,
    input_size: usize,
    classes: &'a [String],
    history: &'a [Epoch],
    layers: &'a [LayerSpec],
    weights: std::collections::BTreeMap<&'a str, EncodedTensor<'a>>,
    images: &'a [ImageEntry],
    /// base64 of the `u8` pixels.
    pixels: String,
    /// base64 of little-endian `f32` logits.
    logits: String,
    maps: std::collections::BTreeMap<&'a str, Quantized>,
    evaluation: &'a Evaluation,
    stats: &'a [LayerStatsRow],
    attributions: Option<EncodedAttributions<'a>>,
}

fn expect_len(field: &str, found: usize, expected: usize, why: String) -> Result<(), ReportError> {
    if found == expected {
        Ok(())
    } else {
        Err(ReportError::Length {
            field: field.into(),
            found,
            expected,
            why,
        })
    }
}

/// Checks that the parts of a report fit together, so the page never reads past a buffer.
fn validate(r: &Report) -> Result<(), ReportError> {
    let n = r.images.len();
    let classes = r.classes.len();
    let image = r.in_channels * r.input_size * r.input_size;
    expect_len(
        "pixels",
        r.pixels.len(),
        n * image,
        format!(
            "{n} images of {}×{}×{}",
            r.in_channels, r.input_size, r.input_size
        ),
    )?;
    expect_len(
        "logits",
        r.logits.len(),
        n * classes,
        format!("{n} images × {classes} classes"),
    )?;
    for (i, e) in r.images.iter().enumerate() {
        for (field, value) in [("label", e.label), ("predicted", e.predicted)] {
            if value >= classes {
                return Err(ReportError::Range {
                    field: format!("images[{i}].{field}"),
                    value,
                    why: format!("{classes} classes"),
                });
            }
        }
    }
    for layer in &r.layers {
        if let Some(params) = &layer.params {
            for p in params {
                if !r.weights.iter().any(|w| &w.name == p) {
                    return Err(ReportError::Unknown {
                        field: format!("layers.{}.params", layer.name),
                        name: p.clone(),
                        what: "a tensor of weights",
                    });
                }
            }
        }
    }
    for w in &r.weights {
        expect_len(
            &format!("weights.{}", w.name),
            w.values.len(),
            w.shape.iter().product(),
            format!("shape {:?}", w.shape),
        )?;
    }
    for m in &r.maps {
        let layer =
            r.layers
                .iter()
                .find(|l| l.name == m.layer)
                .ok_or_else(|| ReportError::Unknown {
                    field: "maps".into(),
                    name: m.layer.clone(),
                    what: "a layer",
                })?;
        let size: usize = layer.shape.iter().product();
        expect_len(
            &format!("maps.{}", m.layer),
            m.values.len(),
            n * size,
            format!("{n} images × {:?}", layer.shape),
        )?;
    }
    expect_len(
        "evaluation.confusion",
        r.evaluation.confusion.len(),
        classes,
        format!("{classes} classes"),
    )?;
    if let Some(a) = &r.attributions {
        for &i in &a.images {
            if i >= n {
                return Err(ReportError::Range {
                    field: "attributions.images".into(),
                    value: i,
                    why: format!("{n} embedded images"),
                });
            }
        }
        for (name, values) in &a.methods {
            expect_len(
                &format!("attributions.{name}"),
                values.len(),
                a.images.len() * a.size[0] * a.size[1],
                format!("{} images of {}×{}", a.images.len(), a.size[0], a.size[1]),
            )?;
        }
    }
    Ok(())
}

/// The page for a report: one HTML document with everything inline.
pub fn render(report: &Report) -> Result<String, ReportError> {
    validate(report)?;
    let r = report;
    let embedded = Embedded {
        title: &r.title,
        dataset: &r.dataset,
        version: &r.version,
        config: &r.config,
        in_channels: r.in_channels,
        input_size: r.input_size,
        classes: &r.classes,
        history: &r.history,
        layers: &r.layers,
        weights: r
            .weights
            .iter()
            .map(|w| {
                (
                    w.name.as_str(),
                    EncodedTensor {
                        shape: &w.shape,
                        data: f32_base64(&w.values),
                    },
                )
            })
            .collect(),
        images: &r.images,
        pixels: BASE64.encode(&r.pixels),
        logits: f32_base64(&r.logits),
        maps: r
            .maps
            .iter()
            .map(|m| {
                let block = m.values.len() / r.images.len().max(1);
                (m.layer.as_str(), quantize(&m.values, block))
            })
            .collect(),
        evaluation: &r.evaluation,
        stats: &r.stats,
        attributions: r.attributions.as_ref().map(|a| EncodedAttributions {
            images: &a.images,
            size: a.size,
            methods: a
                .methods
                .iter()
                .map(|(name, values)| (name.as_str(), quantize(values, a.size[0] * a.size[1])))
                .collect(),
        }),
    };
    let json = serde_json::to_string(&embedded).map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::BadSerialization, e.to_string())
    })?;
    let mut env = minijinja::Environment::new();
    // `.html`: every `{{ }}` is HTML-escaped unless marked safe.
    env.add_template("report.html", TEMPLATE)?;
    let page = env
        .get_template("report.html")?
        .render(minijinja::context! {
            title => &r.title,
            csp => minijinja::Value::from_safe_string(CONTENT_SECURITY_POLICY.to_string()),
            data => minijinja::Value::from_safe_string(escape_json_for_html(&json)),
            script => minijinja::Value::from_safe_string(SCRIPT.to_string()),
            style => minijinja::Value::from_safe_string(STYLE.to_string()),
        })?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantized_values_come_back_within_half_a_step() {
        let values = [-1.0f32, 0.0, 0.3, 2.0, 5.0, 5.0, 5.0, 5.0];
        let q = quantize(&values, 4);
        assert_eq!(q.range, vec![[-1.0, 2.0], [5.0, 5.0]]);
        let codes = BASE64.decode(q.data).unwrap();
        for (i, (&v, &c)) in values.iter().zip(&codes).enumerate() {
            let [lo, hi] = q.range[i / 4];
            let back = lo + f32::from(c) * (hi - lo) / 255.0;
            assert!(
                (back - v).abs() <= (hi - lo) / 510.0 + 1e-6,
                "{v} -> {back}"
            );
        }
    }

    #[test]
    fn the_script_and_style_cannot_end_their_elements() {
        assert!(!SCRIPT.to_ascii_lowercase().contains("</script"));
        assert!(!STYLE.to_ascii_lowercase().contains("</style"));
        assert!(!SCRIPT.contains("http://") && !SCRIPT.contains("https://"));
    }
}
