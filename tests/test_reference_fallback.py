"""CPU tensors without TRITON_INTERPRET=1 go to the eager reference, with the same results."""

import os
import subprocess
import sys

import pytest
import torch
from oracle import grad_scale64, reduce64, sigmoid_focal_grad64, sigmoid_focal_loss64

import focal_triton


@pytest.fixture
def without_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("dtype,rtol,atol", [(torch.float32, 2e-5, 2e-6), (torch.bfloat16, 1.6e-2, 2e-5)])
def test_fallback_matches_float64(without_interpreter, reduction, gamma, dtype, rtol, atol):
    x = (torch.randn(500, generator=torch.Generator().manual_seed(0)) * 4).to(dtype)
    x[:4] = torch.tensor([20.0, -20.0, 1e4, -1e4])
    t = (torch.rand(500, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    assert focal_triton.backend_for(x) == "reference"
    leaf = x.clone().requires_grad_()
    loss = focal_triton.sigmoid_focal_loss(leaf, t, 0.25, gamma, reduction)
    loss.backward(torch.ones_like(loss))
    assert loss.dtype == dtype and torch.isfinite(leaf.grad).all()
    want = reduce64(sigmoid_focal_loss64(x, t, 0.25, gamma), reduction)
    want_grad = sigmoid_focal_grad64(x, t, 0.25, gamma) * grad_scale64(500, reduction)
    torch.testing.assert_close(loss.double(), want, rtol=rtol, atol=atol * (500 if reduction == "sum" else 1))
    torch.testing.assert_close(leaf.grad.double(), want_grad, rtol=rtol, atol=atol)


def _fresh_python(script):
    """Runs ``script`` in a new interpreter without TRITON_INTERPRET (as a user's first session)."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)


def test_the_first_cpu_call_says_the_reference_runs_and_how_to_get_the_kernels():
    script = (
        "import warnings, torch, focal_triton\n"
        "x, t = torch.randn(8), torch.rand(8)\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    focal_triton.sigmoid_focal_loss(x, t)\n"
        "    focal_triton.softmax_focal_loss(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))\n"
        "print(len(caught), caught[0].category.__name__, caught[0].filename.endswith('<string>'))\n"
        "print(caught[0].message)\n"
    )
    done = _fresh_python(script)
    assert done.returncode == 0, done.stderr
    count, message = done.stdout.splitlines()
    assert count == "1 UserWarning True"  # once a process, pointing at the caller's line
    assert "eager PyTorch reference" in message and "TRITON_INTERPRET=1 before importing" in message


def test_setting_the_interpreter_after_the_import_is_a_clear_error():
    script = (
        "import os, torch, focal_triton\n"
        "os.environ['TRITON_INTERPRET'] = '1'\n"
        "focal_triton.sigmoid_focal_loss(torch.randn(8), torch.rand(8))\n"
    )
    done = _fresh_python(script)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: TRITON_INTERPRET=1 was set after triton was imported"), last
