//! In-place SGD updates as candle `InplaceOp`s: one pass over each parameter, no temporary
//! tensors, with PyTorch's order of operations (`d = g + wd·p`, `p ← p − lr·d`).

use candle_core::{CpuStorage, InplaceOp2, InplaceOp3, Layout, Result};

fn contiguous<'a, T>(data: &'a [T], layout: &Layout, op: &str) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op}: expects contiguous tensors"),
    }
}

fn contiguous_mut<'a, T>(data: &'a mut [T], layout: &Layout, op: &str) -> Result<&'a mut [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&mut data[start..end]),
        None => candle_core::bail!("{op}: expects contiguous tensors"),
    }
}

/// `p ← p − lr·(d + wd·p)` on the parameter, with `d` the second tensor.
pub(crate) struct Descend {
    pub lr: f64,
    pub weight_decay: f64,
}

impl InplaceOp2 for Descend {
    fn name(&self) -> &'static str {
        "sgd-descend"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        macro_rules! run {
            ($p:expr, $d:expr, $t:ty) => {{
                let p = contiguous_mut($p, l1, self.name())?;
                let d = contiguous($d, l2, self.name())?;
                if p.len() != d.len() {
                    candle_core::bail!(
                        "sgd-descend: {} parameters but {} gradients",
                        p.len(),
                        d.len()
                    );
                }
                let (lr, wd) = (self.lr as $t, self.weight_decay as $t);
                if self.weight_decay == 0.0 {
                    p.iter_mut().zip(d).for_each(|(p, &d)| *p -= lr * d);
                } else {
                    p.iter_mut()
                        .zip(d)
                        .for_each(|(p, &d)| *p -= lr * (d + wd * *p));
                }
                Ok(())
            }};
        }
        match (s1, s2) {
            (CpuStorage::F32(p), CpuStorage::F32(d)) => run!(p, d, f32),
            (CpuStorage::F64(p), CpuStorage::F64(d)) => run!(p, d, f64),
            _ => {
                candle_core::bail!("sgd-descend: parameters and gradients must both be f32 or f64")
            }
        }
    }
}

/// The momentum buffer: `buf ← m·buf + (g + wd·p)`.
pub(crate) struct Momentum {
    pub momentum: f64,
    pub weight_decay: f64,
}

impl InplaceOp3 for Momentum {
    fn name(&self) -> &'static str {
        "sgd-momentum"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<()> {
        macro_rules! run {
            ($b:expr, $g:expr, $p:expr, $t:ty) => {{
                let b = contiguous_mut($b, l1, self.name())?;
                let g = contiguous($g, l2, self.name())?;
                let p = contiguous($p, l3, self.name())?;
                if b.len() != g.len() || b.len() != p.len() {
                    candle_core::bail!("sgd-momentum: tensors of different sizes");
                }
                let (m, wd) = (self.momentum as $t, self.weight_decay as $t);
                for ((b, &g), &p) in b.iter_mut().zip(g).zip(p) {
                    *b = m * *b + (g + wd * p);
                }
                Ok(())
            }};
        }
        match (s1, s2, s3) {
            (CpuStorage::F32(b), CpuStorage::F32(g), CpuStorage::F32(p)) => run!(b, g, p, f32),
            (CpuStorage::F64(b), CpuStorage::F64(g), CpuStorage::F64(p)) => run!(b, g, p, f64),
            _ => candle_core::bail!("sgd-momentum: tensors must all be f32 or f64"),
        }
    }
}
