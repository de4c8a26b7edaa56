"""Which implementation runs a tensor: the Triton kernels or the eager reference."""

import contextlib
import os
import sys
from collections.abc import Iterator

import torch

TRITON = "triton"
INTERPRETER = "triton-interpreter"
REFERENCE = "reference"

# Set by tuning.kernel_path_on_cpu(): CPU tensors take the kernels' path whatever TRITON_INTERPRET
# says (the perf tools capture the launches there instead of running them).  A plain flag, not a
# context variable: torch.compile traces backend_for and cannot trace ContextVar.get.
_kernel_path_on_cpu = False


def interpreter_enabled() -> bool:
    """True when TRITON_INTERPRET=1 is set: Triton kernels then run on CPU tensors."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def _check_kernels_interpreted() -> None:
    """TRITON_INTERPRET=1 takes effect when Triton is imported: set later (say in a notebook after
    ``import focal_triton``), the kernels are compiled GPU kernels that cannot run a CPU tensor."""
    kernels = sys.modules.get("focal_triton.kernels.sigmoid_focal")
    kernel = getattr(kernels, "sigmoid_focal_fwd_kernel", None)
    if kernel is not None and type(kernel).__name__ != "InterpretedFunction":
        raise RuntimeError(
            "TRITON_INTERPRET=1 was set after triton was imported, so the kernels were compiled for a GPU "
            "and cannot run CPU tensors: set it before importing focal_triton or triton (in a notebook, "
            "restart the kernel and set os.environ['TRITON_INTERPRET'] = '1' first), or unset it to use "
            "the eager reference"
        )


def backend_for(tensor: torch.Tensor) -> str:
    """The implementation focal_triton uses for ``tensor``.

    CUDA tensors run the Triton kernels.  With TRITON_INTERPRET=1 set before Triton
    was imported, CPU (and CUDA) tensors run the same kernels through the Triton
    interpreter (set after the import: a RuntimeError that says so).  Anything else falls
    back to the eager PyTorch reference (``focal_triton.reference``); the first such call on
    a CPU tensor warns once that it runs the reference, not the kernels.
    """
    if interpreter_enabled() and tensor.device.type in ("cpu", "cuda"):
        _check_kernels_interpreted()
        return INTERPRETER
    if tensor.is_cuda:
        return TRITON
    if _kernel_path_on_cpu and tensor.device.type == "cpu":
        return INTERPRETER
    return REFERENCE


@contextlib.contextmanager
def kernel_path_on_cpu() -> Iterator[None]:
    """Within the block, CPU tensors take the kernels' path (see tuning.kernel_path_on_cpu)."""
    global _kernel_path_on_cpu
    before, _kernel_path_on_cpu = _kernel_path_on_cpu, True
    try:
        yield
    finally:
        _kernel_path_on_cpu = before
