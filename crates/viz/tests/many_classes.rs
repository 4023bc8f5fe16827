//! A hundred classes: the confusion matrix turns to colour plus a table of the
//! most confused pairs, the probability strip to each image's top classes.

use candle_core::{Device, Tensor};
use convlens_viz::*;

use crate::fixtures::*;

/// 100 classes, 50 images each, mostly right; a few planted confusions.
fn hundred_class_counts() -> Vec<Vec<u64>> {
    let k = 100;
    let mut counts: Vec<Vec<u64>> = (0..k)
        .map(|t| {
            let mut row = vec![0u64; k];
            row[t] = 50;
            row
        })
        .collect();
    // (true, predicted, count), moved off the diagonal.
    let planted: [(usize, usize, u64); 6] = [
        (3, 8, 20),
        (97, 2, 12),
        (40, 41, 12),
        (10, 11, 5),
        (11, 10, 5),
        (64, 0, 1),
    ];
    for (t, p, c) in planted {
        counts[t][p] += c;
        counts[t][t] -= c;
    }
    // Class 40 has more images, so its 12 mistakes are a smaller share than class 97's.
    counts[40][40] += 30;
    counts
}

#[test]
fn most_confused_pairs_rank_by_count_then_share_then_index() {
    let counts = hundred_class_counts();
    let pairs = most_confused_pairs(&counts, 15);
    let found: Vec<(usize, usize, u64)> = pairs
        .iter()
        .map(|p| (p.true_class, p.predicted, p.count))
        .collect();
    assert_eq!(
        found,
        vec![
            (3, 8, 20),
            (97, 2, 12),
            (40, 41, 12),
            (10, 11, 5),
            (11, 10, 5),
            (64, 0, 1),
        ]
    );
    assert_eq!(pairs[0].share, 20.0 / 50.0);
    assert_eq!(pairs[2].share, 12.0 / 80.0);
    assert_eq!(most_confused_pairs(&counts, 2).len(), 2);
    // Degenerate inputs give no pairs and no panic.
    assert!(most_confused_pairs(&[], 5).is_empty());
    assert!(most_confused_pairs(&[vec![], vec![0, 0, 3]], 5)
        .iter()
        .all(|p| p.true_class == 1 && p.predicted == 2 && p.share == 1.0));
    assert!(most_confused_pairs(&counts, 0).is_empty());
}

#[test]
fn a_hundred_class_confusion_matrix_is_colour_only_with_a_pair_table() {
    let dir = tempdir();
    let counts = hundred_class_counts();
    let mut names = many_names(100);
    names[97] = "a remarkably long class name that would never fit in any cell".to_string();
    let svg_path = dir.path().join("confusion.svg");
    let png_path = dir.path().join("confusion.png");
    draw_confusion(&counts, &names, "100 classes", &svg_path).unwrap();
    draw_confusion(&counts, &names, "100 classes", &png_path).unwrap();
    let svg = read_svg(&svg_path);
    let png = read_png(&png_path);
    assert_eq!((png.width, png.height), svg_size(&svg));
    assert!(
        png.width < 1400 && png.height < 1400,
        "{}x{}",
        png.width,
        png.height
    );
    // No counts in the cells: class 97's 38 right is not printed (38 is no tick label,
    // ticks are every 5 classes at 7 pixels per cell).
    assert!(!svg.contains(">\n38\n</text>"));
    assert!(svg.contains(">\n95\n</text>") && !svg.contains(">\n96\n</text>"));
    assert!(svg.contains("The 6 most confused pairs"));
    // The table rows in rank order: true class, predicted class, count, share.
    let rows: [(&str, &str, &str, &str); 4] = [
        ("class 3 (3)", "class 8 (8)", "20", "40.0%"),
        ("a remarkably", "class 2 (2)", "12", "24.0%"),
        ("class 40 (40)", "class 41 (41)", "12", "15.0%"),
        ("class 10 (10)", "class 11 (11)", "5", "10.0%"),
    ];
    let mut at = svg.find("most confused pairs").unwrap();
    for (truth, predicted, count, share) in rows {
        for cell in [truth, predicted, count, share] {
            let next = svg[at..]
                .find(&format!(">\n{}", xml(cell)))
                .unwrap_or_else(|| panic!("{cell} missing after offset {at}"));
            at += next;
        }
    }
    // The long name is shortened, with an ellipsis, wherever it appears.
    assert!(!svg.contains("never fit in any cell"));
    assert!(svg.contains("a remarkably"));
    assert!(svg.contains('…'));
    // The diagonal is drawn in colour: rows with all 50 right reach the dark end.
    let dark = ColourScale::sequential(0.0, 1.0, Palette::Blues).rgb(1.0);
    assert!(png.count(dark) >= 90 * 7 * 7, "{}", png.count(dark));
}

#[test]
fn up_to_twenty_classes_keep_the_numbers_and_shorten_long_names() {
    let dir = tempdir();
    let counts: Vec<Vec<u64>> = (0..20)
        .map(|t| {
            (0..20)
                .map(|p| if t == p { 40 } else { (t + p) as u64 % 3 })
                .collect()
        })
        .collect();
    let mut names = many_names(20);
    names[4] = "x".repeat(300);
    let path = dir.path().join("c.svg");
    draw_confusion(&counts, &names, "20 classes", &path).unwrap();
    let svg = read_svg(&path);
    assert!(svg.contains(">\n40\n</text>"));
    assert!(!svg.contains("most confused pairs"));
    assert!(!svg.contains(&"x".repeat(300)));
    let (width, _) = svg_size(&svg);
    assert!(width < 2600, "{width}");
    // One class more and the numbers give way to colour and the pair table.
    let counts: Vec<Vec<u64>> = (0..CONFUSION_NUMBERS_UP_TO + 1)
        .map(|t| {
            (0..21)
                .map(|p| if t == p { 40 } else { (t + p) as u64 % 3 })
                .collect()
        })
        .collect();
    let names = many_names(CONFUSION_NUMBERS_UP_TO + 1);
    draw_confusion(&counts, &names, "21 classes", &path).unwrap();
    let svg = read_svg(&path);
    assert!(svg.contains("The 15 most confused pairs"));
    assert!(!svg.contains(">\n40\n</text>"));
}

#[test]
fn a_hundred_class_classifier_shows_each_images_top_five() {
    let dir = tempdir();
    let n = 2;
    let names = many_names(100);
    // Image 0: class 42 at 50%, then 7, 99, 0, 63; the rest share what is left.
    let top = [
        (42usize, 0.5f32),
        (7, 0.2),
        (99, 0.1),
        (0, 0.05),
        (63, 0.04),
    ];
    let mut v = vec![0.11f32 / 95.0; n * 100];
    for (class, p) in top {
        v[class] = p;
        v[100 + (class + 1) % 100] = p;
    }
    for i in 0..n {
        let row = &mut v[i * 100..(i + 1) * 100];
        for (class, p) in top {
            let c = (class + i) % 100;
            row[c] = p;
        }
    }
    // Row 1 was written twice; rebuild it cleanly.
    let rest = 0.11f32 / 95.0;
    v[100..].iter_mut().for_each(|x| *x = rest);
    for (class, p) in top {
        v[100 + (class + 1) % 100] = p;
    }
    let probs = Tensor::from_vec(v, (n, 100), &Device::Cpu).unwrap();
    let layers = vec![("fc2".to_string(), wave(&[n, 100], 3.0, 0.0))];
    let captions = vec!["true class 42".to_string(), "true class 8".to_string()];
    let path = dir.path().join("k.svg");
    draw_classifier(&layers, &probs, &captions, &names, "K", &path).unwrap();
    let svg = read_svg(&path);
    assert!(svg.contains(&xml("softmax · top 5 of 100")));
    assert!(svg.contains(&xml("fc2 · 100")));
    // Image 0's top five in order of probability, then image 1's.
    let mut at = 0;
    for class in [42, 7, 99, 0, 63, 43, 8, 0, 1, 64] {
        let label = format!(">\nclass {class}\n</text>");
        at += svg[at..]
            .find(&label)
            .unwrap_or_else(|| panic!("class {class} missing after {at}"));
    }
    assert!(svg.contains(">\n50%\n</text>"));
    assert!(svg.contains(&xml("+95 others: 11.0%")));
    // Classes outside anyone's top five are not named.
    assert!(!svg.contains(">\nclass 50\n</text>"));
    let (width, _) = svg_size(&svg);
    assert!(width < 1400, "{width}");
}

#[test]
fn counts_near_the_limit_of_u64_do_not_overflow() {
    let dir = tempdir();
    let path = dir.path().join("huge.png");
    let big = u64::MAX / 2;
    let counts = vec![vec![big, big, 1], vec![big, big, 0], vec![0, 0, big]];
    draw_confusion(&counts, &many_names(3), "huge", &path).unwrap();
    let counts: Vec<Vec<u64>> = (0..25)
        .map(|t| {
            (0..25)
                .map(|p| if t == p { big } else { big / 4 })
                .collect()
        })
        .collect();
    draw_confusion(&counts, &many_names(25), "huge", &path).unwrap();
    assert_eq!(most_confused_pairs(&counts, 3).len(), 3);
}
