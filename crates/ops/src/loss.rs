//! Cross-entropy of logits against class labels as one op, forward and backward.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor};

use crate::error::Error;
use crate::shape::elements;

const OP: &str = "cross-entropy";

/// Mean cross-entropy of `logits` `[N, C]` (f32 or f64) against `labels` `[N]` (u8, u32 or
/// i64), as PyTorch's `nn.CrossEntropyLoss()`: `mean_i(logsumexp(z_i) − z_i[y_i])`.
///
/// One op replaces the dozen candle ops of `log_softmax` + `nll` and their backward; the
/// gradient with respect to the logits is `(softmax(z) − onehot(y)) / N`, computed in one
/// pass. The result is a scalar (rank 0) tensor of the logits' dtype; sums are accumulated
/// in f64.
///
/// # Errors
///
/// If the shapes or dtypes are not as above, a label is not below `C`, a tensor is not on
/// the CPU, or (a broadcast view) has more than [`MAX_ELEMENTS`](crate::MAX_ELEMENTS)
/// elements.
///
/// # Example
///
/// ```
/// use candle_core::{Device, Tensor, Var};
///
/// let dev = Device::Cpu;
/// let z = Var::from_tensor(&Tensor::new(&[[0f32, 0.], [2., 0.]], &dev)?)?;
/// let y = Tensor::new(&[1u32, 0], &dev)?;
/// let loss = convlens_ops::cross_entropy(&z, &y)?;
/// let expected = (2f32.ln() + (1. + (-2f32).exp()).ln()) / 2.;
/// assert!((loss.to_scalar::<f32>()? - expected).abs() < 1e-6);
/// let grads = loss.backward()?;
/// let g = grads.get(&z).expect("z is a variable").to_vec2::<f32>()?;
/// assert!((g[0][0] - 0.25).abs() < 1e-6 && (g[0][1] + 0.25).abs() < 1e-6);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn cross_entropy(logits: &Tensor, labels: &Tensor) -> candle_core::Result<Tensor> {
    if !logits.device().is_cpu() || !labels.device().is_cpu() {
        return Err(Error::NotCpu { op: OP }.into());
    }
    elements(OP, "logits", logits.dims())?;
    elements(OP, "labels", labels.dims())?;
    let (n, _) = logits.dims2()?;
    if labels.dims() != [n] {
        candle_core::bail!(
            "{OP}: labels have shape {:?}, expected [{n}] to match the logits",
            labels.dims()
        );
    }
    logits
        .contiguous()?
        .apply_op2(&labels.contiguous()?, CrossEntropy)
}

/// The labels as indices, checked against the number of classes.
fn labels_of(s: &CpuStorage, l: &Layout, classes: usize) -> candle_core::Result<Vec<usize>> {
    let (start, end) = l
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("{OP}: labels must be contiguous")))?;
    let v: Vec<i64> = match s {
        CpuStorage::U8(v) => v[start..end].iter().map(|&x| i64::from(x)).collect(),
        CpuStorage::U32(v) => v[start..end].iter().map(|&x| i64::from(x)).collect(),
        CpuStorage::I64(v) => v[start..end].to_vec(),
        other => candle_core::bail!(
            "{OP}: labels must be u8, u32 or i64, not {:?}",
            other.dtype()
        ),
    };
    v.into_iter()
        .enumerate()
        .map(|(i, y)| match usize::try_from(y) {
            Ok(y) if y < classes => Ok(y),
            _ => Err(candle_core::Error::Msg(format!(
                "{OP}: label {y} at index {i} is not a class of {classes}"
            ))),
        })
        .collect()
}

fn logits_of<'a, T>(v: &'a [T], l: &Layout) -> candle_core::Result<(&'a [T], usize, usize)> {
    let (n, c) = l.shape().dims2()?;
    let (start, end) = l
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("{OP}: logits must be contiguous")))?;
    Ok((&v[start..end], n, c))
}

/// Per row: the largest logit and `log Σ exp(z − max)`.
fn row_stats(row: &[f64]) -> (f64, f64) {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (max, row.iter().map(|&z| (z - max).exp()).sum::<f64>().ln())
}

struct CrossEntropy;

impl CustomOp2 for CrossEntropy {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        macro_rules! run {
            ($v:expr, $t:ty, $wrap:path) => {{
                let (z, n, c) = logits_of($v, l1)?;
                let y = labels_of(s2, l2, c)?;
                let mut total = 0f64;
                let mut row = vec![0f64; c];
                for (i, &label) in y.iter().enumerate() {
                    row.iter_mut()
                        .zip(&z[i * c..(i + 1) * c])
                        .for_each(|(r, &v)| *r = f64::from(v));
                    let (max, lse) = row_stats(&row);
                    total += max + lse - row[label];
                }
                Ok((
                    $wrap(vec![(total / n.max(1) as f64) as $t]),
                    Shape::from(()),
                ))
            }};
        }
        match s1 {
            CpuStorage::F32(v) => run!(v, f32, CpuStorage::F32),
            CpuStorage::F64(v) => run!(v, f64, CpuStorage::F64),
            other => Err(Error::UnsupportedDType {
                op: OP,
                arg: "logits",
                dtype: other.dtype(),
            }
            .into()),
        }
    }

    fn bwd(
        &self,
        logits: &Tensor,
        labels: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let scale = grad.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        let dz = logits.apply_op2_no_bwd(labels, &CrossEntropyGrad { scale })?;
        Ok((Some(dz), None))
    }
}

/// `scale · (softmax(z) − onehot(y)) / N`.
struct CrossEntropyGrad {
    scale: f64,
}

impl CustomOp2 for CrossEntropyGrad {
    fn name(&self) -> &'static str {
        "cross-entropy-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        macro_rules! run {
            ($v:expr, $t:ty, $wrap:path) => {{
                let (z, n, c) = logits_of($v, l1)?;
                let y = labels_of(s2, l2, c)?;
                let k = self.scale / n.max(1) as f64;
                let mut out: Vec<$t> = Vec::with_capacity(n * c);
                let mut row = vec![0f64; c];
                for (i, &label) in y.iter().enumerate() {
                    row.iter_mut()
                        .zip(&z[i * c..(i + 1) * c])
                        .for_each(|(r, &v)| *r = f64::from(v));
                    let (max, lse) = row_stats(&row);
                    for (j, &v) in row.iter().enumerate() {
                        let p = (v - max - lse).exp();
                        let onehot = if j == label { 1.0 } else { 0.0 };
                        out.push((k * (p - onehot)) as $t);
                    }
                }
                Ok(($wrap(out), Shape::from((n, c))))
            }};
        }
        match s1 {
            CpuStorage::F32(v) => run!(v, f32, CpuStorage::F32),
            CpuStorage::F64(v) => run!(v, f64, CpuStorage::F64),
            other => Err(Error::UnsupportedDType {
                op: "cross-entropy-backward",
                arg: "logits",
                dtype: other.dtype(),
            }
            .into()),
        }
    }
}
