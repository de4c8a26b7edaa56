"""Kernel launches from several threads at once."""

import contextlib
import threading

import torch

from ._backend import INTERPRETER, backend_for

# The Triton interpreter patches triton.language module-wide while a kernel runs, so two kernels
# interpreted at once in two threads break each other; Triton's autotuner keeps its benchmark state
# on the autotuner object.  Both run under this lock; compiled GPU launches need none.
_LAUNCH_LOCK = threading.RLock()


def serialized_launches(tensor: torch.Tensor) -> contextlib.AbstractContextManager:
    """A context under which the kernels for ``tensor`` launch: one thread at a time on the
    interpreter, no lock for compiled GPU kernels."""
    return _LAUNCH_LOCK if backend_for(tensor) == INTERPRETER else contextlib.nullcontext()


def autotuning_lock() -> contextlib.AbstractContextManager:
    """The lock a run of Triton's autotuner holds (its benchmark state is shared by every thread)."""
    return _LAUNCH_LOCK
