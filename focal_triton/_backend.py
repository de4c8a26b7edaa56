"""Which implementation runs a tensor: the Triton kernels or the eager reference."""

import contextlib
import os
import threading

import torch

TRITON = "triton"
INTERPRETER = "triton-interpreter"
REFERENCE = "reference"


def interpreter_enabled():
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


# The Triton interpreter patches triton.language module-wide while a kernel runs, so two kernels
# interpreted at once in two threads break each other; Triton's autotuner keeps its benchmark state
# on the autotuner object.  Both run under this lock; compiled GPU launches need none.
_LAUNCH_LOCK = threading.RLock()


def serialized_launches(tensor: torch.Tensor):
    """A context under which the kernels for ``tensor`` launch: one thread at a time on the
    interpreter, no lock for compiled GPU kernels."""
    return _LAUNCH_LOCK if backend_for(tensor) == INTERPRETER else contextlib.nullcontext()


def autotuning_lock():
    """The lock a run of Triton's autotuner holds (its benchmark state is shared by every thread)."""
    return _LAUNCH_LOCK
