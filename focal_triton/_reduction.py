"""What a loss is divided by, and 'mean' / 'sum' after a kernel wrote its partial sums: fixed
order, no host sync.

``sets``: None for one loss (0-d); L for the (L,) losses of L stacked sets reduced apart (the
class walk's batches, focal_triton/_stacked.py), each over its own partials and denominator.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import triton
from torch import Tensor

from focal_triton.kernels.reduce import (
    DENOMINATOR_COUNT,
    DENOMINATOR_NUMBER,
    DENOMINATOR_TENSOR,
    count_kept_kernel,
    sum_partials_kernel,
)

from ._dtypes import ignore_index_applies
from ._kernel_args import float64_arguments

REDUCE_BLOCK = 1024  # partial sums per step of the one-program final sum
COUNT_CONFIG = (4096, 4)  # (BLOCK, num_warps) of the count of kept targets: 32 a thread


def empty_reduction(
    reduction: str, dtype: torch.dtype, device: torch.device, denominator: "Denominator", sets: int | None = None
) -> Tensor:
    """The reduction of no elements: 'sum' is 0, 'mean' is 0 / denominator (NaN for a count of 0,
    as torch.mean of nothing; 0 for a normalizer); one a set with ``sets``."""
    zero = torch.zeros(() if sets is None else (sets,), dtype=dtype, device=device)
    if reduction != "mean":
        return zero
    divisor = zero + denominator.value
    return zero / (divisor if denominator.tensor is None else divisor * denominator.tensor)


@dataclass(frozen=True)
class Denominator:
    """What the loss and every gradient are divided by: ``value`` times ``tensor`` (a device tensor:
    0-d, or (L,), one a stacked set) when one is given.  ``is_count``: the tensor counts kept
    positions, and a gradient over a count of 0 (all zeros) is divided by 1 instead
    (kernels/reduce.py)."""

    value: float = 1.0
    tensor: "torch.Tensor | None" = None
    is_count: bool = False

    def kernel_arguments(self) -> dict[str, Any]:
        if self.tensor is None:
            mode = DENOMINATOR_NUMBER
        else:
            mode = DENOMINATOR_COUNT if self.is_count else DENOMINATOR_TENSOR
        return dict(
            **float64_arguments(denominator=self.value),
            denominator_ptr=self.tensor,  # None for a number
            DENOMINATOR=mode,
        )

    @property
    def per_set(self) -> bool:
        """One value a stacked set: the tensor is (L,)."""
        return self.tensor is not None and self.tensor.dim() == 1


def loss_denominator(
    reduction: str,
    normalizer: float | None,
    normalizer_tensor: Tensor | None,
    mean_denominator: Callable[[], Denominator],
) -> Denominator:
    """The Denominator of a loss: 1 for 'none' / 'sum', the normalizer (a number or a 0-d device
    tensor) when given, else ``mean_denominator()`` (called only then: counting costs a kernel)."""
    if reduction != "mean":
        return Denominator()
    if normalizer_tensor is not None:
        return Denominator(tensor=normalizer_tensor)
    if normalizer is not None:
        return Denominator(normalizer)
    return mean_denominator()


def finish_reduction(
    partials: Tensor, n_partials: int, denominator: Denominator, out_dtype: torch.dtype, sets: int | None = None
) -> Tensor:
    """Sums ``partials[:n_partials]`` in a fixed order and divides by ``denominator`` (a Denominator);
    with ``sets``, each set's ``n_partials`` (one after the other) by its own."""
    out = torch.empty(() if sets is None else (sets,), dtype=out_dtype, device=partials.device)
    sum_partials_kernel[(1 if sets is None else sets,)](
        partial_ptr=partials,
        out_ptr=out,
        n_partials=n_partials,
        **denominator.kernel_arguments(),
        DENOMINATOR_PER_SET=denominator.per_set,
        BLOCK=REDUCE_BLOCK,
        BLOCK_LEVELS=REDUCE_BLOCK.bit_length() - 1,
    )
    return out


def non_ignored_count(
    targets: Tensor, ignore_index: int, per_position: float = 1.0, sets: int | None = None
) -> Denominator:
    """The Denominator of 'mean' over the targets that differ from ignore_index, each counting
    ``per_position`` (C for the class-index sigmoid loss): counted on the device (no host sync), one
    count a set with ``sets`` (the flat targets their equal parts), or known on the host when no
    target can equal ignore_index."""
    if not ignore_index_applies(targets.dtype, ignore_index):
        return Denominator(float(targets.numel() // (sets or 1)) * per_position)
    return Denominator(per_position, count_kept(targets.reshape(-1), ignore_index, sets), is_count=True)


def count_kept(targets: Tensor, ignore_index: int, sets: int | None = None) -> Tensor:
    """An int64 device tensor: how many of the flat ``targets`` differ from ignore_index (one Triton
    pass over them); 0-d, or with ``sets`` one count for each of that many equal parts."""
    count = torch.zeros(() if sets is None else (sets,), dtype=torch.int64, device=targets.device)
    block, num_warps = COUNT_CONFIG
    if targets.numel():
        per_set = targets.numel() // (sets or 1)
        count_kept_kernel[(triton.cdiv(per_set, block), sets or 1)](
            t_ptr=targets,
            count_ptr=count,
            n=per_set,
            ignore_index=ignore_index,
            BLOCK=block,
            num_warps=num_warps,
        )
    return count
