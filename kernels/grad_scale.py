"""Backward of every focal loss: scale the gradient the forward already wrote by grad_output.

The forward leaves dL/dx in its own buffer.  On the first backward a scalar
grad_output (reduction 'mean'/'sum') scales that buffer in place, and when it
equals 1.0 (the usual ``loss.backward()``) nothing is loaded or stored: the
value is read on the device, never on the host.  The scale the buffer then
carries is recorded in a device slot, so a repeated backward through the same
graph (``retain_graph=True``, ``gradcheck``) divides it out, writing a new
tensor and leaving the buffer (already handed to autograd) alone.  A
per-element grad_output ('none') is always applied out of place.
"""

import triton
import triton.language as tl


@triton.jit
def scale_grad_kernel(
    grad_ptr,  # the forward's gradient buffer, n elements
    out_ptr,  # where grad_output * dL/dx goes: grad_ptr itself when FIRST and SCALAR
    grad_out_ptr,  # grad_output: one value (SCALAR) or n values
    scale_ptr,  # the scale the buffer carries: written by program 0 when FIRST, read otherwise
    n,
    size_bucket,  # autotune key only: ceil(log2(n))
    SCALAR: tl.constexpr,
    FIRST: tl.constexpr,  # first backward through this buffer
    COMPUTE: tl.constexpr,  # tl.float32, or tl.float64 for a float64 gradient
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    if SCALAR:
        factor = tl.load(grad_out_ptr).to(COMPUTE) + tl.zeros((BLOCK,), COMPUTE)  # broadcast to the block
    else:
        factor = tl.load(grad_out_ptr + offs, mask=mask, other=0.0).to(COMPUTE)
    if FIRST:
        if pid == 0:
            carried = tl.load(grad_out_ptr).to(COMPUTE) if SCALAR else 1.0
            tl.store(scale_ptr, carried.to(scale_ptr.dtype.element_ty))
        if SCALAR:
            mask = mask & (factor != 1.0)  # in place: factor 1 needs no load and no store
    else:
        factor = factor / tl.load(scale_ptr).to(COMPUTE)
    g = tl.load(grad_ptr + offs, mask=mask, other=0.0)
    tl.store(out_ptr + offs, (g.to(COMPUTE) * factor).to(out_ptr.dtype.element_ty), mask=mask)


def scale_grad_bytes_per_element(grad_bytes, scalar):
    """Ideal bytes per element of a backward that does scale: read and write the
    gradient, plus read grad_output when it is per element (0 when a scalar 1.0)."""
    return 2 * grad_bytes + (0 if scalar else grad_bytes)
