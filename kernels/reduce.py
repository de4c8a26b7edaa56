"""Deterministic reductions: partial sums in a fixed tree, then one fixed-order final sum (no
floating-point atomics; the count of kept targets adds integers, exact in any order).

``tl.sum`` adds in an order set by the register layout (elements per thread, lanes, warps), so
the same numbers summed by two launch configurations can differ in the last bit.  The
element-wise kernel instead defines its order by the data's positions alone:

- the elements are cut into REDUCE_CHUNK-element steps, and the steps dealt to ``streams``
  streams in turn (step j goes to stream j % streams; the launcher sets ``streams`` from n);
- a step is REDUCE_LANES lanes of REDUCE_GROUP adjacent elements: each lane adds its group
  as a pairwise tree (``lane_sums``) to its running sum, step after step;
- each stream's partial sum is a pairwise tree of its lanes (``stream_sums``), and
  ``sum_partials_kernel`` adds the partials: pairwise trees of 1024, left to right.

Every step is an addition of two numbers in an order fixed by positions, so the result is bitwise
the same whatever BLOCK and num_warps ran; the group tree stays inside a thread and the lanes'
tree runs once per program, after its last step, so the steady state costs one addition per
element.
"""

import triton
import triton.language as tl

from .stable_math import float64_scalar

REDUCE_CHUNK = tl.constexpr(1024)  # elements per step of a stream; every element-wise BLOCK is a multiple of it
REDUCE_GROUP = tl.constexpr(8)  # adjacent elements a lane adds per step
REDUCE_GROUP_LEVELS = tl.constexpr(3)  # log2(REDUCE_GROUP): the depth of a group's tree
REDUCE_LANES = tl.constexpr(REDUCE_CHUNK.value // REDUCE_GROUP.value)
REDUCE_LANE_LEVELS = tl.constexpr(REDUCE_LANES.value.bit_length() - 1)


@triton.jit
def pairwise_sums(values, ROWS: tl.constexpr, WIDTH: tl.constexpr, LEVELS: tl.constexpr):
    """(ROWS,) sums of consecutive WIDTH-element runs of ``values`` (ROWS * WIDTH,), each a pairwise
    tree of LEVELS = log2(WIDTH) levels: level l adds element pairs (2i, 2i + 1) of level l - 1."""
    sums = tl.reshape(values, (ROWS, WIDTH))
    for level in tl.static_range(LEVELS):
        left, right = tl.split(tl.reshape(sums, (ROWS, WIDTH >> (level + 1), 2)))
        sums = left + right
    return tl.reshape(sums, (ROWS,))


@triton.jit
def lane_sums(values, BLOCK: tl.constexpr):
    """(BLOCK // REDUCE_GROUP,) the group sums of one step's BLOCK values, lane by lane."""
    return pairwise_sums(values, BLOCK // REDUCE_GROUP, REDUCE_GROUP, REDUCE_GROUP_LEVELS)


@triton.jit
def stream_sums(lanes, BLOCK: tl.constexpr):
    """(BLOCK // REDUCE_CHUNK,) the partial sum of each stream from its lanes' running sums."""
    return pairwise_sums(lanes, BLOCK // REDUCE_CHUNK, REDUCE_LANES, REDUCE_LANE_LEVELS)


# How a kernel finds what it divides by (its DENOMINATOR constexpr); the launcher picks
# (focal_triton/_reduction.py, Denominator):
DENOMINATOR_NUMBER = tl.constexpr(0)  # the float argument: n for 'mean', 1 for 'sum' / 'none', or a normalizer number
DENOMINATOR_COUNT = tl.constexpr(1)  # the float (1, or C) times a count on the device: 'mean' over kept positions
DENOMINATOR_TENSOR = tl.constexpr(2)  # a tensor on the device, as given: normalizer=tensor
# (a count or a tensor is 0-d, or holds one value a set where the losses of stacked sets are reduced apart)


@triton.jit
def load_denominator(
    denominator_ptr, denominator, denominator_remainder, DENOMINATOR: tl.constexpr, COMPUTE: tl.constexpr
):
    """What the loss is divided by, in COMPUTE precision (read on the device: no host sync)."""
    value = float64_scalar(denominator, denominator_remainder, COMPUTE)
    if DENOMINATOR != DENOMINATOR_NUMBER:
        value = value * tl.load(denominator_ptr).to(COMPUTE)
    return value


@triton.jit
def gradient_scale(
    denominator_ptr, denominator, denominator_remainder, DENOMINATOR: tl.constexpr, COMPUTE: tl.constexpr
):
    """1 / denominator, the factor of every gradient.  A count of 0 (every position ignored: every
    gradient is 0) divides by 1; a normalizer is taken as given, so a normalizer of 0 gives
    gradient / 0 (inf, NaN where the gradient is 0), as ``loss.sum() / 0`` does in eager PyTorch."""
    value = load_denominator(denominator_ptr, denominator, denominator_remainder, DENOMINATOR, COMPUTE)
    if DENOMINATOR == DENOMINATOR_COUNT:
        value = tl.where(value > 0, value, 1.0)
    return 1.0 / value


@triton.jit
def sum_partials_kernel(
    partial_ptr,  # n_partials partial sums a set, the sets one after the other
    out_ptr,  # out: one loss a set
    n_partials,
    denominator,  # see load_denominator
    denominator_remainder,  # its float64 remainder (see stable_math.float64_scalar)
    denominator_ptr,  # DENOMINATOR_COUNT / DENOMINATOR_TENSOR: the device tensor
    DENOMINATOR: tl.constexpr,
    DENOMINATOR_PER_SET: tl.constexpr,  # one denominator a set, at denominator_ptr + set (else one for all)
    BLOCK: tl.constexpr,
    BLOCK_LEVELS: tl.constexpr,  # log2(BLOCK)
):
    """out[set] = sum(the set's partials) / its denominator, one program a set (one set unless the
    losses of stacked sets are reduced apart), in a fixed order: each BLOCK of partials (zeros past
    the end) a pairwise tree, the trees added left to right (a count of 0: 0 / 0 = NaN, the mean of
    nothing)."""
    set_index = tl.program_id(0).to(tl.int64)
    partial_ptr += set_index * n_partials
    if DENOMINATOR_PER_SET:
        denominator_ptr += set_index
    total = tl.zeros((1,), dtype=partial_ptr.dtype.element_ty)
    for start in range(0, n_partials, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        total += pairwise_sums(tl.load(partial_ptr + offs, mask=offs < n_partials, other=0.0), 1, BLOCK, BLOCK_LEVELS)
    denominator = load_denominator(denominator_ptr, denominator, denominator_remainder, DENOMINATOR, total.dtype)
    tl.store(out_ptr + set_index + tl.arange(0, 1), (total / denominator).to(out_ptr.dtype.element_ty))


@triton.jit
def count_kept_kernel(
    t_ptr,  # targets, n a set, the sets one after the other (any integer dtype)
    count_ptr,  # out: one int64 a set, zeroed by the launcher, that each program adds its count to
    n,
    ignore_index: tl.int64,
    BLOCK: tl.constexpr,
):
    """The number of targets other than ignore_index (compared as integers, as ``t != ignore_index``
    in PyTorch) in each set (grid axis 1; one set unless stacked sets are reduced apart), the
    denominator of 'mean' that ignores positions: one read of the targets, each program's count
    added by an integer atomic (exact whatever the order)."""
    set_index = tl.program_id(1).to(tl.int64)
    offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    in_bounds = offsets < n
    t = tl.load(t_ptr + set_index * n + offsets, mask=in_bounds, other=0).to(tl.int64)
    kept = tl.sum(tl.where(in_bounds & (t != ignore_index), 1, 0).to(tl.int64), axis=0)
    tl.atomic_add(count_ptr + set_index, kept)


def count_kept_bytes_per_element(target_bytes):
    """Bytes per target of the count: one read."""
    return target_bytes
