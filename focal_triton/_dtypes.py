"""The dtype policy: what the kernels accumulate in, write the gradient in, and return the loss in.

Plain torch, no Triton: the input contract (``_validation``) and the eager reference use it too.
"""

import torch

HALF_DTYPES = (torch.float16, torch.bfloat16)


def accumulator_dtype(dtype: torch.dtype) -> torch.dtype:
    """fp32 math (and sums) for fp32/fp16/bf16 data, fp64 for float64 data."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def grad_buffer_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the forward writes dL/dx in.  float16 gradients stay float32 until
    backward has multiplied in grad_output: a 'mean' gradient g / n, stored in float16
    before GradScaler's 2**16 arrives, would underflow (float16's smallest subnormal is
    6e-8).  bfloat16 has float32's exponent range and keeps its own dtype."""
    return torch.float32 if dtype == torch.float16 else dtype


def ignore_index_applies(dtype: torch.dtype, ignore_index: int) -> bool:
    """Whether integer labels of ``dtype`` can equal ``ignore_index``: bool labels are never ignored,
    and an ignore_index the dtype cannot hold (-100 for uint8, 2**32 for int32) ignores nothing."""
    if dtype == torch.bool:
        return False
    info = torch.iinfo(dtype)
    return info.min <= ignore_index <= info.max


def loss_dtype_for(inputs: torch.Tensor) -> torch.dtype:
    """The dtype of the loss: float32 for float16 / bfloat16 logits under torch.autocast on
    their device (as torch's own losses, so that GradScaler can scale it), else the logits' dtype."""
    if inputs.dtype in HALF_DTYPES and torch.is_autocast_enabled(inputs.device.type):
        return torch.float32
    return inputs.dtype
