"""How (N, C, *) logits are walked by the multiclass kernels, without a permute or a copy.

The kernels see logits as (B, C, S): element (b, c, s) at
b * stride_b + c * stride_c + s * stride_s, and row b * S + s is position
(n, *) of the targets and of a per-row output.
"""

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor


@dataclass(frozen=True)
class RowsLayout:
    batches: int  # B
    rows: int  # S, rows per batch
    logits_strides: tuple  # (stride_b, stride_c, stride_s) of the logits
    grad_strides: tuple  # the same for the gradient (and a per-element output)
    operand_strides: tuple = ()  # the same for each operand (weight, dense targets, ...) read beside the logits


def _bcs_strides(tensor: Tensor) -> tuple[int, int, int] | None:
    """(stride_b, stride_c, stride_s) of (N, C, *) with the trailing dims merged into one, or None."""
    spatial = [(size, stride) for size, stride in zip(tensor.shape[2:], tensor.stride()[2:], strict=True) if size != 1]
    for (_, outer), (size, inner) in itertools.pairwise(spatial):
        if outer != inner * size:
            return None
    stride_s = spatial[-1][1] if spatial else 1
    return tensor.stride(0), tensor.stride(1), stride_s


def rows_layout(
    logits: Tensor, grad: Tensor, operands: tuple[Tensor, ...] = (), keep_batches: bool = False
) -> RowsLayout | None:
    """The (B, C, S) view of ``logits``, of ``grad`` (same shape) and of each of ``operands``
    ((N, C or 1, *) views, e.g. a weight broadcast to the logits); None when the trailing dims
    of one of them do not merge into one stride (the caller copies).  ``keep_batches``: B = N
    always (stacked sets, reduced apart: no program's rows span two of them)."""
    n, spatial = logits.shape[0], math.prod(logits.shape[2:])
    tensors = (logits, grad, *operands)
    if n * spatial == 0:  # no rows: nothing is read, any strides do
        return _layout(1, 0, [(0, t.stride(1), 1) for t in tensors])
    strides = [s for s in map(_bcs_strides, tensors) if s is not None]
    if len(strides) < len(tensors):
        return None
    if keep_batches:  # one row a batch: any row stride does; C times the class stride keeps rows of C
        row_strides = [(sb, sc, ss if spatial > 1 else logits.shape[1] * sc) for sb, sc, ss in strides]
        return _layout(n, spatial, row_strides)
    if spatial == 1:  # (N, C) rows: the batch dim is the row dim
        return _layout(1, n, [(0, sc, sb) for sb, sc, _ in strides])
    mergeable = all(sb == spatial * ss for sb, _, ss in strides)
    if n == 1 or mergeable:  # e.g. channels_last: row (b, s) sits at (b * S + s) * stride_s
        return _layout(1, n * spatial, [(0, sc, ss) for _, sc, ss in strides])
    return _layout(n, spatial, strides)


def _layout(batches: int, rows: int, strides: Sequence[Sequence[int]]) -> RowsLayout:
    """RowsLayout from the strides of logits, grad and the operands, in that order."""
    return RowsLayout(batches, rows, tuple(strides[0]), tuple(strides[1]), tuple(tuple(s) for s in strides[2:]))


def rows_walkable(operand: Tensor) -> Tensor:
    """``operand`` ((N, C or 1, *), e.g. an expanded broadcast view) as it is when its trailing dims
    merge into one stride, else a contiguous copy (e.g. a weight that varies along W only)."""
    return operand if _bcs_strides(operand) is not None else operand.contiguous()


@dataclass(frozen=True)
class FlatOperand:
    """A tensor broadcast to the logits' shape as the element-wise kernel reads it: its dims
    merged into at most three (see kernels/operands.py); None for an operand not given."""

    tensor: object
    dims: int = 1
    inner_size: int = 1
    middle_size: int = 1
    inner_stride: int = 0
    middle_stride: int = 0
    outer_stride: int = 0

    def kernel_arguments(self, name: str) -> dict[str, Any]:
        """The kernel's ``<name>_ptr`` (None without a tensor: Triton compiles the kernel without it),
        ``<name>_*_size`` / ``_stride`` and ``<NAME>_DIMS`` arguments."""
        fields = ("inner_size", "middle_size", "inner_stride", "middle_stride", "outer_stride")
        return {
            f"{name}_ptr": self.tensor,
            **{f"{name}_{field}": getattr(self, field) for field in fields},
            f"{name.upper()}_DIMS": self.dims,
        }


def flat_operand(tensor: Tensor | None, shape: Sequence[int]) -> FlatOperand:
    """``tensor`` broadcast to ``shape`` as a FlatOperand, read in place; only a view whose dims
    do not merge into three is copied (contiguous)."""
    if tensor is None:
        return FlatOperand(None)
    view = tensor.expand(shape)
    dims: list[tuple[int, int]] = []  # (size, stride), outer to inner, size-1 dims left out, neighbours merged
    for size, stride in zip(view.shape, view.stride(), strict=True):
        if size == 1:
            continue
        if dims and dims[-1][1] == size * stride:
            dims[-1] = (dims[-1][0] * size, stride)
        else:
            dims.append((size, stride))
    if len(dims) > 3:
        view = view.contiguous()
        dims = [(view.numel(), 1)]
    dims = dims or [(1, 0)]
    (outer_stride, middle_size, middle_stride) = (0, 1, 0)
    if len(dims) == 3:
        outer_stride = dims[0][1]
    if len(dims) >= 2:
        middle_size, middle_stride = dims[-2]
    inner_size, inner_stride = dims[-1]
    return FlatOperand(view, len(dims), inner_size, middle_size, inner_stride, middle_stride, outer_stride)


def rows_of_c(num_classes: int, layout: RowsLayout) -> bool:
    """True when the logits and the gradient are rows of ``num_classes`` contiguous classes, one
    after the other (row stride C): kernels with C compiled in then take s * C as the row offset,
    whose divisibility Triton sees (C = 1000: 8 logits, 128-bit 16-bit access), where a runtime
    row stride of 1000 shows none."""
    return all(strides[1:] == (1, num_classes) for strides in (layout.logits_strides, layout.grad_strides))


def wide_class_offsets(num_classes: int, layout: RowsLayout) -> bool:
    """True when a class offset (class * stride_c) of the logits, the gradient or any operand walked
    by class (dense targets, weight, pos_weight) can pass 2**31: the kernels then compute class
    offsets in 64 bits (int32 otherwise keeps registers free)."""
    strides = (layout.logits_strides, layout.grad_strides, *layout.operand_strides)
    return num_classes * max(abs(s[1]) for s in strides) >= 2**31
