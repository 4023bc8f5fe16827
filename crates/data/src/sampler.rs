//! Seeded samplers: the order in which training images are visited, epoch by epoch.
//!
//! An epoch's order is a pure function of `(seed, epoch)`: each epoch draws from its own
//! ChaCha8 stream. Resuming at epoch `e` therefore needs no saved generator state, and two
//! runs with the same seed visit the same images in the same order.

use std::fmt;
use std::str::FromStr;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::error::DataError;

/// How training images are drawn each epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SamplerKind {
    /// `0, 1, 2, …` every epoch.
    Sequential,
    /// A fresh permutation every epoch (sampling without replacement).
    Shuffle,
    /// Class-balanced sampling with replacement: `len` draws, each image drawn with weight
    /// `1 / count(its class)` — PyTorch's `WeightedRandomSampler` as the reference uses it.
    #[default]
    Balanced,
}

impl FromStr for SamplerKind {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        match s {
            "sequential" => Ok(SamplerKind::Sequential),
            "shuffle" => Ok(SamplerKind::Shuffle),
            "balanced" => Ok(SamplerKind::Balanced),
            other => Err(DataError::UnknownSampler {
                value: other.into(),
            }),
        }
    }
}

impl fmt::Display for SamplerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SamplerKind::Sequential => "sequential",
            SamplerKind::Shuffle => "shuffle",
            SamplerKind::Balanced => "balanced",
        })
    }
}

/// Produces each epoch's list of training indices.
#[derive(Debug, Clone)]
pub struct Sampler {
    kind: SamplerKind,
    seed: u64,
    len: usize,
    /// Indices of each class that has at least one image (balanced sampling only).
    by_class: Vec<Vec<usize>>,
}

impl Sampler {
    /// A sampler over a split with these labels.
    pub fn new(kind: SamplerKind, labels: &[u8], seed: u64) -> Sampler {
        let by_class = if kind == SamplerKind::Balanced {
            let mut by_class = vec![Vec::new(); 256];
            for (i, &l) in labels.iter().enumerate() {
                by_class[l as usize].push(i);
            }
            by_class.retain(|c| !c.is_empty());
            by_class
        } else {
            Vec::new()
        };
        Sampler {
            kind,
            seed,
            len: labels.len(),
            by_class,
        }
    }

    /// The kind of sampling.
    pub fn kind(&self) -> SamplerKind {
        self.kind
    }

    /// Indices drawn per epoch (the split's size).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether an epoch draws nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The indices of `epoch` (0-based), a pure function of the seed and the epoch.
    pub fn epoch(&self, epoch: u64) -> Vec<usize> {
        let mut rng = stream(self.seed, epoch);
        match self.kind {
            SamplerKind::Sequential => (0..self.len).collect(),
            SamplerKind::Shuffle => {
                let mut v: Vec<usize> = (0..self.len).collect();
                shuffle(&mut v, &mut rng);
                v
            }
            // Every class has total weight 1 (count × 1/count), so drawing with weights
            // 1/count(class) is the same as picking a class uniformly and then an image of
            // it uniformly — exact, and O(1) per draw.
            SamplerKind::Balanced => (0..self.len)
                .map(|_| {
                    let class = &self.by_class[below(&mut rng, self.by_class.len())];
                    class[below(&mut rng, class.len())]
                })
                .collect(),
        }
    }
}

/// The generator for one purpose and one epoch of a seed.
fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A uniform integer in `0..n` without modulo bias (Lemire's method). `n` must be > 0.
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let n = n as u64;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        let low = m as u64;
        if low >= n || low >= n.wrapping_neg() % n {
            return (m >> 64) as usize;
        }
    }
}

/// Fisher–Yates.
fn shuffle(v: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = below(rng, i + 1);
        v.swap(i, j);
    }
}

/// Splits `0..n` into `(train, validation)` index lists with `val_count` validation indices,
/// by a seeded shuffle; both lists come back sorted.
pub fn holdout_indices(n: usize, val_count: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut all: Vec<usize> = (0..n).collect();
    // A stream number no epoch uses, so the split is independent of the epoch orders.
    shuffle(&mut all, &mut stream(seed, u64::MAX));
    let val_count = val_count.min(n);
    let mut val = all[..val_count].to_vec();
    let mut train = all[val_count..].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    (train, val)
}
