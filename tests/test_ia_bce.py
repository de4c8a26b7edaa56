"""The IoU-aware BCE (IA-BCE) against RF-DETR's ``loss_labels`` (``ia_bce_loss=True``), transcribed
in float64, loss and gradient (its target detached, its negatives' weight prob ** gamma not)."""

import pytest
import torch
import torch.nn.functional as F
from oracle import (
    DTYPE_TOLERANCES,
    NO_FP16,
    assert_fallback_matches_kernels,
    assert_matches,
    autograd64,
    detr_batch,
    logits,
    rfdetr_ia_bce,
    run,
    uniform,
)

import focal_triton
from focal_triton import reference


@pytest.mark.parametrize("dtype,rtol,atol", DTYPE_TOLERANCES)
@pytest.mark.parametrize("classes", [7, 91])  # 91: RF-DETR's COCO head, negatives first
@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (0.5, 1.5), (0.0, 0.0)])
def test_ia_bce_reproduces_rfdetr(device, dtype, rtol, atol, classes, alpha, gamma):
    """RF-DETR: ia_bce_loss(logits.view(-1, C), classes.view(-1), alpha, scores=ious.view(-1),
    reduction="mean", normalizer=num_boxes)."""
    src_logits = logits((2, 12, classes), device, dtype)
    target_classes, ious = detr_batch(device, classes)
    got = run(
        lambda x, t, **o: focal_triton.ia_bce_loss(x.view(-1, classes), t.view(-1), **o),
        src_logits,
        target_classes,
        alpha=alpha,
        gamma=gamma,
        scores=ious.view(-1),
        reduction="mean",
        normalizer=torch.tensor(4.0, device=device),
    )
    want = autograd64(
        lambda z: rfdetr_ia_bce(z, target_classes.cpu(), ious.cpu().double(), 4.0, alpha, gamma), src_logits
    )
    assert_matches(got, want, rtol, atol)


@pytest.mark.parametrize("dtype,rtol,atol", NO_FP16)
def test_ia_bce_dense_targets_and_reductions(device, dtype, rtol, atol):
    x = logits((40, 6), device, dtype)
    q = uniform((40, 6), device) * (uniform((40, 6), device, seed=3) > 0.7)
    for reduction in ("none", "sum", "mean"):
        got = run(focal_triton.ia_bce_loss, x, q, reduction=reduction)

        def formula(z, reduction=reduction):
            positive = q.cpu() > 0
            p = z.sigmoid()
            t = torch.clamp(p.detach() ** 0.25 * q.cpu().double() ** 0.75, min=0.01)
            loss = torch.where(
                positive, F.binary_cross_entropy_with_logits(z, t, reduction="none"), p**2 * F.softplus(z)
            )
            return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]

        assert_matches(got, autograd64(formula, x), rtol, atol)


def test_ia_bce_ignored_rows_and_weight(device):
    classes = 5
    x = logits((10, classes), device)
    t = torch.tensor([0, 5, 2, -100, 4, 5, 1, 3, -100, 0], device=device)
    q = uniform((10,), device, seed=7)
    w = uniform((10, 1), device, seed=8)
    got = run(focal_triton.ia_bce_loss, x, t, scores=q, weight=w)
    kept = (t != -100).cpu()

    def formula(z):
        one_hot = F.one_hot(torch.where(kept, t.cpu(), classes), classes + 1)[:, :classes] > 0
        p = z.sigmoid()
        target = torch.clamp(p.detach() ** 0.25 * q.cpu().double().unsqueeze(1) ** 0.75, min=0.01)
        loss = torch.where(
            one_hot, F.binary_cross_entropy_with_logits(z, target, reduction="none"), p**2 * F.softplus(z)
        )
        return (loss * w.cpu().double() * kept.unsqueeze(1)).sum()

    assert_matches(got, autograd64(formula, x))


def test_ia_bce_extremes_stay_finite(device):
    inf = float("inf")
    x = torch.tensor([[30.0, -30.0, inf, -inf], [-inf, inf, 0.0, 1.0]], device=device)
    t = torch.tensor([0, 1], device=device)
    q = torch.tensor([0.7, 0.3], device=device)
    loss, grad = run(focal_triton.ia_bce_loss, x, t, reduction="none", scores=q)
    assert torch.isfinite(grad).all(), grad
    assert loss[0, 2] == inf and loss[1, 1] == inf  # +inf logits: a negative, and a target below 1
    assert loss[0, 3] == 0 and loss[1, 0] == 0  # -inf negatives: nothing
    assert torch.isfinite(loss[0, :2]).all()


def test_ia_bce_matches_the_reference_and_compiles(monkeypatch, device):
    x = logits((30, 80), device)
    t = torch.randint(0, 81, (30,), generator=torch.Generator().manual_seed(3)).to(device)
    q = uniform((30,), device, seed=4)
    eager = run(focal_triton.ia_bce_loss, x, t, scores=q)
    compiled = run(focal_triton.ia_bce_loss, x, t, scores=q, use_compile=True)
    torch.testing.assert_close(compiled[0], eager[0])
    torch.testing.assert_close(compiled[1], eager[1])
    assert_fallback_matches_kernels(monkeypatch, focal_triton.ia_bce_loss, x, t, scores=q)
    torch.testing.assert_close(reference.ia_bce_loss(x, t, scores=q), eager[0].detach())


def test_ia_bce_module_and_bad_arguments():
    assert repr(focal_triton.IABCELoss()) == (
        "IABCELoss(alpha=0.25, gamma=2.0, reduction='sum', ignore_index=-100, stacked=False)"
    )
    x, t = torch.randn(4, 3), torch.tensor([0, 1, 3, 2])
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        focal_triton.ia_bce_loss(x, t, alpha=1.5, scores=torch.rand(4))
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        focal_triton.ia_bce_loss(x, t, gamma=-1.0, scores=torch.rand(4))
    with pytest.raises(ValueError, match="class-index targets need scores="):
        focal_triton.ia_bce_loss(x, t)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        focal_triton.IABCELoss(alpha=2.0)


def sam3_iabce_mdetr(src_logits, matched, ious, alpha, gamma, pos_weight, is_exhaustive=None):
    """sam3/train/loss/loss_fns.py IABCEMdetr.get_loss (pos_focal=False, no presence, no padding),
    transcribed: (B, Q) logits of one class, a matched mask and the matched queries' IoU; with
    ``is_exhaustive`` (B,) its weak loss (negatives of non-exhaustive images left out), else the mean."""
    prob = src_logits.sigmoid()
    target_classes = matched.to(src_logits.dtype)
    t = torch.clamp(prob**alpha * ious ** (1 - alpha), 0.01).detach()
    positive_target_classes = torch.where(matched, t, target_classes)
    loss_bce = F.binary_cross_entropy_with_logits(src_logits, positive_target_classes, reduction="none")
    loss_bce = loss_bce * target_classes * pos_weight
    loss_bce = loss_bce + F.binary_cross_entropy_with_logits(src_logits, target_classes, reduction="none") * (
        1 - target_classes
    ) * (prob**gamma)
    if is_exhaustive is None:
        return loss_bce.mean()
    loss_mask = ~(~is_exhaustive[:, None].expand_as(loss_bce) & (target_classes < 0.5))
    loss_bce = loss_bce * loss_mask
    return loss_bce.sum() / (loss_mask.sum() + 1e-6)


@pytest.mark.parametrize("gamma", [0.0, 2.0])  # 0: SAM3's default
@pytest.mark.parametrize("weak", [False, True])
def test_ia_bce_reproduces_sam3(device, gamma, weak):
    """SAM3's IABCEMdetr: one logit a query (C = 1), class 0 for a matched query and 1 (background)
    otherwise, its pos_weight as a per-query weight and the weak loss's mask as weight 0 with
    normalizer=mask.sum() + 1e-6 (or 'mean' without it)."""
    batch, queries, pos_weight = 2, 16, 5.0
    x = logits((batch, queries), device)
    matched = uniform((batch, queries), device) > 0.7
    ious = uniform((batch, queries), device, seed=5) * matched
    is_exhaustive = torch.tensor([True, False], device=device)
    weight = torch.where(matched, pos_weight, 1.0)
    options = {}
    if weak:
        mask = ~(~is_exhaustive[:, None] & ~matched)
        weight = weight * mask
        options["normalizer"] = mask.sum() + 1e-6
    got = run(
        lambda z, k, **o: focal_triton.ia_bce_loss(z.reshape(-1, 1), k.reshape(-1), **o),
        x,
        torch.where(matched, 0, 1),
        alpha=0.25,
        gamma=gamma,
        reduction="mean",
        scores=ious.reshape(-1),
        weight=weight.reshape(-1, 1),
        **options,
    )
    want = autograd64(
        lambda z: sam3_iabce_mdetr(
            z, matched.cpu(), ious.cpu().double(), 0.25, gamma, pos_weight, is_exhaustive.cpu() if weak else None
        ),
        x,
    )
    assert_matches(got, want)
