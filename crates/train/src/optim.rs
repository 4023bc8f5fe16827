//! Optimizers with PyTorch's update rules: SGD (momentum, weight decay), Adam and AdamW.
//!
//! candle-nn's SGD has no momentum, so both are written here; their state can be saved and
//! restored exactly, which is what makes `--resume` byte-identical.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use candle_core::{backprop::GradStore, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::inplace::{Descend, Momentum};

/// Which optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Stochastic gradient descent (`torch.optim.SGD`).
    #[default]
    Sgd,
    /// Adam with L2 weight decay added to the gradient (`torch.optim.Adam`).
    Adam,
    /// Adam with decoupled weight decay (`torch.optim.AdamW`).
    Adamw,
}

impl FromStr for OptimizerKind {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sgd" => Ok(OptimizerKind::Sgd),
            "adam" => Ok(OptimizerKind::Adam),
            "adamw" => Ok(OptimizerKind::Adamw),
            other => Err(TrainError::InvalidArgument {
                field: "optimizer",
                value: other.into(),
                problem: "expected sgd, adam or adamw".into(),
            }),
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::Adamw => "adamw",
        })
    }
}

/// Hyper-parameters of an optimizer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizerConfig {
    /// Which rule.
    pub kind: OptimizerKind,
    /// Learning rate.
    pub lr: f64,
    /// SGD momentum (0 = none); PyTorch semantics, no dampening.
    pub momentum: f64,
    /// Weight decay (L2 for SGD and Adam, decoupled for AdamW).
    pub weight_decay: f64,
    /// Adam's β₁.
    pub beta1: f64,
    /// Adam's β₂.
    pub beta2: f64,
    /// Adam's ε.
    pub eps: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: 0.1,
            momentum: 0.0,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// An optimizer over named parameters.
#[derive(Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    params: Vec<(String, Var)>,
    /// SGD momentum buffer, or Adam's first moment.
    first: Vec<Option<Tensor>>,
    /// Adam's second moment.
    second: Vec<Option<Tensor>>,
    steps: u64,
}

impl Optimizer {
    /// An optimizer for these parameters (names as in the state dict).
    pub fn new(config: OptimizerConfig, params: Vec<(String, Var)>) -> Self {
        let n = params.len();
        Optimizer {
            config,
            params,
            first: vec![None; n],
            second: vec![None; n],
            steps: 0,
        }
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Applies one update from the gradients of a `backward` call.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.steps += 1;
        let c = self.config;
        for (i, (_, var)) in self.params.iter().enumerate() {
            let Some(grad) = grads.get(var.as_tensor()) else {
                continue;
            };
            let p = var.as_tensor();
            match c.kind {
                OptimizerKind::Sgd if p.device().is_cpu() => {
                    // One in-place pass per parameter; same arithmetic as the tensor path below.
                    let wd = c.weight_decay;
                    if c.momentum == 0.0 {
                        p.inplace_op2(
                            grad,
                            &Descend {
                                lr: c.lr,
                                weight_decay: wd,
                            },
                        )?;
                    } else {
                        let buf = match self.first[i].take() {
                            None => {
                                let d = if wd != 0.0 {
                                    (grad + (p * wd)?)?
                                } else {
                                    grad.clone()
                                };
                                d.detach().copy()?
                            }
                            Some(buf) => {
                                buf.inplace_op3(
                                    grad,
                                    p,
                                    &Momentum {
                                        momentum: c.momentum,
                                        weight_decay: wd,
                                    },
                                )?;
                                buf
                            }
                        };
                        p.inplace_op2(
                            &buf,
                            &Descend {
                                lr: c.lr,
                                weight_decay: 0.0,
                            },
                        )?;
                        self.first[i] = Some(buf);
                    }
                }
                OptimizerKind::Sgd => {
                    let mut d = if c.weight_decay != 0.0 {
                        (grad + (p * c.weight_decay)?)?
                    } else {
                        grad.clone()
                    };
                    if c.momentum != 0.0 {
                        let buf = match self.first[i].take() {
                            None => d.detach(),
                            Some(buf) => ((buf * c.momentum)? + &d)?.detach(),
                        };
                        d = buf.clone();
                        self.first[i] = Some(buf);
                    }
                    var.set(&(p - (d * c.lr)?)?)?;
                }
                OptimizerKind::Adam | OptimizerKind::Adamw => {
                    let mut p = p.clone();
                    let mut g = grad.clone();
                    if c.weight_decay != 0.0 {
                        if c.kind == OptimizerKind::Adamw {
                            p = (p * (1.0 - c.lr * c.weight_decay))?;
                        } else {
                            g = (g + (&p * c.weight_decay)?)?;
                        }
                    }
                    let m = match self.first[i].take() {
                        None => (&g * (1.0 - c.beta1))?,
                        Some(m) => ((m * c.beta1)? + (&g * (1.0 - c.beta1))?)?,
                    };
                    let v = match self.second[i].take() {
                        None => (g.sqr()? * (1.0 - c.beta2))?,
                        Some(v) => ((v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?,
                    };
                    let t = self.steps as i32;
                    let bias1 = 1.0 - c.beta1.powi(t);
                    let bias2 = 1.0 - c.beta2.powi(t);
                    let denom = ((v.sqrt()? / bias2.sqrt())? + c.eps)?;
                    let update = ((&m / denom)? * (c.lr / bias1))?;
                    var.set(&(p - update)?)?;
                    self.first[i] = Some(m.detach());
                    self.second[i] = Some(v.detach());
                }
            }
        }
        Ok(())
    }

    /// The state to save: tensors named `<param>.momentum_buffer`, `<param>.exp_avg`,
    /// `<param>.exp_avg_sq` (PyTorch's names), and the step count.
    pub fn state(&self) -> (HashMap<String, Tensor>, u64) {
        let mut out = HashMap::new();
        let first_name = if self.config.kind == OptimizerKind::Sgd {
            "momentum_buffer"
        } else {
            "exp_avg"
        };
        for (i, (name, _)) in self.params.iter().enumerate() {
            if let Some(t) = &self.first[i] {
                out.insert(format!("{name}.{first_name}"), t.clone());
            }
            if let Some(t) = &self.second[i] {
                out.insert(format!("{name}.exp_avg_sq"), t.clone());
            }
        }
        (out, self.steps)
    }

    /// Restores what [`Optimizer::state`] returned.
    pub fn restore(&mut self, tensors: &HashMap<String, Tensor>, steps: u64) {
        let first_name = if self.config.kind == OptimizerKind::Sgd {
            "momentum_buffer"
        } else {
            "exp_avg"
        };
        for (i, (name, _)) in self.params.iter().enumerate() {
            self.first[i] = tensors.get(&format!("{name}.{first_name}")).cloned();
            self.second[i] = tensors.get(&format!("{name}.exp_avg_sq")).cloned();
        }
        self.steps = steps;
    }
}
