"""Launchers: block choice, dtype dispatch, output buffers and the kernel launches.

Inputs reaching these functions have passed ``_validation``.  No function here
reads a tensor value on the host, so the whole path is free of host-device
syncs and can be captured in a CUDA graph.
"""

import os

import torch
import triton
import triton.language as tl

from focal_triton.kernels.grad_scale import scale_grad_kernel
from focal_triton.kernels.reduce import sum_partials_kernel
from focal_triton.kernels.sigmoid_focal import sigmoid_focal_fwd_kernel

from ._backend import interpreter_enabled

REDUCE_BLOCK = 1024
# (BLOCK, num_warps) candidates of the element-wise kernels.  BLOCK 4096 with
# 4 warps spills registers (and 8192 with 16 warps spills on sm_80), so
# large blocks come with 8 or 16 warps.
ELEMENTWISE_CONFIGS = ((1024, 4), (2048, 4), (2048, 8), (4096, 8), (4096, 16))
ONE_CONFIG = ((1024, 4),)


def autotune_enabled():
    """One config under the interpreter (tests stay fast) or with FOCAL_TRITON_AUTOTUNE=0."""
    return not interpreter_enabled() and os.environ.get("FOCAL_TRITON_AUTOTUNE", "1") != "0"


def _configs():
    chosen = ELEMENTWISE_CONFIGS if autotune_enabled() else ONE_CONFIG
    return [triton.Config({"BLOCK": block}, num_warps=warps) for block, warps in chosen]


MIN_BLOCK = min(config.kwargs["BLOCK"] for config in _configs())


def _prune_to_size(configs, named_args, **kwargs):
    # Blocks larger than the tensor only idle lanes; keep them out of the search.
    fitting = [c for c in configs if c.kwargs["BLOCK"] <= triton.next_power_of_2(named_args["n"])]
    return fitting or configs[:1]


def _autotuned(kernel, **extra):
    # The key is a size bucket (ceil(log2 n)); the dtypes of the tensor
    # arguments are added by the autotuner, so a training loop tunes once per
    # bucket and dtype instead of once per distinct size.
    return triton.autotune(
        configs=_configs(), key=["size_bucket"], prune_configs_by={"early_config_prune": _prune_to_size}, **extra
    )(kernel)


_sigmoid_fwd = _autotuned(sigmoid_focal_fwd_kernel)
# Autotuning runs the kernel several times; it may scale grad_ptr in place,
# so the autotuner must restore it between runs.
_scale_grad = _autotuned(scale_grad_kernel, restore_value=["grad_ptr"])


def size_bucket(n):
    return max(n - 1, 0).bit_length()


def accumulator_dtype(dtype):
    """fp32 math (and sums) for fp32/fp16/bf16 data, fp64 for float64 data."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def compute_dtype(dtype):
    """accumulator_dtype as a Triton dtype, for the kernels' COMPUTE argument."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def _grid(n):
    return lambda meta: (triton.cdiv(n, meta["BLOCK"]),)


def empty_reduction(reduction, like):
    """'sum' of nothing is 0 and 'mean' of nothing is NaN, as torch.sum / torch.mean give."""
    fill = float("nan") if reduction == "mean" else 0.0
    return torch.full((), fill, dtype=like.dtype, device=like.device)


def finish_reduction(partials, n_partials, denominator, out_dtype, count=None):
    """Sums ``partials[:n_partials]`` in a fixed order and divides by ``denominator``
    (times ``count``, a 0-d device tensor, when given)."""
    out = torch.empty((), dtype=out_dtype, device=partials.device)
    sum_partials_kernel[(1,)](
        partials, out, n_partials, denominator, partials if count is None else count,
        COUNT_ON_DEVICE=count is not None, BLOCK=REDUCE_BLOCK,
    )  # fmt: skip
    return out


def sigmoid_focal_forward(inputs, targets, alpha, gamma, reduction, need_grad):
    """Runs the fused sigmoid focal kernel.

    Returns (loss, grad): loss has the shape of ``inputs`` for 'none' and is a
    0-d tensor otherwise, in the dtype of ``inputs``; grad is dL/dx (already
    divided by n for 'mean') when ``need_grad``, else None.
    """
    x = inputs.contiguous()
    t = targets.contiguous()
    if t.dtype == torch.bool:
        t = t.view(torch.uint8)  # same bytes, no copy
    n = x.numel()
    grad = torch.empty_like(x) if need_grad else None
    reduce = reduction != "none"
    if n == 0:
        return (empty_reduction(reduction, x) if reduce else torch.empty_like(x)), grad
    if reduce:
        partials = torch.empty(triton.cdiv(n, MIN_BLOCK), dtype=accumulator_dtype(x.dtype), device=x.device)
        loss = partials  # unused by the kernel when REDUCE
    else:
        loss = torch.empty_like(x)
        partials = loss  # unused by the kernel when not REDUCE
    denominator = float(n) if reduction == "mean" else 1.0
    _sigmoid_fwd[_grid(n)](
        x,
        t,
        loss,
        partials,
        grad if need_grad else x,
        n,
        0.0 if alpha is None else alpha,
        gamma,
        denominator,
        size_bucket(n),
        HAS_ALPHA=alpha is not None,
        HARD_LABELS=t.dtype == torch.uint8,
        REDUCE=reduce,
        WRITE_GRAD=need_grad,
        COMPUTE=compute_dtype(x.dtype),
    )
    if not reduce:
        return loss, grad
    n_partials = triton.cdiv(n, _sigmoid_fwd.best_config.kwargs["BLOCK"])
    return finish_reduction(partials, n_partials, denominator, x.dtype), grad


def scale_grad_in_place(grad, grad_output):
    """grad *= grad_output (a 0-d device tensor) unless it is 1.0; see kernels/grad_scale.py.

    ``grad`` must be dense.  Returns a 0-d device tensor holding the scale the
    buffer now carries.
    """
    carried = torch.empty((), dtype=accumulator_dtype(grad.dtype), device=grad.device)
    n = grad.numel()
    if n:
        _scale_grad[_grid(n)](grad, grad_output, carried, n, size_bucket(n), COMPUTE=compute_dtype(grad.dtype))
    return carried
