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
