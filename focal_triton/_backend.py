"""Which implementation runs a tensor: the Triton kernels or the eager reference."""

import os

import torch

TRITON = "triton"
INTERPRETER = "triton-interpreter"
REFERENCE = "reference"


def interpreter_enabled() -> bool:
    """True when TRITON_INTERPRET=1 is set: Triton kernels then run on CPU tensors."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def backend_for(tensor: torch.Tensor) -> str:
    """The implementation focal_triton uses for ``tensor``.

    CUDA tensors run the Triton kernels.  With TRITON_INTERPRET=1 set before Triton
    was imported, CPU (and CUDA) tensors run the same kernels through the Triton
    interpreter.  Anything else falls back to the eager PyTorch reference
    (``focal_triton.reference``).
    """
    if interpreter_enabled() and tensor.device.type in ("cpu", "cuda"):
        return INTERPRETER
    if tensor.is_cuda:
        return TRITON
    return REFERENCE
