"""The launcher of the element-wise sigmoid kernel: logits and targets of one shape, walked flat.

Inputs reaching it have passed ``_validation``; nothing here reads a tensor value on the
host, so the path is free of host-device syncs and can be captured in a CUDA graph.
"""

import torch
import triton

from focal_triton.kernels.reduce import REDUCE_CHUNK

from . import tuning
from ._dtypes import accumulator_dtype, grad_buffer_dtype
from ._kernel_args import compute_dtype, float64_arguments, gamma_constexpr
from ._reduction import empty_reduction, finish_reduction, non_ignored_count

KERNEL_NAME = "sigmoid_focal_fwd"


def _launch(n, dtypes, arguments):
    """Launches the element-wise kernel over n elements with the shipped config for (bucket,
    dtypes) on this GPU, or through the autotuner.  Nothing read afterwards depends on the
    config that ran (partial sums are per REDUCE_CHUNK elements), so concurrent calls from
    several threads cannot mix up their sizes."""
    autotuner = tuning.SIGMOID_AUTOTUNER
    config = tuning.elementwise_config(KERNEL_NAME, arguments["x_ptr"], n, dtypes)
    if config is None:
        autotuner[lambda meta: (triton.cdiv(n, meta["BLOCK"]),)](**arguments)
        best = autotuner.best_config  # for the record only (nothing is recorded outside recording_launches)
        timings = getattr(autotuner, "configs_timings", None) or {}
        ms = timings.get(best)
        tuning.record_launch(KERNEL_NAME, {"BLOCK": best.kwargs["BLOCK"], "num_warps": best.num_warps}, "autotuned",
                             ms[0] if isinstance(ms, (list, tuple)) else ms)  # fmt: skip
    else:
        block, warps = config
        autotuner.fn[(triton.cdiv(n, block),)](**arguments, BLOCK=block, num_warps=warps)
        tuning.record_launch(KERNEL_NAME, {"BLOCK": block, "num_warps": warps}, "shipped")


def sigmoid_focal_forward(inputs, targets, alpha, gamma, reduction, ignore_index, need_grad, loss_dtype):
    """Runs the fused sigmoid focal kernel.

    Returns (loss, grad): loss has the shape of ``inputs`` for 'none' and is a
    0-d tensor otherwise, in ``loss_dtype``; grad is dL/dx (already divided by the
    'mean' denominator) in ``grad_buffer_dtype`` when ``need_grad``, else None.
    uint8 targets equal to ``ignore_index`` (when it is a uint8 value) contribute
    nothing and leave the 'mean' denominator.
    """
    x = inputs.contiguous()
    t = targets.contiguous()
    ignore = t.dtype == torch.uint8 and 0 <= ignore_index <= 255
    if t.dtype == torch.bool:
        t = t.view(torch.uint8)  # same bytes, no copy
    n = x.numel()
    grad = torch.empty_like(x, dtype=grad_buffer_dtype(x.dtype)) if need_grad else None
    reduce = reduction != "none"
    if n == 0:
        empty = empty_reduction(reduction, loss_dtype, x.device) if reduce else torch.empty_like(x, dtype=loss_dtype)
        return empty, grad
    count = non_ignored_count(t, ignore_index) if ignore and reduction == "mean" else None
    denominator = float(n) if reduction == "mean" and count is None else 1.0
    n_partials = triton.cdiv(n, REDUCE_CHUNK.value)
    partials = torch.empty(n_partials, dtype=accumulator_dtype(x.dtype), device=x.device) if reduce else None
    loss = None if reduce else torch.empty_like(x, dtype=loss_dtype)
    unused = x  # the pointer passed where an output is not written
    _launch(n, (x.dtype, t.dtype), dict(
        x_ptr=x, t_ptr=t, loss_ptr=unused if loss is None else loss, partial_ptr=unused if partials is None else partials,
        grad_ptr=unused if grad is None else grad, count_ptr=unused if count is None else count, n=n,
        **float64_arguments(alpha=0.0 if alpha is None else alpha, gamma=gamma, grad_denominator=denominator),
        ignore_label=ignore_index if ignore else 0, size_bucket=tuning.size_bucket(n),
        HAS_ALPHA=alpha is not None, GAMMA=gamma_constexpr(gamma), HARD_LABELS=t.dtype == torch.uint8, IGNORE=ignore,
        COUNT_ON_DEVICE=count is not None, REDUCE=reduce, WRITE_GRAD=need_grad, COMPUTE=compute_dtype(x.dtype),
    ))  # fmt: skip
    if not reduce:
        return loss, grad
    return finish_reduction(partials, n_partials, denominator, loss_dtype, count), grad
