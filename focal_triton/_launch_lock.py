"""Kernel launches from several threads at once."""

import contextlib
import threading
from collections.abc import Iterator

import numpy
import torch

from ._backend import INTERPRETER, backend_for

# The Triton interpreter patches triton.language module-wide while a kernel runs, so two kernels
# interpreted at once in two threads break each other; Triton's autotuner keeps its benchmark state
# on the autotuner object.  Both run under this lock; compiled GPU launches need none.
_LAUNCH_LOCK = threading.RLock()


@contextlib.contextmanager
def _interpreted() -> Iterator[None]:
    """One interpreted launch at a time, and NumPy's floating-point warnings off: the interpreter
    computes with NumPy, which warns where the kernels meet inf (inf * 0 in a select's unused arm,
    exp overflow) as a GPU silently does; the results are the kernels' either way."""
    with _LAUNCH_LOCK, numpy.errstate(all="ignore"):
        yield


def serialized_launches(tensor: torch.Tensor) -> contextlib.AbstractContextManager:
    """A context under which the kernels for ``tensor`` launch: one thread at a time on the
    interpreter (NumPy's warnings off), no lock for compiled GPU kernels."""
    return _interpreted() if backend_for(tensor) == INTERPRETER else contextlib.nullcontext()


def autotuning_lock() -> contextlib.AbstractContextManager:
    """The lock a run of Triton's autotuner holds (its benchmark state is shared by every thread)."""
    return _LAUNCH_LOCK
