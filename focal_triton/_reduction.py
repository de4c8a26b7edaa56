"""'mean' / 'sum' after a kernel wrote its partial sums: fixed order, no host sync."""

import torch

from focal_triton.kernels.reduce import sum_partials_kernel

from ._kernel_args import float64_arguments

REDUCE_BLOCK = 1024  # partial sums per step of the one-program final sum


def empty_reduction(reduction, dtype, device):
    """'sum' of nothing is 0 and 'mean' of nothing is NaN, as torch.sum / torch.mean give."""
    fill = float("nan") if reduction == "mean" else 0.0
    return torch.full((), fill, dtype=dtype, device=device)


def finish_reduction(partials, n_partials, denominator, out_dtype, count=None):
    """Sums ``partials[:n_partials]`` in a fixed order and divides by ``denominator``
    (times ``count``, a 0-d device tensor, when given)."""
    out = torch.empty((), dtype=out_dtype, device=partials.device)
    sum_partials_kernel[(1,)](
        partial_ptr=partials, out_ptr=out, n_partials=n_partials, **float64_arguments(denominator=denominator),
        count_ptr=partials if count is None else count,
        COUNT_ON_DEVICE=count is not None, BLOCK=REDUCE_BLOCK,
    )  # fmt: skip
    return out


def non_ignored_count(targets, ignore_index):
    """0-d int64 device tensor: how many targets differ from ignore_index (no host sync)."""
    info = torch.iinfo(targets.dtype)
    if not info.min <= ignore_index <= info.max:  # no target can equal it
        return torch.full((), targets.numel(), dtype=torch.int64, device=targets.device)
    return (targets != ignore_index).sum()
