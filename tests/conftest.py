"""Without CUDA the tests run the real Triton kernels on CPU tensors through the
Triton interpreter; TRITON_INTERPRET must be set before Triton is imported."""

import os
import sys

import pytest
import torch

if not torch.cuda.is_available():
    assert "triton" not in sys.modules, "triton was imported before TRITON_INTERPRET could be set"
    os.environ["TRITON_INTERPRET"] = "1"

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture
def device():
    """The device whose tensors run the Triton kernels: CUDA, or the CPU through the interpreter."""
    return DEVICE


requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _kernel_classes():
    """The classes whose ``run`` every Triton kernel launch goes through (the autotuner's too)."""
    from triton.runtime.interpreter import InterpretedFunction
    from triton.runtime.jit import JITFunction

    return (JITFunction, InterpretedFunction)


@pytest.fixture
def kernel_launches(monkeypatch):
    """Every Triton kernel launch of the test, as (kernel name, keyword arguments); each still runs."""
    launches = []
    for kernel_class in _kernel_classes():

        def run(self, *args, _real=kernel_class.run, **kwargs):
            launches.append((self.fn.__name__, kwargs))
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(kernel_class, "run", run)
    return launches


@pytest.fixture
def no_kernel(monkeypatch):
    """Fails the test if any Triton kernel is launched."""
    for kernel_class in _kernel_classes():
        monkeypatch.setattr(kernel_class, "run", lambda self, *a, **k: pytest.fail(f"kernel {self.fn.__name__} ran"))
