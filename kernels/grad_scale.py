"""Backward of every focal loss: scale the gradient the forward already wrote by grad_output."""
import triton
import triton.language as tl


@triton.jit
def scale_grad_kernel(grad_ptr, grad_out_ptr, n, size_bucket, SCALAR: tl.constexpr, COMPUTE: tl.constexpr, BLOCK: tl.constexpr):
    """grad *= grad_output, in place on the forward's own gradient buffer.

    size_bucket: autotune key only (ceil(log2 n)).  SCALAR: grad_output is one value (reduction 'mean'/'sum', or a 'none' grad
    expanded from one).  It is read on the device, never on the host, and when
    it equals 1.0 nothing is loaded or stored.  COMPUTE: tl.float32, or
    tl.float64 for a float64 gradient.
    """
    pid = tl.program_id(0).to(tl.int64)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    if SCALAR:
        go = tl.load(grad_out_ptr).to(COMPUTE) + tl.zeros((BLOCK,), COMPUTE)  # broadcast to the block
        mask = mask & (go != 1.0)
    else:
        go = tl.load(grad_out_ptr + offs, mask=mask, other=0.0).to(COMPUTE)
    g = tl.load(grad_ptr + offs, mask=mask, other=0.0)
    tl.store(grad_ptr + offs, (g.to(COMPUTE) * go).to(grad_ptr.dtype.element_ty), mask=mask)
