"""How (N, C, *) logits are walked by the multiclass kernels, without a permute or a copy.

The kernels see logits as (B, C, S): element (b, c, s) at
b * stride_b + c * stride_c + s * stride_s, and row b * S + s is position
(n, *) of the targets and of a per-row output.
"""

import math
from dataclasses import dataclass

import triton

TILE = 4096  # logits per program tile
MAX_SINGLE_TILE_CLASSES = 4096  # softmax rows up to this many classes are read once


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


# Logits per thread of each multiclass kernel's heuristic tile.  The class-index
# sigmoid kernel keeps more values live per logit: at 16 per thread triton 3.6
# caps it at 128 registers and spills on sm_80, at 8 it does not.
ELEMENTS_PER_THREAD = {"softmax_focal_fwd": 16, "sigmoid_focal_index_fwd": 8}


def tile_shape(num_classes, layout, kernel_name):
    """The heuristic (BLOCK_S, BLOCK_C, num_warps) of ``kernel_name``: classes contiguous ->
    the tile runs along C; classes strided (NCHW) -> it runs along S, so loads coalesce
    either way; at least 4 warps, else ELEMENTS_PER_THREAD logits per thread."""
    classes = triton.next_power_of_2(num_classes)
    rows = max(triton.next_power_of_2(layout.rows), 1)  # 0 rows (an empty batch): no program runs
    if layout.logits_strides[1] == 1:
        block_c = min(classes, MAX_SINGLE_TILE_CLASSES)
        block_s = min(max(TILE // block_c, 1), rows)
    else:
        block_s = min(128, rows)
        block_c = min(classes, max(TILE // block_s, 1))
    return block_s, block_c, max(4, block_s * block_c // (32 * ELEMENTS_PER_THREAD[kernel_name]))


def wide_class_offsets(num_classes, layout):
    """True when a class offset (class * stride_c) of the logits or the gradient can pass 2**31:
    the kernels then compute class offsets in 64 bits (int32 otherwise keeps registers free)."""
    stride_c = max(abs(layout.logits_strides[1]), abs(layout.grad_strides[1]))
    return num_classes * stride_c >= 2**31


def layout_kind(layout):
    return "classes-contiguous" if layout.logits_strides[1] == 1 else "classes-strided"


def tile_candidates(num_classes, layout):
    """The (BLOCK_S, BLOCK_C, num_warps) tiles ``focal-triton tune`` measures for a layout:
    rows per program x class tile x warps, around the heuristic."""
    classes = triton.next_power_of_2(num_classes)
    rows = triton.next_power_of_2(layout.rows)
    shapes = set()
    for tile in (1024, 2048, 4096, 8192):
        if layout.logits_strides[1] == 1:
            class_tiles = (classes,) if classes <= MAX_SINGLE_TILE_CLASSES else (2048, 4096, 8192)
            shapes |= {(min(max(tile // c, 1), rows), c) for c in class_tiles if c <= tile}
        else:
            shapes |= {(min(s, rows), min(classes, max(tile // s, 1))) for s in (32, 64, 128, 256)}
    return sorted((s, c, w) for s, c in shapes for w in (4, 8, 16) if w * 32 <= s * c)
