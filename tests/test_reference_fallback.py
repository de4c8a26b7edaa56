"""CPU tensors without TRITON_INTERPRET=1 go to the eager reference, with the same results."""

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
