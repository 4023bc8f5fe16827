//! `trainer animate` end to end: the animated PNG decodes to one frame per snapshot at the
//! asked rate, each frame changes where the weights changed, the scales hold across
//! frames, and the MP4 holds the same frames.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{stderr, synthetic_data, trainer};

/// A small run: 208 images, batch 16 (13 steps an epoch), 2 epochs, 2 snapshots an epoch:
/// before the first step and after steps 4, 13, 20 and 26.
fn small_run(dir: &Path, id: &str, snapshots: &str) -> PathBuf {
    let run = dir.join(format!("run-{snapshots}"));
    let o = trainer()
        .args([
            "train",
            "--dataset",
            id,
            "--epochs",
            "2",
            "--limit-train",
            "208",
        ])
        .args(["--lr", "0.05", "--snapshots", snapshots, "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    run
}

/// Every frame of an animated PNG composed as a viewer shows it, with each frame's delay
/// and stored rectangle.
struct Decoded {
    size: (u32, u32),
    frames: Vec<Vec<u8>>,
    delays: Vec<(u16, u16)>,
    regions: Vec<[u32; 4]>,
}

fn decode(path: &Path) -> Decoded {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let info = reader.info();
    let (w, h) = info.size();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let count = info
        .animation_control()
        .expect("an animated PNG")
        .num_frames;
    let mut canvas = vec![0u8; (w * h * 3) as usize];
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let mut out = Decoded {
        size: (w, h),
        frames: Vec::new(),
        delays: Vec::new(),
        regions: Vec::new(),
    };
    for _ in 0..count {
        let frame = reader.next_frame(&mut buf).unwrap();
        let fc = *reader.info().frame_control().unwrap();
        assert_eq!(fc.blend_op, png::BlendOp::Source);
        assert_eq!(fc.dispose_op, png::DisposeOp::None);
        assert_eq!((frame.width, frame.height), (fc.width, fc.height));
        for row in 0..fc.height as usize {
            let src = &buf[row * fc.width as usize * 3..(row + 1) * fc.width as usize * 3];
            let at = ((fc.y_offset as usize + row) * w as usize + fc.x_offset as usize) * 3;
            canvas[at..at + src.len()].copy_from_slice(src);
        }
        out.frames.push(canvas.clone());
        out.delays.push((fc.delay_num, fc.delay_den));
        out.regions
            .push([fc.x_offset, fc.y_offset, fc.width, fc.height]);
    }
    out
}

/// The pixels of `region` in a frame `width` pixels wide.
fn crop(frame: &[u8], width: u32, [x, y, w, h]: [u32; 4]) -> Vec<u8> {
    (y..y + h)
        .flat_map(|row| {
            let at = ((row * width + x) * 3) as usize;
            frame[at..at + (w * 3) as usize].to_vec()
        })
        .collect()
}

/// A parameter of a snapshot file of a run, one row per filter.
fn parameter(run: &Path, file: &str, parameter: &str) -> Vec<Vec<f32>> {
    let tensors =
        candle_core::safetensors::load(run.join(file), &candle_core::Device::Cpu).unwrap();
    tensors[parameter]
        .flatten_from(1)
        .unwrap()
        .to_vec2()
        .unwrap()
}

/// The mean over filters of the cosine similarity of matching filters.
fn mean_cosine(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    let dot = |x: &[f32], y: &[f32]| -> f64 {
        x.iter()
            .zip(y)
            .map(|(&p, &q)| f64::from(p) * f64::from(q))
            .sum()
    };
    let sum: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| dot(x, y) / (dot(x, x) * dot(y, y)).sqrt())
        .sum();
    sum / a.len() as f64
}

/// The largest magnitude of a parameter over every snapshot file of a run.
fn largest(run: &Path, files: &[String], parameter: &str) -> f32 {
    files
        .iter()
        .map(|f| {
            let tensors =
                candle_core::safetensors::load(run.join(f), &candle_core::Device::Cpu).unwrap();
            let values: Vec<f32> = tensors[parameter].flatten_all().unwrap().to_vec1().unwrap();
            values.iter().fold(0.0f32, |m, v| m.max(v.abs()))
        })
        .fold(0.0, f32::max)
}

#[test]
fn the_animation_has_a_frame_per_snapshot_on_fixed_scales() {
    let (_d, id) = synthetic_data(400, 100);
    let dir = tempfile::tempdir().unwrap();
    let run = small_run(dir.path(), &id, "2");
    let out = dir.path().join("anim").join("evolution.png");
    let o = trainer()
        .args(["animate", "--images", "2", "--fps", "5", "--run"])
        .arg(&run)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("state.json")).unwrap()).unwrap();
    let snapshots: Vec<String> = state["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["file"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(snapshots.len(), 5);

    let decoded = decode(&out);
    let n = decoded.frames.len();
    assert_eq!(n, snapshots.len(), "one frame per snapshot");
    let mut delays = vec![(1, 5); n];
    delays[n - 1] = (3, 5);
    assert_eq!(decoded.delays, delays, "delays from --fps, the last held");
    let width = decoded.size.0;
    assert_eq!(decoded.regions[0], [0, 0, width, decoded.size.1]);
    assert!(
        decoded.regions[1..]
            .iter()
            .all(|r| (r[2] as u64 * r[3] as u64) < (width as u64 * decoded.size.1 as u64)),
        "later frames store only what changed: {:?}",
        decoded.regions
    );

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.with_extension("json")).unwrap()).unwrap();
    let region = |v: &serde_json::Value| -> [u32; 4] { serde_json::from_value(v.clone()).unwrap() };
    let files: Vec<String> = json["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["snapshot"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(files, snapshots);
    assert_eq!(json["images"].as_array().unwrap().len(), 2);
    // How close each frame's filters are to the last frame's: exactly there at the end,
    // not at the random start, recomputed here from the snapshot files.
    let final_weights = |p: &str| parameter(&run, &snapshots[n - 1], p);
    for (key, p) in [
        ("conv1_to_final", "conv1.weight"),
        ("conv2_to_final", "conv2.weight"),
    ] {
        let at = |i: usize| json["frames"][i][key].as_f64().unwrap();
        assert!((at(n - 1) - 1.0).abs() < 1e-9, "{key}: {}", at(n - 1));
        for (i, file) in snapshots.iter().enumerate() {
            let expected = mean_cosine(&parameter(&run, file, p), &final_weights(p));
            assert!((at(i) - expected).abs() < 1e-9, "{key} frame {i}");
        }
        assert!(at(0) < 1.0 - 1e-6, "{key} at the random start: {}", at(0));
    }
    // The weights change at every snapshot, and so do the filters drawn.
    let conv1 = region(&json["layout"]["conv1"]);
    let conv2 = region(&json["layout"]["conv2"]);
    for i in 1..n {
        for (name, r) in [("conv1", conv1), ("conv2", conv2)] {
            assert_ne!(
                crop(&decoded.frames[i - 1], width, r),
                crop(&decoded.frames[i], width, r),
                "frame {i}: the {name} filters look as in frame {}",
                i - 1
            );
        }
    }
    // Fixed scales: the largest magnitude over all snapshots, and colour bars that never
    // change.
    for (name, parameter) in [("conv1", "conv1.weight"), ("conv2", "conv2.weight")] {
        let expected = largest(&run, &snapshots, parameter);
        assert_eq!(
            json["scales"][name].as_f64().unwrap() as f32,
            expected,
            "{name}"
        );
    }
    for bar in json["layout"]["colour_bars"].as_array().unwrap() {
        let bar = region(bar);
        let first = crop(&decoded.frames[0], width, bar);
        assert!(first.iter().any(|&b| b != 255), "the colour bar is drawn");
        for (i, f) in decoded.frames.iter().enumerate() {
            assert!(
                crop(f, width, bar) == first,
                "frame {i}: the colour bar {bar:?} moved"
            );
        }
    }

    // The MP4: the same frames, the last held as long as in the PNG.
    for tool in ["ffmpeg", "ffprobe"] {
        assert!(
            Command::new(tool).arg("-version").output().is_ok(),
            "{tool} is missing: the MP4 test needs it (Debian: apt-get install ffmpeg)"
        );
    }
    let mp4 = out.with_extension("mp4");
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=nb_read_frames,width,height",
            "-of",
            "json",
        ])
        .arg(&mp4)
        .output()
        .unwrap();
    assert!(probe.status.success(), "{}", stderr(&probe));
    let probe: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    let stream = &probe["streams"][0];
    assert_eq!(
        stream["nb_read_frames"].as_str(),
        Some((n + 2).to_string().as_str())
    );
    assert_eq!(
        stream["width"].as_u64().unwrap(),
        u64::from(width.div_ceil(2) * 2)
    );

    // Without ffmpeg on the PATH the MP4 is skipped, saying why.
    let empty = dir.path().join("no-tools");
    std::fs::create_dir(&empty).unwrap();
    let o = trainer()
        .env("PATH", &empty)
        .args(["animate", "--run"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("MP4 skipped: ffmpeg is not on the PATH"),
        "{}",
        stderr(&o)
    );
    assert!(run.join("evolution.png").is_file() && !run.join("evolution.mp4").exists());
    let default = decode(&run.join("evolution.png"));
    assert_eq!(default.delays[0], (1, 4), "4 frames per second by default");
    assert_eq!(default.frames.len(), n);
}

#[test]
fn animate_names_what_is_wrong() {
    let (_d, id) = synthetic_data(200, 50);
    let dir = tempfile::tempdir().unwrap();
    let run = small_run(dir.path(), &id, "0");
    let cases: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("none", vec!["no snapshots", "--snapshots"]),
        ("fps", vec!["--fps 0"]),
        ("images", vec!["--images 0"]),
        ("out", vec!["--out", "evolution.gif", ".png"]),
    ]);
    for (case, needles) in cases {
        let mut c = trainer();
        c.args(["animate", "--run"]).arg(&run);
        match case {
            "fps" => c.args(["--fps", "0"]),
            "images" => c.args(["--images", "0"]),
            "out" => c.args(["--out", "evolution.gif"]),
            _ => &mut c,
        };
        let o = c.output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{case}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        for n in needles {
            assert!(err.contains(n), "{case}: missing {n:?} in {err}");
        }
    }
    assert!(!run.join("evolution.png").exists());
}
