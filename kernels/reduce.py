"""Fixed-order final reduction of per-program partial sums (deterministic, no atomics)."""

import triton
import triton.language as tl


@triton.jit
def sum_partials_kernel(
    partial_ptr,
    out_ptr,
    n_partials,
    denominator,  # a number, or with COUNT_ON_DEVICE a multiplier of the count
    count_ptr,  # with COUNT_ON_DEVICE: 0-d count of non-ignored positions, computed on the device
    COUNT_ON_DEVICE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """out[0] = sum(partials[:n_partials]) / denominator (times *count_ptr), summed in one program in a fixed order."""
    acc = tl.zeros((BLOCK,), dtype=partial_ptr.dtype.element_ty)
    for start in range(0, n_partials, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        acc += tl.load(partial_ptr + offs, mask=offs < n_partials, other=0.0)
    total = tl.sum(acc, axis=0) / denominator
    if COUNT_ON_DEVICE:
        total = total / tl.load(count_ptr).to(acc.dtype)  # 0 / 0 = NaN: mean of nothing
    tl.store(out_ptr, total.to(out_ptr.dtype.element_ty))
