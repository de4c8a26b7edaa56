"""Varifocal, quality focal and distribution focal loss against float64 transcriptions of
the code they replace — mmdet (VarifocalLoss, QualityFocalLoss, DistributionFocalLoss and
weight_reduce_loss), RT-DETR / D-FINE (loss_labels_vfl) and ultralytics (VarifocalLoss, DFLoss) —
written here from those libraries' formulas, loss and gradient."""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from oracle import (
    DTYPE_TOLERANCES,
    EPS32,
    NO_FP16,
    assert_fallback_matches_kernels,
    assert_matches,
    autograd64,
    logits,
    op_arguments,
    rtdetr_loss_labels_vfl,
    run,
    uniform,
)

import focal_triton
from focal_triton import reference, tuning
from focal_triton._options import BinaryOptions, SoftmaxOptions


def labels(shape, high, device, seed=2):
    return torch.randint(0, high, shape, generator=torch.Generator().manual_seed(seed)).to(device)


def weight_reduce_loss(loss, weight=None, reduction="mean", avg_factor=None):
    """mmdet/models/losses/utils.py weight_reduce_loss, transcribed."""
    if weight is not None:
        loss = loss * weight
    if avg_factor is None:
        return {"mean": loss.mean, "sum": loss.sum}.get(reduction, lambda: loss)()
    if reduction == "mean":
        return loss.sum() / (avg_factor + EPS32)
    return loss


# ----------------------------------------------------------------------------- varifocal
def mmdet_varifocal_loss(pred, target, weight=None, alpha=0.75, gamma=2.0, reduction="mean", avg_factor=None):
    """mmdet varifocal_loss (iou_weighted=True), transcribed."""
    pred_sigmoid = pred.sigmoid()
    target = target.type_as(pred)
    focal_weight = (
        target * (target > 0.0).float() + alpha * (pred_sigmoid - target).abs().pow(gamma) * (target <= 0.0).float()
    )
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none") * focal_weight
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


@pytest.mark.parametrize("dtype,rtol,atol", NO_FP16)
@pytest.mark.parametrize("gamma", [0.0, 2.0, 2.5])
@pytest.mark.parametrize("avg_factor", [None, 5.0])
def test_varifocal_matches_mmdet(device, dtype, rtol, atol, gamma, avg_factor):
    """mmdet VarifocalLoss(alpha, gamma, iou_weighted=True)(pred, target, weight, avg_factor) is
    varifocal_loss(pred, target, alpha, gamma, weight=weight, normalizer=avg_factor + eps)."""
    pred = logits((40, 6), device, dtype)
    target = uniform((40, 6), device) * (uniform((40, 6), device, seed=3) > 0.7)  # IoU at positives, 0 elsewhere
    weight = uniform((40, 1), device, seed=4)
    options = {} if avg_factor is None else {"normalizer": avg_factor + EPS32}
    got = run(focal_triton.varifocal_loss, pred, target, gamma=gamma, weight=weight, **options)
    want = autograd64(
        lambda z: mmdet_varifocal_loss(
            z, target.cpu().double(), weight.cpu().double(), gamma=gamma, avg_factor=avg_factor
        ),
        pred,
    )
    assert_matches(got, want, rtol, atol)


@pytest.mark.parametrize("dtype,rtol,atol", DTYPE_TOLERANCES[:2])
@pytest.mark.parametrize("classes", [7, 80])  # 80: the kernel's negatives first, each row's positive after
def test_varifocal_reproduces_rtdetr(device, dtype, rtol, atol, classes):
    """RT-DETR / D-FINE: varifocal_loss(logits.view(-1, C), classes.view(-1), scores=ious.view(-1),
    detach_weight=True, normalizer=num_boxes) — num_boxes a device tensor, no .item()."""
    batch, queries = 2, 12
    src_logits = logits((batch, queries, classes), device, dtype)
    target_classes = torch.where(
        uniform((batch, queries), device) > 0.6, labels((batch, queries), classes, device), classes
    )
    ious = uniform((batch, queries), device, seed=5) * (target_classes < classes)
    ious[0, :2] = 0.0  # matched with IoU 0: the class is still positive (weight 0)
    target_classes[0, :2] = 3
    num_boxes = torch.tensor(4.0, device=device)
    got = run(
        lambda x, t, **o: focal_triton.varifocal_loss(x.view(-1, classes), t.view(-1), **o),
        src_logits,
        target_classes,
        scores=ious.view(-1),
        detach_weight=True,
        normalizer=num_boxes,
    )
    want = autograd64(lambda z: rtdetr_loss_labels_vfl(z, target_classes.cpu(), ious.cpu().double(), 4.0), src_logits)
    assert_matches(got, want, rtol, atol)


def ultralytics_varifocal(pred_score, gt_score, label, alpha=0.75, gamma=2.0):
    """ultralytics utils/loss.py VarifocalLoss.forward, transcribed (the weight is not detached)."""
    weight = alpha * pred_score.sigmoid().pow(gamma) * (1 - label) + gt_score * label
    loss = F.binary_cross_entropy_with_logits(pred_score, gt_score, reduction="none") * weight
    return loss.mean(1).sum()


@pytest.mark.parametrize("classes", [5, 20])
def test_varifocal_reproduces_ultralytics(device, classes):
    """ultralytics VarifocalLoss()(pred (B, A, C), gt_score, label) is varifocal_loss(pred.view(-1, C),
    classes, scores=, normalizer=A) (its mean over anchors, then sum)."""
    batch, anchors = 2, 30
    pred = logits((batch, anchors, classes), device)
    cls = torch.where(uniform((batch, anchors), device) > 0.7, labels((batch, anchors), classes, device), classes)
    score = uniform((batch, anchors), device, seed=6) * (cls < classes)
    label = F.one_hot(cls.cpu(), classes + 1)[..., :classes].double()
    got = run(
        lambda x, t, **o: focal_triton.varifocal_loss(x.view(-1, classes), t.view(-1), **o),
        pred,
        cls,
        scores=score.view(-1),
        normalizer=anchors,
    )
    want = autograd64(lambda z: ultralytics_varifocal(z, label * score.cpu().double().unsqueeze(-1), label), pred)
    assert_matches(got, want)


@pytest.mark.parametrize("form", ["dense", "index"])
@pytest.mark.parametrize("gamma", [0.0, 0.3, 2.0])
def test_varifocal_extremes_stay_finite(device, form, gamma):
    """Confident and infinite logits: finite gradients for every gamma; the loss is inf only where
    an infinite logit is on the wrong side of its target; the same on the reference backend."""
    x = torch.tensor([[60.0, -60.0, float("inf"), -float("inf"), 0.0, 30.0]] * 2, device=device)
    if form == "dense":
        t = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.5, 0.9]] * 2, device=device)
        options = {}
    else:
        t = torch.tensor([0, 5], device=device)
        options = {"scores": torch.tensor([1.0, 0.9], device=device)}
    loss, grad = run(focal_triton.varifocal_loss, x, t, gamma=gamma, reduction="none", **options)
    assert torch.isfinite(grad).all()
    assert loss[0, 2] == float("inf") and torch.isfinite(loss[:, 3]).all()
    want = run(
        reference.varifocal_loss,
        x.cpu(),
        t.cpu(),
        gamma=gamma,
        reduction="none",
        **{k: v.cpu() for k, v in options.items()},
    )
    torch.testing.assert_close(loss.cpu(), want[0])
    torch.testing.assert_close(grad.cpu(), want[1], rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("loss_fn", [focal_triton.varifocal_loss, focal_triton.quality_focal_loss])
def test_ignored_rows_contribute_nothing_whatever_their_logits(device, loss_fn, bad):
    """A row whose class index is ignore_index adds 0 to the loss and gets a 0 gradient, even with a
    NaN or infinite logit: the 'sum' and the other rows' gradients are those with the row at 0."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 80, generator=generator)
    k, scores = torch.tensor([3, -100, 5, 80]), torch.rand(4, generator=generator)
    results = []
    for row in (bad, 0.0):
        x[1] = row
        results.append(run(loss_fn, x.to(device), k.to(device), scores=scores.to(device), reduction="sum"))
    (loss, grad), (want_loss, want_grad) = results
    assert torch.equal(loss, want_loss) and torch.equal(grad[1], torch.zeros_like(grad[1]))
    assert torch.equal(grad[[0, 2, 3]], want_grad[[0, 2, 3]])


# ----------------------------------------------------------------------------- quality focal
def mmdet_quality_focal_loss(pred, label, score, beta=2.0):
    """mmdet quality_focal_loss (the (label, score) target), transcribed."""
    pred_sigmoid = pred.sigmoid()
    scale_factor = pred_sigmoid
    zerolabel = scale_factor.new_zeros(pred.shape)
    loss = F.binary_cross_entropy_with_logits(pred, zerolabel, reduction="none") * scale_factor.pow(beta)
    bg_class_ind = pred.size(1)
    pos = ((label >= 0) & (label < bg_class_ind)).nonzero().squeeze(1)
    pos_label = label[pos].long()
    scale_factor = score[pos] - pred_sigmoid[pos, pos_label]
    loss[pos, pos_label] = F.binary_cross_entropy_with_logits(
        pred[pos, pos_label], score[pos], reduction="none"
    ) * scale_factor.abs().pow(beta)
    return loss.sum(dim=1, keepdim=False)


def mmdet_quality_focal_loss_tensor_target(pred, target, beta=2.0, activated=False):
    """mmdet quality_focal_loss_tensor_target, transcribed."""
    if activated:
        pred_sigmoid, loss_function = pred, F.binary_cross_entropy
    else:
        pred_sigmoid, loss_function = pred.sigmoid(), F.binary_cross_entropy_with_logits
    scale_factor = pred_sigmoid
    target = target.type(pred.dtype)
    zerolabel = scale_factor.new_zeros(pred.shape)
    loss = loss_function(pred, zerolabel, reduction="none") * scale_factor.pow(beta)
    pos = target != 0
    scale_factor = target[pos] - pred_sigmoid[pos]
    loss[pos] = loss_function(pred[pos], target[pos], reduction="none") * scale_factor.abs().pow(beta)
    return loss.sum(dim=1, keepdim=False)


@pytest.mark.parametrize("dtype,rtol,atol", NO_FP16)
@pytest.mark.parametrize("beta", [1.0, 2.0])
@pytest.mark.parametrize("avg_factor", [None, 6.0])
@pytest.mark.parametrize("classes", [8, 80])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_quality_focal_matches_mmdet(device, dtype, rtol, atol, beta, avg_factor, classes, reduction):
    """mmdet QualityFocalLoss(beta)(pred, (label, score), weight (N,), avg_factor) is
    quality_focal_loss(pred, label, beta, scores=score, weight=weight, normalizer=avg_factor + eps);
    'none' is each row's sum over its classes."""
    pred = logits((30, classes), device, dtype)
    label = torch.where(uniform((30,), device) > 0.6, labels((30,), classes, device), classes)
    score = uniform((30,), device, seed=7) * (label < classes)
    weight = uniform((30,), device, seed=8)
    options = {} if avg_factor is None or reduction == "none" else {"normalizer": avg_factor + EPS32}
    got = run(
        focal_triton.quality_focal_loss,
        pred,
        label,
        beta=beta,
        scores=score,
        weight=weight,
        reduction=reduction,
        **options,
    )
    want = autograd64(
        lambda z: weight_reduce_loss(
            mmdet_quality_focal_loss(z, label.cpu(), score.cpu().double(), beta),
            weight.cpu().double(),
            reduction,
            avg_factor,
        ),
        pred,
    )
    assert_matches(got, want, rtol, atol)


@pytest.mark.parametrize("activated", [False, True])
def test_quality_focal_tensor_target_matches_mmdet(device, activated):
    """The dense form is mmdet's quality_focal_loss_tensor_target (logits, or TOOD's probabilities)."""
    pred = uniform((20, 6), device, low=0.02, high=0.98) if activated else logits((20, 6), device)
    target = uniform((20, 6), device, seed=3) * (uniform((20, 6), device, seed=4) > 0.8)
    got = run(focal_triton.quality_focal_loss, pred, target, reduction="sum", activated=activated)
    want = autograd64(
        lambda z: mmdet_quality_focal_loss_tensor_target(z, target.cpu().double(), activated=activated).sum(), pred
    )
    assert_matches(got, want)


@pytest.mark.parametrize("beta", [0.0, 0.5, 2.0])
def test_quality_focal_nchw_rows_and_finite_gradient_at_the_cusp(device, beta):
    """(N, C, H, W) maps give one loss per pixel; at s = y (the cusp of |y - s| ** beta, beta < 1) the
    gradient is finite (its one-sided limits differ; 0 is taken there) and matches the reference."""
    x = logits((2, 5, 3, 4), device)
    k = labels((2, 3, 4), 6, device)
    score = torch.sigmoid(x).gather(1, k.clamp(max=4).unsqueeze(1)).squeeze(1).detach()  # s = y at the class
    loss, grad = run(focal_triton.quality_focal_loss, x, k, beta=beta, scores=score, reduction="none")
    assert loss.shape == (2, 3, 4) and torch.isfinite(grad).all()
    want = run(reference.quality_focal_loss, x.cpu(), k.cpu(), beta=beta, scores=score.cpu(), reduction="none")
    # below beta = 1, |d| ** beta and its slope at d ~ 1e-8 amplify the float32 rounding of d = s - y
    torch.testing.assert_close(loss.cpu(), want[0], rtol=2e-5, atol=2e-6 if beta >= 1 else 1e-3)
    if beta >= 1:
        torch.testing.assert_close(grad.cpu(), want[1], rtol=2e-5, atol=2e-6)


# ----------------------------------------------------------------------------- distribution focal
def mmdet_distribution_focal_loss(pred, label):
    """mmdet distribution_focal_loss, transcribed."""
    dis_left = label.long()
    dis_right = dis_left + 1
    weight_left = dis_right.float() - label
    weight_right = label - dis_left.float()
    return (
        F.cross_entropy(pred, dis_left, reduction="none") * weight_left
        + F.cross_entropy(pred, dis_right, reduction="none") * weight_right
    )


@pytest.mark.parametrize("dtype,rtol,atol", NO_FP16)
@pytest.mark.parametrize("bins", [16, 17, 33])
def test_distribution_focal_matches_mmdet(device, dtype, rtol, atol, bins):
    """mmdet DistributionFocalLoss()(pred, target, weight, avg_factor) with targets in [0, n - 0.01]
    (as its bbox2distance clamps them) is distribution_focal_loss(pred, target, weight=, normalizer=)."""
    pred = logits((4 * 12, bins), device, dtype)
    target = uniform((4 * 12,), device, high=bins - 1 - 0.01)
    target[:3] = torch.tensor([0.0, 1.0, bins - 1 - 0.01])
    weight = uniform((4 * 12,), device, seed=9)
    with tuning.recording_launches() as launches:
        got = run(focal_triton.distribution_focal_loss, pred, target, weight=weight, normalizer=7.0 + EPS32)
    # up to 32 bins in the registers of one thread a row, more in the soft-target tiles
    assert launches["distribution_focal"]["source"] == ("small C" if bins <= 32 else "heuristic")
    want = autograd64(
        lambda z: weight_reduce_loss(
            mmdet_distribution_focal_loss(z, target.cpu().double()), weight.cpu().double(), "mean", 7.0
        ),
        pred,
    )
    assert_matches(got, want, rtol, atol)


def ultralytics_dfl(pred_dist, target, reg_max):
    """ultralytics DFLoss.__call__, transcribed (reg_max bins, targets clamped to [0, reg_max - 1 - 0.01])."""
    target = target.clamp_(0, reg_max - 1 - 0.01)
    tl = target.long()
    tr = tl + 1
    wl = tr - target
    wr = 1 - wl
    return (
        F.cross_entropy(pred_dist, tl.view(-1), reduction="none").view(tl.shape) * wl
        + F.cross_entropy(pred_dist, tr.view(-1), reduction="none").view(tl.shape) * wr
    ).mean(-1, keepdim=True)


def test_distribution_focal_reproduces_ultralytics(device):
    """ultralytics DFLoss(reg_max=16)(pred (A * 4, 16), target (A, 4)).sum() is
    distribution_focal_loss(pred, target.clamp(0, 15 - 0.01).view(-1), reduction='sum') / 4."""
    anchors, reg_max = 10, 16
    pred = logits((anchors * 4, reg_max), device)
    target = uniform((anchors, 4), device, low=-1.0, high=reg_max)  # outside the range: clamped by the caller
    got = run(
        lambda x, t: (
            focal_triton.distribution_focal_loss(x, t.clamp(0, reg_max - 1 - 0.01).view(-1), reduction="sum") / 4
        ),
        pred,
        target,
    )
    want = autograd64(lambda z: ultralytics_dfl(z, target.cpu().double().clone(), reg_max).sum(), pred)
    assert_matches(got, want)


def test_distribution_focal_at_the_last_bin_and_outside(device):
    """y = n is the one-hot of bin n (the formula's limit); y outside [0, n] or NaN gives NaN in its row;
    (N, n + 1, *) layouts read in place."""
    pred = logits((3, 17, 2), device)
    target = torch.tensor([[16.0, 0.0], [-0.5, 8.25], [16.5, float("nan")]], device=device)
    loss, grad = run(focal_triton.distribution_focal_loss, pred, target, reduction="none")
    want_first = autograd64(lambda z: F.cross_entropy(z[:1, :, 0], torch.tensor([16]), reduction="sum"), pred)
    torch.testing.assert_close(loss[0, 0].double().cpu(), want_first[0], rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(grad[0, :, 0].double().cpu(), want_first[1][0, :, 0], rtol=2e-5, atol=2e-6)
    assert loss[1, 0].isnan() and loss[2].isnan().all() and torch.isfinite(loss[1, 1])
    assert grad[1, :, 0].isnan().all() and torch.isfinite(grad[1, :, 1]).all()


# ----------------------------------------------------------------------------- the custom ops, compile, bad input
def test_gradcheck_in_float64(device):
    x = logits((3, 4), device, torch.float64, scale=1.0).requires_grad_()
    k = labels((3,), 5, device)
    scores = uniform((3,), device).double()
    y = uniform((3,), device, high=3.0).double()
    soft = uniform((3, 4), device, seed=5).double() * (uniform((3, 4), device, seed=6) > 0.5)
    checks = [
        lambda z: focal_triton.varifocal_loss(z, k, scores=scores),
        lambda z: focal_triton.varifocal_loss(z, soft, gamma=1.5),
        lambda z: focal_triton.quality_focal_loss(z, k, 1.5, scores=scores),
        lambda z: focal_triton.distribution_focal_loss(z, y),
    ]
    for fn in checks:
        assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("reduction", ["none", "mean"])  # per-element / per-row outputs; 0-d with a normalizer
def test_opcheck(device, reduction):
    ops = torch.ops.focal_triton
    x = torch.randn(6, 5, 2, device=device, requires_grad=True)
    q = torch.rand(6, 5, 2, device=device)
    k = torch.randint(0, 6, (6, 2), device=device)
    scores = torch.rand(6, 2, device=device)
    y = torch.rand(6, 2, device=device) * 4
    mean = {"normalizer_tensor": torch.tensor(3.0, device=device)} if reduction == "mean" else {}
    vfl = BinaryOptions(loss="varifocal", alpha=0.75, reduction=reduction, **mean)
    qfl = BinaryOptions(loss="quality_focal", alpha=None, reduction=reduction, **mean)
    checks = [
        (ops.varifocal_loss.default, op_arguments(replace(vfl, soft_targets=True, weight=q[:1]), x, q)),
        (
            ops.varifocal_index_loss.default,
            op_arguments(
                replace(vfl, gamma=1.5, detach_weight=True, scores=scores, normalizer=2.0, normalizer_tensor=None), x, k
            ),
        ),
        (ops.quality_focal_loss.default, op_arguments(replace(qfl, scores=scores, weight=scores), x, k)),
        # soft targets (the same op): per-row fake shapes at 'none' only
        *(
            [
                (
                    ops.quality_focal_loss.default,
                    op_arguments(replace(qfl, soft_targets=True, activated=True), q.requires_grad_(), q.detach()),
                )
            ]
            if reduction == "none"
            else []
        ),
        (
            ops.distribution_focal_loss.default,
            op_arguments(
                SoftmaxOptions(loss="distribution_focal", gamma=0.0, reduction=reduction, weight=scores, **mean), x, y
            ),
        ),
    ]
    # every opcheck test at 'mean' (0-d loss, the normalizer); schema and fake tensors at 'none'
    utils = (
        ("test_schema", "test_faketensor")
        if reduction == "none"
        else ("test_schema", "test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic")
    )
    for op, args in checks:
        torch.library.opcheck(op, args, test_utils=utils)


@pytest.mark.parametrize("loss_name", ["varifocal", "varifocal-index", "quality_focal", "distribution_focal"])
def test_compiles_fullgraph(device, loss_name):
    x = logits((6, 5, 2), device)
    k = labels((6, 2), 6, device)
    options = dict(normalizer=torch.tensor(3.0, device=device))
    if loss_name == "varifocal":
        fn, t = focal_triton.varifocal_loss, uniform((6, 5, 2), device)
    elif loss_name == "varifocal-index":
        fn, t = focal_triton.varifocal_loss, k
        options.update(scores=uniform((6, 2), device), detach_weight=True)
    elif loss_name == "quality_focal":
        fn, t = focal_triton.quality_focal_loss, k
        options.update(scores=uniform((6, 2), device), weight=uniform((6, 2), device))
    else:
        fn, t = focal_triton.distribution_focal_loss, uniform((6, 2), device, high=4.0)
    eager = run(fn, x, t, **options)
    compiled = run(fn, x, t, use_compile=True, **options)
    torch.testing.assert_close(compiled[0], eager[0])
    torch.testing.assert_close(compiled[1], eager[1])


BAD_CALLS = [
    pytest.param(
        lambda x, k, s: focal_triton.varifocal_loss(x, k),
        ValueError,
        "class-index targets need scores=",
        id="vfl-no-scores",
    ),
    pytest.param(
        lambda x, k, s: focal_triton.varifocal_loss(x, torch.rand_like(x), scores=s),
        ValueError,
        "scores= goes with class-index targets",
        id="vfl-scores-with-dense",
    ),
    pytest.param(
        lambda x, k, s: focal_triton.varifocal_loss(x, k, scores=s[:3]),
        ValueError,
        r"scores must be a floating tensor of the targets' shape \(6,\)",
        id="vfl-scores-shape",
    ),
    pytest.param(
        lambda x, k, s: focal_triton.varifocal_loss(x, k, alpha=-1.0, scores=s),
        ValueError,
        "alpha must be a finite number >= 0",
        id="vfl-alpha",
    ),
    pytest.param(
        lambda x, k, s: focal_triton.varifocal_loss(x, k, scores=s, detach_weight=1),
        TypeError,
        "detach_weight must be a bool",
        id="vfl-detach",
    ),
    pytest.param(
        lambda x, k, s: focal_triton.quality_focal_loss(x, k, -2.0, scores=s),
        ValueError,
        "beta must be a finite number >= 0",
        id="qfl-beta",
    ),
    pytest.param(
        lambda x, k, s: focal_triton.quality_focal_loss(x, k, scores=s, weight=torch.ones_like(x)),
        ValueError,
        r"weight must be broadcastable to the loss .* \(6,\)",
        id="qfl-weight",
    ),
    pytest.param(
        lambda x, k, s: focal_triton.distribution_focal_loss(x, k),
        ValueError,
        r"targets must be floating distances in \[0, 4\]",
        id="dfl-integer-targets",
    ),
    pytest.param(
        lambda x, k, s: focal_triton.distribution_focal_loss(x[:, :1], s),
        ValueError,
        "n \\+ 1 >= 2 bins",
        id="dfl-one-bin",
    ),
]


@pytest.mark.parametrize("call,error,match", BAD_CALLS)
def test_bad_input_names_the_argument(device, no_kernel, call, error, match):
    x = torch.zeros(6, 5, device=device)
    with pytest.raises(error, match=match):
        call(x, torch.zeros(6, dtype=torch.int64, device=device), torch.rand(6, device=device))


def test_scores_outside_the_unit_interval_give_nan(device):
    """Scores are probabilities (IoUs): one outside [0, 1] gives NaN in its row, documented."""
    x = logits((3, 4), device)
    k = torch.tensor([0, 1, 2], device=device)
    scores = torch.tensor([0.5, 1.5, -0.1], device=device)
    for fn in (focal_triton.varifocal_loss, focal_triton.quality_focal_loss):
        loss, grad = run(fn, x, k, scores=scores, reduction="none")
        rows = loss if loss.dim() == 1 else loss.sum(1)
        assert torch.isfinite(rows[0]) and rows[1:].isnan().all() and grad[1:].isnan().any(1).all()


@pytest.mark.parametrize("loss_name", ["varifocal", "varifocal-index", "quality_focal", "distribution_focal"])
def test_reference_fallback_gives_the_kernels_result(device, monkeypatch, loss_name):
    """CPU tensors without the interpreter go to focal_triton/reference.py: same loss and gradient."""
    if device != "cpu":
        pytest.skip("the fallback serves CPU tensors without the interpreter")
    x = logits((6, 5, 2), device)
    k = labels((6, 2), 6, device)
    fn, t, options = {
        "varifocal": (
            focal_triton.varifocal_loss,
            uniform((6, 5, 2), device) * (uniform((6, 5, 2), device, 4) > 0.5),
            dict(weight=uniform((6, 1, 2), device, 5)),
        ),
        "varifocal-index": (focal_triton.varifocal_loss, k, dict(scores=uniform((6, 2), device), reduction="sum")),
        "quality_focal": (
            focal_triton.quality_focal_loss,
            k,
            dict(scores=uniform((6, 2), device), beta=1.5, normalizer=torch.tensor(4.0)),
        ),
        "distribution_focal": (
            focal_triton.distribution_focal_loss,
            uniform((6, 2), device, high=4.0),
            dict(weight=uniform((6, 2), device, 6)),
        ),
    }[loss_name]
    assert_fallback_matches_kernels(monkeypatch, fn, x, t, **options)


def test_the_family_modules_show_their_parameters():
    assert repr(focal_triton.VarifocalLoss(0.5, detach_weight=True)) == (
        "VarifocalLoss(alpha=0.5, gamma=2.0, reduction='mean', detach_weight=True, ignore_index=-100, stacked=False)"
    )
    assert repr(focal_triton.QualityFocalLoss(1.5, "sum")) == (
        "QualityFocalLoss(beta=1.5, reduction='sum', activated=False, ignore_index=-100)"
    )
    assert repr(focal_triton.DistributionFocalLoss("none")) == "DistributionFocalLoss(reduction='none')"
