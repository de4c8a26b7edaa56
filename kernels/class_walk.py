"""The (N, C, *) walk shared by the multiclass kernels.

Logits are seen as (B, C, S) with element (b, c, s) at
b * stride_b + c * stride_c + s * stride_s; a "row" is one (b, s) position
and its C classes.  (N, C) logits are B = 1, S = N rows; (N, C, H, W) are
B = N, S = H * W; channels_last gives stride_c = 1.  A program takes BLOCK_S
rows of one b and walks their classes in tiles of BLOCK_C; Triton specialises
a stride equal to 1, so loads coalesce along whichever of C and S is
contiguous, with no permute or copy.  (focal_triton/_layout.py finds the
strides; focal_triton/tuning.py chooses the tile.)
"""

import triton
import triton.language as tl

# TARGETS, what a class walk reads as its targets (the launcher picks):
TARGETS_INDEX = tl.constexpr(0)  # one class index per row: its implicit one-hot
TARGETS_INDEX_SCORES = tl.constexpr(1)  # a class index and a score per row: the score at that class, 0 elsewhere
TARGETS_DENSE = tl.constexpr(2)  # target values of the logits' shape, read with their own (b, c, s) strides
TARGETS_DISTANCE = tl.constexpr(3)  # a float y per row: the two-hot (l + 1 - y) at l = floor(y), (y - l) at l + 1

# A row of up to UNROLLED_CLASS_TILES class tiles no wider than UNROLLED_TILE_WIDTH is unrolled
# (C compiled in: the class-index sigmoid kernel, the softmax's rows longer than one tile).
UNROLLED_CLASS_TILES = tl.constexpr(8)
UNROLLED_TILE_WIDTH = tl.constexpr(32)


def tiles_unroll(num_classes, block_c):
    """Whether the class tiles of a row unroll (the kernels' constexpr condition, on the host)."""
    return block_c <= UNROLLED_TILE_WIDTH.value and num_classes <= UNROLLED_CLASS_TILES.value * block_c


@triton.jit
def class_rows(pid, S, n_s_blocks, BLOCK_S: tl.constexpr):
    """(b, s, row mask) of the BLOCK_S rows of program ``pid``."""
    b = (pid // n_s_blocks).to(tl.int64)
    s = (pid % n_s_blocks).to(tl.int64) * BLOCK_S + tl.arange(0, BLOCK_S)
    return b, s, s < S


@triton.jit
def row_starts(x_ptr, grad_ptr, b, s, stride_xb, stride_xs, stride_gb, stride_gs, C, ROWS_OF_C: tl.constexpr):
    """The first logit and gradient element of each row: b * stride_b + s * stride_s, or with
    ROWS_OF_C (rows of C contiguous classes, the launcher checked; C compiled in) s * C, whose
    divisibility Triton sees, so the class tiles load and store as wide vectors (no gradient, a
    None ``grad_ptr``: None)."""
    if ROWS_OF_C:
        x_rows = x_ptr + b * stride_xb + s * C
        g_rows = None if grad_ptr is None else grad_ptr + b * stride_gb + s * C
    else:
        x_rows = x_ptr + b * stride_xb + s * stride_xs
        g_rows = None if grad_ptr is None else grad_ptr + b * stride_gb + s * stride_gs
    return x_rows, g_rows


@triton.jit
def class_offsets(BLOCK_C: tl.constexpr, WIDE_CLASS_OFFSETS: tl.constexpr):
    """0 .. BLOCK_C - 1, as int64 when class * stride_c can pass 2**31 (NCHW with C * H * W > 2**31;
    the launcher decides), else int32, which keeps registers free."""
    if WIDE_CLASS_OFFSETS:
        return tl.arange(0, BLOCK_C).to(tl.int64)
    else:
        return tl.arange(0, BLOCK_C)


@triton.jit
def class_strides(stride_xc, stride_gc, WIDE_CLASS_OFFSETS: tl.constexpr):
    """The class strides of logits and gradient, in 64 bits where class * stride_c can pass 2**31
    (the same decision as ``class_offsets``, for kernels that unroll the classes)."""
    if WIDE_CLASS_OFFSETS:
        return tl.cast(stride_xc, tl.int64), tl.cast(stride_gc, tl.int64)
    else:
        return stride_xc, stride_gc
