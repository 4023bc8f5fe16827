//! Samplers: determinism per seed, permutations, balanced frequencies, hold-out splits.

use convlens_data::{holdout_indices, Sampler, SamplerKind};

fn imbalanced_labels() -> Vec<u8> {
    // Class 0 has 900 images, classes 1..=3 have 100, 30 and 10.
    let mut l = vec![0u8; 900];
    l.extend([1u8; 100]);
    l.extend([2u8; 30]);
    l.extend([3u8; 10]);
    l
}

#[test]
fn the_same_seed_gives_the_same_order_and_epochs_differ() {
    let labels = imbalanced_labels();
    for kind in [SamplerKind::Shuffle, SamplerKind::Balanced] {
        let a = Sampler::new(kind, &labels, 7);
        let b = Sampler::new(kind, &labels, 7);
        let c = Sampler::new(kind, &labels, 8);
        assert_eq!(a.epoch(3), b.epoch(3), "{kind}");
        assert_ne!(a.epoch(3), a.epoch(4), "{kind}");
        assert_ne!(a.epoch(3), c.epoch(3), "{kind}");
        assert_eq!(a.epoch(0).len(), labels.len());
    }
    assert_eq!(
        Sampler::new(SamplerKind::Sequential, &labels, 1).epoch(5),
        (0..labels.len()).collect::<Vec<_>>()
    );
}

#[test]
fn shuffle_is_a_permutation() {
    let labels = imbalanced_labels();
    let mut order = Sampler::new(SamplerKind::Shuffle, &labels, 3).epoch(0);
    assert_ne!(order, (0..labels.len()).collect::<Vec<_>>());
    order.sort_unstable();
    assert_eq!(order, (0..labels.len()).collect::<Vec<_>>());
}

/// Each class is drawn with probability 1/4 whatever its size; over 20 epochs of 1040 draws
/// the frequencies stay within 5 standard deviations, and every image of the rarest class
/// is drawn (sampling with replacement).
#[test]
fn balanced_sampling_equalises_classes() {
    let labels = imbalanced_labels();
    let sampler = Sampler::new(SamplerKind::Balanced, &labels, 11);
    let mut counts = [0usize; 4];
    let mut rare_seen = [false; 10];
    let epochs = 20;
    for e in 0..epochs {
        for i in sampler.epoch(e) {
            counts[labels[i] as usize] += 1;
            if labels[i] == 3 {
                rare_seen[i - 1030] = true;
            }
        }
    }
    let n = (epochs as usize * labels.len()) as f64;
    let sd = (n * 0.25 * 0.75).sqrt();
    for (class, &c) in counts.iter().enumerate() {
        assert!(
            (c as f64 - n / 4.0).abs() < 5.0 * sd,
            "class {class}: {c} of {n}"
        );
    }
    assert!(rare_seen.iter().all(|&s| s));
    // With replacement: some image of class 3 is drawn many times in one epoch.
    let first = sampler.epoch(0);
    let rare = first.iter().filter(|&&i| labels[i] == 3).count();
    assert!(rare > 10 * 10, "class 3 drawn only {rare} times");
}

#[test]
fn holdout_is_a_seeded_partition() {
    let (train, val) = holdout_indices(1000, 100, 5);
    assert_eq!((train.len(), val.len()), (900, 100));
    let mut all: Vec<usize> = train.iter().chain(&val).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
    assert_eq!(holdout_indices(1000, 100, 5), (train, val.clone()));
    assert_ne!(holdout_indices(1000, 100, 6).1, val);
    assert_ne!(val, (0..100).collect::<Vec<_>>());
}

#[test]
fn sampler_names_parse() {
    assert_eq!(
        "balanced".parse::<SamplerKind>().unwrap(),
        SamplerKind::Balanced
    );
    let err = "random".parse::<SamplerKind>().unwrap_err();
    assert!(
        matches!(&err, convlens_data::DataError::UnknownSampler { value } if value == "random"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("sampler") && text.contains("random") && !text.contains("--"),
        "{text}"
    );
}
