"""Deterministic reductions: per-chunk partial sums in a fixed tree, then one fixed-order final sum (no atomics).

``tl.sum`` adds in an order set by the register layout (elements per thread,
lanes, warps), so the same numbers summed by two launch configurations can
differ in the last bit.  ``chunk_sums`` instead adds the elements of each
REDUCE_CHUNK-element chunk in one fixed pairwise tree, each step an addition
of two numbers (exact to reorder), so a chunk's sum, and therefore the whole
reduction, is bitwise the same whatever BLOCK and num_warps ran.
"""

import triton
import triton.language as tl

from .stable_math import float64_scalar

REDUCE_CHUNK = tl.constexpr(1024)  # elements per partial sum; every element-wise BLOCK is a multiple of it
REDUCE_CHUNK_LEVELS = tl.constexpr(REDUCE_CHUNK.value.bit_length() - 1)  # log2: the depth of the pairwise tree


@triton.jit
def chunk_sums(values, BLOCK: tl.constexpr):
    """(BLOCK // REDUCE_CHUNK,) sums of consecutive REDUCE_CHUNK-element chunks of ``values`` (BLOCK,),
    each a pairwise tree: level l adds element pairs (2i, 2i + 1) of level l - 1."""
    rows: tl.constexpr = BLOCK // REDUCE_CHUNK
    sums = tl.reshape(values, (rows, REDUCE_CHUNK))
    for level in tl.static_range(REDUCE_CHUNK_LEVELS):
        left, right = tl.split(tl.reshape(sums, (rows, REDUCE_CHUNK >> (level + 1), 2)))
        sums = left + right
    return tl.reshape(sums, (rows,))


# How a kernel finds what it divides by (its DENOMINATOR constexpr); the launcher picks
# (focal_triton/_reduction.py, Denominator):
DENOMINATOR_NUMBER = tl.constexpr(0)  # the float argument: n for 'mean', 1 for 'sum' / 'none', or a normalizer number
DENOMINATOR_COUNT = tl.constexpr(1)  # the float (1, or C) times a 0-d count on the device: 'mean' over kept positions
DENOMINATOR_TENSOR = tl.constexpr(2)  # a 0-d tensor on the device, as given: normalizer=tensor


@triton.jit
def load_denominator(denominator_ptr, denominator, denominator_remainder, DENOMINATOR: tl.constexpr,
                     COMPUTE: tl.constexpr):  # fmt: skip
    """What the loss is divided by, in COMPUTE precision (read on the device: no host sync)."""
    value = float64_scalar(denominator, denominator_remainder, COMPUTE)
    if DENOMINATOR != DENOMINATOR_NUMBER:
        value = value * tl.load(denominator_ptr).to(COMPUTE)
    return value


@triton.jit
def gradient_scale(denominator_ptr, denominator, denominator_remainder, DENOMINATOR: tl.constexpr,
                   COMPUTE: tl.constexpr):  # fmt: skip
    """1 / denominator, the factor of every gradient.  A count of 0 (every position ignored: every
    gradient is 0) divides by 1; a normalizer is taken as given, so a normalizer of 0 gives
    gradient / 0 (inf, NaN where the gradient is 0), as ``loss.sum() / 0`` does in eager PyTorch."""
    value = load_denominator(denominator_ptr, denominator, denominator_remainder, DENOMINATOR, COMPUTE)
    if DENOMINATOR == DENOMINATOR_COUNT:
        value = tl.where(value > 0, value, 1.0)
    return 1.0 / value


@triton.jit
def sum_partials_kernel(
    partial_ptr,
    out_ptr,
    n_partials,
    denominator,  # see load_denominator
    denominator_remainder,  # its float64 remainder (see stable_math.float64_scalar)
    denominator_ptr,  # DENOMINATOR_COUNT / DENOMINATOR_TENSOR: the 0-d device tensor
    DENOMINATOR: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """out[0] = sum(partials[:n_partials]) / denominator, summed in one program in a fixed order
    (a count of 0: 0 / 0 = NaN, the mean of nothing)."""
    acc = tl.zeros((BLOCK,), dtype=partial_ptr.dtype.element_ty)
    for start in range(0, n_partials, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        acc += tl.load(partial_ptr + offs, mask=offs < n_partials, other=0.0)
    denominator = load_denominator(denominator_ptr, denominator, denominator_remainder, DENOMINATOR, acc.dtype)
    tl.store(out_ptr, (tl.sum(acc, axis=0) / denominator).to(out_ptr.dtype.element_ty))
