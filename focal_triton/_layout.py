"""How (N, C, *) logits are walked by the multiclass kernels, without a permute or a copy.

The kernels see logits as (B, C, S): element (b, c, s) at
b * stride_b + c * stride_c + s * stride_s, and row b * S + s is position
(n, *) of the targets and of a per-row output.
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RowsLayout:
    batches: int  # B
    rows: int  # S, rows per batch
    logits_strides: tuple  # (stride_b, stride_c, stride_s) of the logits
    grad_strides: tuple  # the same for the gradient (and a per-element output)


def _bcs_strides(tensor):
    """(stride_b, stride_c, stride_s) of (N, C, *) with the trailing dims merged into one, or None."""
    spatial = [(size, stride) for size, stride in zip(tensor.shape[2:], tensor.stride()[2:]) if size != 1]
    for (_, outer), (size, inner) in zip(spatial, spatial[1:]):
        if outer != inner * size:
            return None
    stride_s = spatial[-1][1] if spatial else 1
    return tensor.stride(0), tensor.stride(1), stride_s


def rows_layout(logits, grad):
    """The (B, C, S) view of ``logits`` and of ``grad`` (same shape); None when the
    trailing dims of ``logits`` do not merge into one stride (the caller copies)."""
    n, spatial = logits.shape[0], math.prod(logits.shape[2:])
    if n * spatial == 0:  # no rows: nothing is read, any strides do
        return RowsLayout(1, 0, (0, logits.stride(1), 1), (0, grad.stride(1), 1))
    x_strides, g_strides = _bcs_strides(logits), _bcs_strides(grad)
    if x_strides is None or g_strides is None:
        return None
    if spatial == 1:  # (N, C) rows: the batch dim is the row dim
        return RowsLayout(1, n, (0, x_strides[1], x_strides[0]), (0, g_strides[1], g_strides[0]))
    mergeable = all(sb == spatial * ss for sb, _, ss in (x_strides, g_strides))
    if n == 1 or mergeable:  # e.g. channels_last: row (b, s) sits at (b * S + s) * stride_s
        return RowsLayout(1, n * spatial, (0, x_strides[1], x_strides[2]), (0, g_strides[1], g_strides[2]))
    return RowsLayout(n, spatial, x_strides, g_strides)


def wide_class_offsets(num_classes, layout):
    """True when a class offset (class * stride_c) of the logits or the gradient can pass 2**31:
    the kernels then compute class offsets in 64 bits (int32 otherwise keeps registers free)."""
    stride_c = max(abs(layout.logits_strides[1]), abs(layout.grad_strides[1]))
    return num_classes * stride_c >= 2**31
