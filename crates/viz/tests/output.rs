//! Output files: format by extension, atomic replacement, errors naming the path.

use convlens_viz::*;

use crate::fixtures::*;

fn draw(path: &std::path::Path) -> Result<(), VizError> {
    draw_confusion(&confusion(), &class_names(), "Confusion", path)
}

#[test]
fn unsupported_extensions_are_refused_by_name() {
    let dir = tempdir();
    for name in ["figure.jpg", "figure", "figure.png.bak"] {
        let path = dir.path().join(name);
        let err = draw(&path).expect_err("unsupported format");
        assert!(matches!(err, VizError::UnsupportedFormat { .. }));
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn extension_case_does_not_matter() {
    let dir = tempdir();
    let path = dir.path().join("FIGURE.PNG");
    draw(&path).unwrap();
    read_png(&path);
}

#[test]
fn a_missing_directory_is_an_io_error_naming_the_file() {
    let dir = tempdir();
    let path = dir.path().join("no/such/dir/figure.svg");
    let err = draw(&path).expect_err("missing directory");
    assert!(matches!(err, VizError::Io { .. }));
    assert!(err.to_string().contains("figure.svg"), "{err}");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn an_existing_file_is_replaced_whole_and_no_temporary_file_remains() {
    let dir = tempdir();
    let path = dir.path().join("figure.svg");
    std::fs::write(&path, "old contents").unwrap();
    draw(&path).unwrap();
    let svg = read_svg(&path);
    assert!(!svg.contains("old contents"));
    assert_eq!(entries(dir.path()), vec![path.clone()]);
    // A failed redraw leaves the previous figure untouched.
    let err = draw_confusion(&[vec![1]], &class_names(), "bad", &path);
    assert!(err.is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), svg);
    assert_eq!(entries(dir.path()), vec![path]);
}

#[test]
fn relative_paths_without_a_directory_work() {
    // A bare file name is written into the current directory; use a unique one.
    let name = format!("convlens-viz-test-{}.svg", std::process::id());
    let path = std::path::PathBuf::from(&name);
    let result = draw(&path);
    let written = std::fs::read_to_string(&path);
    let _ = std::fs::remove_file(&path);
    result.unwrap();
    assert!(written.unwrap().contains("Confusion"));
}

#[test]
fn svg_heat_maps_are_embedded_as_png_images() {
    let dir = tempdir();
    let path = dir.path().join("filters.svg");
    draw_filters("conv2", &wave(&[4, 3, 5, 5], 0.3, 0.0), 16, &path).unwrap();
    let svg = read_svg(&path);
    // 4 × 3 kernels and one colour bar, as data URIs browsers understand.
    assert_eq!(svg.matches("href=\"data:image/png;base64,").count(), 13);
    assert!(!svg.contains("data:png;"));
}

#[cfg(unix)]
#[test]
fn new_figures_are_readable_by_everyone_and_replacements_keep_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let path = dir.path().join("figure.png");
    draw(&path).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o644);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    draw(&path).unwrap();
    assert_eq!(mode(&path), 0o640);
}

#[test]
fn oversized_figures_are_refused_before_anything_is_written() {
    let dir = tempdir();
    let path = dir.path().join("tall.png");
    let captions: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    let err = draw_samples(&images(200), &captions, 1, "200 rows", &path).expect_err("too tall");
    assert!(matches!(err, VizError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("tall.png"), "{err}");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn a_very_long_title_is_shortened_rather_than_widening_the_figure() {
    let dir = tempdir();
    let path = dir.path().join("long.svg");
    let title = "very long title ".repeat(200);
    draw_curves(&history(3), &title, &path).unwrap();
    let (width, _) = svg_size(&read_svg(&path));
    assert!(width < 2000, "{width}");
}
