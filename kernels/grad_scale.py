"""Backward of every focal loss: scale the gradient the forward already wrote by a scalar grad_output.

The forward leaves dL/dx in its own buffer.  On the first backward a scalar
grad_output (reduction 'mean'/'sum') scales that buffer in place, and when it
equals 1.0 (the usual ``loss.backward()``) nothing is loaded or stored: the
value is read on the device, never on the host.  Program 0 records the value
in a device slot, the scale the buffer now carries, so that a repeated
backward through the same graph can divide it out (see focal_triton/_grad.py).
"""

import triton
import triton.language as tl


@triton.jit
def scale_grad_kernel(
    grad_ptr,  # the forward's gradient buffer: n elements, dense, scaled in place
    grad_out_ptr,  # grad_output: one value
    scale_ptr,  # out: the scale the buffer carries afterwards (written by program 0)
    n,
    COMPUTE: tl.constexpr,  # tl.float32, or tl.float64 for a float64 gradient
    BLOCK: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    go = tl.load(grad_out_ptr).to(COMPUTE)
    if pid == 0:
        tl.store(scale_ptr, go.to(scale_ptr.dtype.element_ty))
    factor = go + tl.zeros((BLOCK,), COMPUTE)  # broadcast to the block
    mask = (offs < n) & (factor != 1.0)  # factor 1: nothing to load or store
    g = tl.load(grad_ptr + offs, mask=mask, other=0.0)
    tl.store(grad_ptr + offs, (g.to(COMPUTE) * factor).to(grad_ptr.dtype.element_ty), mask=mask)


def scale_grad_bytes_per_element(grad_bytes):
    """Ideal bytes per element of a backward that does scale (grad_output != 1):
    read and write the gradient once; 0 when grad_output is 1."""
    return 2 * grad_bytes
