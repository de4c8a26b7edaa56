"""Infinite logits give the limit values; -inf masks a class of the softmax; targets outside
[0, 1] give NaN.  Each documented case runs on both backends: the Triton kernels (the
interpreter without CUDA) and the eager reference (the CPU fallback)."""

import pytest
import torch
from oracle import expected_softmax

import focal_triton
from focal_triton import reference

INF = float("inf")


@pytest.fixture(params=["kernels", "reference"])
def losses(request, device):
    """(sigmoid_focal_loss, softmax_focal_loss, device) of one backend."""
    if request.param == "kernels":
        return focal_triton.sigmoid_focal_loss, focal_triton.softmax_focal_loss, device
    return reference.sigmoid_focal_loss, reference.softmax_focal_loss, "cpu"


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("labels", [torch.float32, torch.bool, "index"])
def test_sigmoid_infinite_logits_give_the_limits(losses, gamma, labels):
    sigmoid_focal_loss, _, device = losses
    # x -> +inf with t = 1 (and -inf with t = 0): loss -> 0, gradient -> 0;
    # x -> -inf with t = 1: loss -> inf, dL/dx -> -alpha; x -> +inf with t = 0: loss -> inf, dL/dx -> 1 - alpha.
    alpha = 0.25
    x = torch.tensor([[INF, -INF], [-INF, INF]], device=device, requires_grad=True)  # rows: positions, cols: classes
    if labels == "index":
        targets = torch.tensor([0, 0], device=device)  # class 0 positive, class 1 negative, in both rows
    else:
        targets = torch.tensor([[1.0, 0.0], [1.0, 0.0]], device=device).to(labels)
    want_loss = torch.tensor([[0.0, 0.0], [INF, INF]])
    want_grad = torch.tensor([[0.0, 0.0], [-alpha, 1 - alpha]])
    loss = sigmoid_focal_loss(x, targets, alpha=alpha, gamma=gamma)
    (grad,) = torch.autograd.grad(loss.sum(), x)
    assert torch.equal(loss.cpu(), want_loss)
    torch.testing.assert_close(grad.cpu(), want_grad)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_softmax_minus_infinity_masks_a_class(losses, gamma):
    _, softmax_focal_loss, device = losses
    x = torch.tensor([[0.5, -INF, 1.0, -2.0], [3.0, 0.0, -INF, -INF]], device=device)
    t = torch.tensor([2, 0], device=device)
    leaf = x.clone().requires_grad_()
    loss = softmax_focal_loss(leaf, t, gamma=gamma, reduction="none")
    loss.sum().backward()
    want_loss, want_grad = expected_softmax(x, t, None, gamma, "none")
    torch.testing.assert_close(loss.double().cpu(), want_loss, rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(leaf.grad.double().cpu(), want_grad, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_softmax_infinite_target_logits(losses, gamma):
    _, softmax_focal_loss, device = losses
    # target logit -inf: p_k = 0, loss inf, dL/dx = alpha_k * (p - onehot) (g' -> alpha_k as p_k -> 0);
    # target logit +inf: p_k = 1, loss 0, gradient 0;  +inf on another class: p_k = 0 as above.
    x = torch.tensor([[-INF, 0.0, 1.0], [INF, 0.0, 1.0], [0.0, INF, 1.0]], device=device, requires_grad=True)
    t = torch.tensor([0, 0, 0], device=device)
    loss = softmax_focal_loss(x, t, alpha=0.5, gamma=gamma, reduction="none")
    (grad,) = torch.autograd.grad(loss.sum(), x)
    p = torch.softmax(torch.tensor([0.0, 1.0]), 0)
    assert loss[0].item() == INF and loss[1].item() == 0.0 and loss[2].item() == INF
    torch.testing.assert_close(grad[0].cpu(), 0.5 * torch.tensor([-1.0, p[0], p[1]]))
    torch.testing.assert_close(grad[1].cpu(), torch.zeros(3))
    torch.testing.assert_close(grad[2].cpu(), 0.5 * torch.tensor([-1.0, 1.0, 0.0]))


def test_zero_size_inputs(losses):
    sigmoid_focal_loss, softmax_focal_loss, device = losses
    x = torch.empty(0, 5, 3, device=device, requires_grad=True)
    t = torch.empty(0, 3, dtype=torch.int64, device=device)
    for loss_fn in (softmax_focal_loss, sigmoid_focal_loss):
        assert loss_fn(x, t, reduction="none").numel() == 0
        assert loss_fn(x, t, reduction="sum").item() == 0.0
        assert torch.isnan(loss_fn(x, t, reduction="mean"))
        loss_fn(x, t, reduction="sum").backward()
        assert x.grad.shape == x.shape


def test_offsets_beyond_two_to_the_31(device):
    from focal_triton import sigmoid_focal_loss, softmax_focal_loss

    """Rows 2**30 elements apart, read in place: the third row starts past 2**31, where 32-bit
    offsets would wrap.  The storage is 4 GiB of float16 virtual memory; only the rows are touched."""
    from oracle import expected_softmax

    storage = torch.empty(2**31 + 8, dtype=torch.float16, device=device)
    x = storage.as_strided((3, 4), (2**30, 1))  # (N, C): classes contiguous, rows 2**30 apart
    values = torch.tensor([[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, -3.0, 0.5], [-2.0, 4.0, 0.0, 1.5]], dtype=torch.float16)
    x.copy_(values.to(device))
    t = torch.tensor([2, 0, 1], device=device)
    leaf = x.requires_grad_()
    loss = softmax_focal_loss(leaf, t, reduction="none")
    (grad,) = torch.autograd.grad(loss.sum(), leaf)
    want_loss, want_grad = expected_softmax(values, t.cpu(), None, 2.0, "none")
    torch.testing.assert_close(loss.double().cpu(), want_loss, rtol=2e-3, atol=2e-5)
    torch.testing.assert_close(grad.double().cpu(), want_grad, rtol=2e-3, atol=2e-5)
    sigmoid = sigmoid_focal_loss(x.detach(), t, reduction="none")
    torch.testing.assert_close(sigmoid.cpu(), sigmoid_focal_loss(values.to(device), t, reduction="none").cpu())


@pytest.mark.parametrize("labels", ["soft", "index"])
def test_sigmoid_infinite_logits_reduced(losses, labels):
    """The reductions of infinite logits: inf where a term is inf, the gradient still finite."""
    sigmoid_focal_loss, _, device = losses
    x = torch.tensor([[INF, -INF], [3.0, -1.0]], device=device, requires_grad=True)
    targets = torch.tensor([[0.0, 1.0], [1.0, 0.0]], device=device)
    if labels == "index":
        targets = torch.tensor([1, 0], device=device)  # the same one-hot rows
    loss = sigmoid_focal_loss(x, targets, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    assert loss.item() == INF and torch.isfinite(grad).all()


@pytest.mark.parametrize("target", [-0.5, 1.5, 2.0])
def test_soft_targets_outside_zero_one_give_nan(losses, target):
    """A soft target outside [0, 1] is no probability: that element's loss and gradient are NaN
    (the documented rule), the others are untouched."""
    sigmoid_focal_loss, _, device = losses
    x = torch.tensor([0.5, -2.0, 3.0], device=device, requires_grad=True)
    t = torch.tensor([target, 1.0, 0.0], device=device)
    loss = sigmoid_focal_loss(x, t)
    (grad,) = torch.autograd.grad(loss.sum(), x)
    assert torch.isnan(loss[0]) and torch.isnan(grad[0])
    assert torch.isfinite(loss[1:]).all() and torch.isfinite(grad[1:]).all()


def test_the_interpreter_s_numpy_warnings_stay_inside_the_library(device):
    """Infinite logits make the interpreter's NumPy warn (inf * 0 in an unused select arm, exp
    overflow) where a GPU computes silently; a call warns nothing, and NumPy's own setting is back
    after it."""
    import warnings

    import numpy

    inf = float("inf")
    x = torch.tensor([[inf, -inf, 0.0, 3.0], [1.0, 2.0, -inf, inf]], device=device, requires_grad=True)
    k = torch.tensor([0, 1], device=device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        focal_triton.softmax_focal_loss(x, k, label_smoothing=0.1).backward()
        focal_triton.sigmoid_focal_loss(x, k, weight=torch.ones(2, 1, device=device)).sum().backward()
        focal_triton.distribution_focal_loss(x, torch.tensor([1.0, 2.0], device=device)).backward()
        focal_triton.varifocal_loss(x, k, scores=torch.rand(2, device=device)).backward()
    assert [str(w.message) for w in caught] == []
    assert numpy.geterr()["invalid"] == "warn"
