//! The candle custom-op glue shared by the ops that take an optional bias.

/// Implements candle's `CustomOp2` (no bias) and `CustomOp3` (with bias) for an op type
/// whose inherent `fwd(x, w, Option<b>)` and `bwd(x, w, Option<b>, res, grad)` do the work,
/// with `OP` in scope as its name.
macro_rules! custom_op_with_optional_bias {
    ($ty:ty) => {
        impl candle_core::CustomOp2 for $ty {
            fn name(&self) -> &'static str {
                OP
            }

            fn cpu_fwd(
                &self,
                xs: &candle_core::CpuStorage,
                xl: &candle_core::Layout,
                ws: &candle_core::CpuStorage,
                wl: &candle_core::Layout,
            ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
                self.fwd((xs, xl), (ws, wl), None)
            }

            fn bwd(
                &self,
                x: &candle_core::Tensor,
                w: &candle_core::Tensor,
                res: &candle_core::Tensor,
                grad: &candle_core::Tensor,
            ) -> candle_core::Result<(Option<candle_core::Tensor>, Option<candle_core::Tensor>)>
            {
                let (dx, dw, _) = <$ty>::bwd(self, x, w, None, res, grad)?;
                Ok((dx, dw))
            }
        }

        impl candle_core::CustomOp3 for $ty {
            fn name(&self) -> &'static str {
                OP
            }

            fn cpu_fwd(
                &self,
                xs: &candle_core::CpuStorage,
                xl: &candle_core::Layout,
                ws: &candle_core::CpuStorage,
                wl: &candle_core::Layout,
                bs: &candle_core::CpuStorage,
                bl: &candle_core::Layout,
            ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
                self.fwd((xs, xl), (ws, wl), Some((bs, bl)))
            }

            fn bwd(
                &self,
                x: &candle_core::Tensor,
                w: &candle_core::Tensor,
                b: &candle_core::Tensor,
                res: &candle_core::Tensor,
                grad: &candle_core::Tensor,
            ) -> candle_core::Result<(
                Option<candle_core::Tensor>,
                Option<candle_core::Tensor>,
                Option<candle_core::Tensor>,
            )> {
                <$ty>::bwd(self, x, w, Some(b), res, grad)
            }
        }
    };
}
