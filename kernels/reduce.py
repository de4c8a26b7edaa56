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


@triton.jit
def sum_partials_kernel(
    partial_ptr,
    out_ptr,
    n_partials,
    denominator,  # a number, or with COUNT_ON_DEVICE a multiplier of the count
    denominator_remainder,  # its float64 remainder (see stable_math.float64_scalar)
    count_ptr,  # with COUNT_ON_DEVICE: 0-d count of non-ignored positions, computed on the device
    COUNT_ON_DEVICE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """out[0] = sum(partials[:n_partials]) / denominator (times *count_ptr), summed in one program in a fixed order."""
    acc = tl.zeros((BLOCK,), dtype=partial_ptr.dtype.element_ty)
    for start in range(0, n_partials, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        acc += tl.load(partial_ptr + offs, mask=offs < n_partials, other=0.0)
    total = tl.sum(acc, axis=0) / float64_scalar(denominator, denominator_remainder, acc.dtype)
    if COUNT_ON_DEVICE:
        total = total / tl.load(count_ptr).to(acc.dtype)  # 0 / 0 = NaN: mean of nothing
    tl.store(out_ptr, total.to(out_ptr.dtype.element_ty))
