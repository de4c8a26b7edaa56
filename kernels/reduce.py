"""Fixed-order final reduction of per-program partial sums (deterministic, no atomics)."""

import triton
import triton.language as tl


@triton.jit
def sum_partials_kernel(partial_ptr, out_ptr, n_partials, denominator, BLOCK: tl.constexpr):
    """out[0] = sum(partials[:n_partials]) / denominator, summed in one program in a fixed order."""
    acc = tl.zeros((BLOCK,), dtype=partial_ptr.dtype.element_ty)
    for start in range(0, n_partials, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        acc += tl.load(partial_ptr + offs, mask=offs < n_partials, other=0.0)
    total = tl.sum(acc, axis=0) / denominator
    tl.store(out_ptr, total.to(out_ptr.dtype.element_ty))
