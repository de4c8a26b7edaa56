"""The matchability-aware loss (MAL) against DEIM's ``loss_labels_mal``, transcribed in float64,
loss and gradient (the weight detached, as DEIM's ``pred_score.detach()``)."""

import pytest
import torch
import torch.nn.functional as F
from oracle import (
    DTYPE_TOLERANCES,
    NO_FP16,
    assert_fallback_matches_kernels,
    assert_matches,
    autograd64,
    deim_loss_labels_mal,
    detr_batch,
    logits,
    run,
    uniform,
)

import focal_triton
from focal_triton import reference


def mal_call(classes):
    return lambda x, t, **o: focal_triton.matchability_aware_loss(x.view(-1, classes), t.view(-1), **o)


@pytest.mark.parametrize("dtype,rtol,atol", DTYPE_TOLERANCES)
@pytest.mark.parametrize("classes", [7, 80])  # 80: the class-index kernel's negatives first, positives after
@pytest.mark.parametrize("gamma,mal_alpha", [(1.5, None), (2.0, 0.75), (1.0, 0.5)])
def test_mal_reproduces_deim(device, dtype, rtol, atol, classes, gamma, mal_alpha):
    """DEIM: matchability_aware_loss(logits.view(-1, C), classes.view(-1), gamma, mal_alpha,
    scores=ious.view(-1), normalizer=num_boxes)."""
    src_logits = logits((2, 12, classes), device, dtype)
    target_classes, ious = detr_batch(device, classes)
    num_boxes = torch.tensor(4.0, device=device)
    got = run(
        mal_call(classes),
        src_logits,
        target_classes,
        gamma=gamma,
        alpha=mal_alpha,
        scores=ious.view(-1),
        normalizer=num_boxes,
    )
    want = autograd64(
        lambda z: deim_loss_labels_mal(z, target_classes.cpu(), ious.cpu().double(), 4.0, gamma, mal_alpha),
        src_logits,
    )
    assert_matches(got, want, rtol, atol)


def deim_dense_mal(x, q, gamma, mal_alpha):
    """The same formula with a dense target q of the logits' shape (matched where q > 0), summed."""
    target = (q > 0).double()
    weight = (1.0 if mal_alpha is None else mal_alpha) * F.sigmoid(x).detach().pow(gamma) * (1 - target) + target
    return (F.binary_cross_entropy_with_logits(x, q.pow(gamma) * target, weight=weight, reduction="none")).sum()


@pytest.mark.parametrize("dtype,rtol,atol", NO_FP16)
@pytest.mark.parametrize("gamma", [1.5, 2.0])
def test_mal_dense_targets(device, dtype, rtol, atol, gamma):
    x = logits((40, 6), device, dtype)
    q = uniform((40, 6), device) * (uniform((40, 6), device, seed=3) > 0.7)
    got = run(focal_triton.matchability_aware_loss, x, q, gamma=gamma, alpha=0.5, reduction="sum")
    want = autograd64(lambda z: deim_dense_mal(z, q.cpu().double(), gamma, 0.5), x)
    assert_matches(got, want, rtol, atol)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_mal_reductions_weight_and_ignored_rows(device, reduction):
    classes = 5
    x = logits((10, classes), device)
    t = torch.tensor([0, 5, 2, -100, 4, 5, 1, 3, -100, 0], device=device)
    q = uniform((10,), device, seed=7)
    w = uniform((10, 1), device, seed=8)
    got = run(focal_triton.matchability_aware_loss, x, t, reduction=reduction, scores=q, weight=w)
    kept = (t != -100).cpu()

    def formula(z):
        one_hot = F.one_hot(torch.where(kept, t.cpu(), classes), classes + 1)[:, :classes].double()
        target = one_hot * q.cpu().double().unsqueeze(1).pow(1.5)
        weight = F.sigmoid(z).detach().pow(1.5) * (1 - one_hot) + one_hot
        loss = F.binary_cross_entropy_with_logits(z, target, weight=weight, reduction="none") * w.cpu().double()
        loss = loss * kept.unsqueeze(1)
        return {"none": loss, "sum": loss.sum(), "mean": loss.sum() / (kept.sum() * classes)}[reduction]

    assert_matches(got, autograd64(formula, x))


def test_mal_extremes_stay_finite(device):
    """|x| up to 30 and infinite logits: finite gradients, the loss inf only where it truly is."""
    inf = float("inf")
    x = torch.tensor([[30.0, -30.0, inf, -inf], [-inf, inf, 0.0, 1.0]], device=device)
    t = torch.tensor([0, 1], device=device)
    q = torch.tensor([0.7, 0.0], device=device)
    loss, grad = run(focal_triton.matchability_aware_loss, x, t, reduction="none", scores=q)
    assert torch.isfinite(grad).all(), grad
    # row 0: matched class 0 at x = 30 (target 0.7 ** 1.5 < 1): a finite loss; row 1: class 1 matched
    # with IoU 0 at x = +inf (target 0): inf, as BCE(inf, 0) is
    assert torch.isfinite(loss[0, 0]) and loss[1, 1] == inf
    assert loss[0, 3] == 0 and loss[1, 0] == 0  # a -inf negative: nothing


def test_mal_matches_the_reference_and_compiles(monkeypatch, device):
    x = logits((30, 80), device)
    t = torch.randint(0, 81, (30,), generator=torch.Generator().manual_seed(3)).to(device)
    q = uniform((30,), device, seed=4)
    eager = run(focal_triton.matchability_aware_loss, x, t, scores=q, alpha=0.8)
    compiled = run(focal_triton.matchability_aware_loss, x, t, scores=q, alpha=0.8, use_compile=True)
    torch.testing.assert_close(compiled[0], eager[0])
    torch.testing.assert_close(compiled[1], eager[1])
    assert_fallback_matches_kernels(monkeypatch, focal_triton.matchability_aware_loss, x, t, scores=q, alpha=0.8)
    torch.testing.assert_close(reference.matchability_aware_loss(x, t, scores=q, alpha=0.8), eager[0].detach())


def test_mal_module_and_bad_arguments():
    module = focal_triton.MatchabilityAwareLoss(gamma=2.0, alpha=0.5)
    assert repr(module) == (
        "MatchabilityAwareLoss(gamma=2.0, alpha=0.5, reduction='mean', ignore_index=-100, stacked=False)"
    )
    x, t = torch.randn(4, 3), torch.tensor([0, 1, 3, 2])
    with pytest.raises(ValueError, match="gamma must be > 0"):
        focal_triton.matchability_aware_loss(x, t, gamma=0.0, scores=torch.rand(4))
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        focal_triton.matchability_aware_loss(x, t, alpha=-1.0, scores=torch.rand(4))
    with pytest.raises(ValueError, match="class-index targets need scores="):
        focal_triton.matchability_aware_loss(x, t)
    with pytest.raises(ValueError, match="gamma must be > 0"):
        focal_triton.MatchabilityAwareLoss(gamma=0)
