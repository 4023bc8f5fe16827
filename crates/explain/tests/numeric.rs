//! The shared numerics: resizing, rank correlation, orderings, areas.

use convlens_explain::{auc, random_orders, ranking, resize_bilinear, spearman};

/// Upsampling 2×2 → 4×4 as PyTorch's `interpolate(bilinear, align_corners=False)` does it
/// (values computed with torch 2.x for [[1, 2], [3, 4]]).
#[test]
fn bilinear_resize_matches_pytorch() {
    let out = resize_bilinear(&[1., 2., 3., 4.], 2, 2, 4, 4);
    let expected = [
        1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0,
    ];
    assert_eq!(out, expected);
    // Same size: the identity.
    assert_eq!(
        resize_bilinear(&[1., 2., 3., 4.], 2, 2, 2, 2),
        [1., 2., 3., 4.]
    );
}

#[test]
fn spearman_of_rankings() {
    assert_eq!(spearman(&[1., 2., 3.], &[10., 20., 30.]), 1.0);
    assert_eq!(spearman(&[1., 2., 3.], &[3., 2., 1.]), -1.0);
    // Ties take their average rank: ranks (1.5, 1.5, 3) against (1, 2, 3).
    let rho = spearman(&[5., 5., 9.], &[1., 2., 3.]);
    assert!((rho - 0.866_025_4).abs() < 1e-6, "{rho}");
    // Maps without variance: equal ones agree, others do not correlate.
    assert_eq!(spearman(&[0., 0.], &[0., 0.]), 1.0);
    assert_eq!(spearman(&[0., 0.], &[1., 2.]), 0.0);
}

/// Highest value first; equal values in the tie-break ordering.
#[test]
fn ranking_orders_by_value_then_tie_break() {
    let map = [0.0, 3.0, 0.0, 1.0, 0.0];
    assert_eq!(ranking(&map, &[4, 0, 2, 1, 3]), [1, 3, 4, 0, 2]);
    assert_eq!(ranking(&map, &[2, 0, 4, 3, 1]), [1, 3, 2, 0, 4]);
}

#[test]
fn random_orders_are_seeded_permutations() {
    let a = random_orders(3, 50, 7);
    assert_eq!(a, random_orders(3, 50, 7));
    assert_ne!(a, random_orders(3, 50, 8));
    assert_ne!(a[0], a[1]);
    let mut sorted = a[2].clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..50).collect::<Vec<u32>>());
}

#[test]
fn area_under_a_curve() {
    assert_eq!(auc(&[1.0, 1.0, 1.0]), 1.0);
    assert_eq!(auc(&[1.0, 0.0]), 0.5);
    assert_eq!(auc(&[1.0, 0.5, 0.0, 0.0]), (0.75 + 0.25) / 3.0);
}

/// `explain.json` names each method as the command line does, next to its parameters.
#[test]
fn methods_serialize_under_their_names() {
    use convlens_explain::{Method, METHOD_NAMES};
    for name in METHOD_NAMES {
        let method = Method::from_name(name, "relu2", (0.0, 1.0)).unwrap();
        assert_eq!(method.name(), name);
        let json = serde_json::to_value(&method).unwrap();
        assert_eq!(json["method"], name, "{json}");
        let back: Method = serde_json::from_value(json).unwrap();
        assert_eq!(back, method);
    }
    assert!(Method::from_name("lime", "relu2", (0.0, 1.0)).is_none());
}
