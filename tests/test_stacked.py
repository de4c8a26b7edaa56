"""Stacked sets (``stacked=True``): the (L,) losses of L decoder layers from one launch, bitwise
equal to L separate calls (loss and gradient), and equal to the DETR criteria's per-layer loops
transcribed in float64 (Deformable DETR focal, RT-DETR / D-FINE VFL, DEIM MAL, RF-DETR IA-BCE)."""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from oracle import (
    assert_matches,
    autograd64,
    deim_loss_labels_mal,
    logits,
    op_arguments,
    rfdetr_ia_bce,
    rtdetr_loss_labels_vfl,
    run,
    uniform,
)

import focal_triton
from focal_triton import reference
from focal_triton._options import BinaryOptions

SETS, ROWS = 3, 13

LOSSES = {
    "focal": focal_triton.sigmoid_focal_loss,
    "varifocal": focal_triton.varifocal_loss,
    "matchability_aware": focal_triton.matchability_aware_loss,
    "ia_bce": focal_triton.ia_bce_loss,
}


def stacked_targets(device, classes, sets=SETS, rows=ROWS):
    """(L, R) class indices (C: unmatched; set 0 with ignored rows, the last set every row ignored)
    and (L, R) scores."""
    generator = torch.Generator().manual_seed(7)
    t = torch.randint(0, classes + 1, (sets, rows), generator=generator)
    t[0, :4] = -100
    t[-1] = -100
    return t.to(device), uniform((sets, rows), device, seed=8)


def with_scores(name, scores):
    return {} if name == "focal" else {"scores": scores}


def per_set(options, index):
    """The options of set ``index``'s own call: its scores, its weight and its normalizer entry."""
    picked = dict(options)
    for key in ("scores", "weight", "normalizer"):
        value = options.get(key)
        if isinstance(value, torch.Tensor) and value.dim() >= 1:
            picked[key] = value[index]
    return picked


def separate_calls(loss_fn, x, t, grad_output, **options):
    """Each set's loss and gradient from its own call (grad_output[l] its backward's scale)."""
    losses, grads = [], []
    for index in range(x.shape[0]):
        loss, grad = run(loss_fn, x[index], t[index], grad_output=grad_output[index], **per_set(options, index))
        losses.append(loss.detach())
        grads.append(grad)
    return torch.stack(losses), torch.stack(grads)


def assert_bitwise(got, want):
    """(loss, gradient) equal to the last bit (NaN where ``want`` has NaN)."""
    for value, expected in zip(got, want, strict=True):
        torch.testing.assert_close(value.detach(), expected, rtol=0, atol=0, equal_nan=True)


DENOMINATORS = {
    "count": dict(reduction="mean"),
    "sum": dict(reduction="sum"),
    "number": dict(reduction="mean", normalizer=4.0),
    "shared tensor": dict(reduction="mean", normalizer="0-d"),
    "a tensor a set": dict(reduction="mean", normalizer="(L,)"),
}


def denominator_options(kind, device):
    options = dict(DENOMINATORS[kind])
    if options.get("normalizer") == "0-d":
        options["normalizer"] = torch.tensor(5.0, device=device)
    elif options.get("normalizer") == "(L,)":
        options["normalizer"] = torch.tensor([3.0, 7.0, 2.5], device=device)
    return options


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("classes", [7, 80])  # 80: the kernel's negatives first, positives after
@pytest.mark.parametrize("kind", DENOMINATORS)
def test_stacked_sets_equal_their_own_calls_bitwise(device, name, classes, kind):
    x = logits((SETS, ROWS, classes), device)
    t, scores = stacked_targets(device, classes)
    options = {**denominator_options(kind, device), **with_scores(name, scores)}
    ones = torch.ones(SETS, device=device)
    got = run(LOSSES[name], x, t, stacked=True, **options)
    assert got[0].shape == (SETS,)
    assert_bitwise(got, separate_calls(LOSSES[name], x, t, ones, **options))
    if kind == "count":  # every row of the last set ignored: its mean is 0 / 0, its gradient 0
        assert torch.isnan(got[0][-1]) and not got[1][-1].any()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", LOSSES)
def test_half_precision_sets_equal_their_own_calls_bitwise(device, dtype, name):
    """Half logits: each set's float32 math, its loss and its gradient rounded as its own call's
    (float16: the float32 gradient buffer, rounded once in backward)."""
    x = logits((SETS, ROWS, 80), device, dtype)
    t, scores = stacked_targets(device, 80)
    options = dict(
        reduction="mean", normalizer=torch.tensor([3.0, 7.0, 2.5], device=device), **with_scores(name, scores)
    )
    ones = torch.ones(SETS, device=device)
    assert_bitwise(
        run(LOSSES[name], x, t, stacked=True, **options), separate_calls(LOSSES[name], x, t, ones, **options)
    )


def test_each_set_gradient_is_scaled_by_its_grad_output(device):
    """A criterion's per-layer weights, loss_l * w_l summed: set l's gradient times w_l."""
    x = logits((SETS, ROWS, 80), device)
    t, scores = stacked_targets(device, 80)
    w = torch.tensor([1.0, 0.5, 2.0], device=device)
    options = dict(scores=scores, normalizer=torch.tensor(6.0, device=device))
    got = run(focal_triton.varifocal_loss, x, t, grad_output=w, stacked=True, **options)
    assert_bitwise(got, separate_calls(focal_triton.varifocal_loss, x, t, w, **options))


@pytest.mark.parametrize("name", ["focal", "varifocal"])
def test_weight_and_focal_options_read_per_set(device, name):
    """weight (L, R, 1) per row and (L, R, C) per element; the focal loss's per-class alpha and
    pos_weight along the classes (the last dim of the stacked logits)."""
    classes = 7
    x = logits((SETS, ROWS, classes), device)
    t, scores = stacked_targets(device, classes)
    extra = {}
    if name == "focal":
        extra = dict(alpha=[0.1 * (c + 1) for c in range(classes)], pos_weight=uniform((classes,), device, seed=4))
    ones = torch.ones(SETS, device=device)
    for weight in (uniform((SETS, ROWS, 1), device, seed=9), uniform((SETS, ROWS, classes), device, seed=10)):
        options = dict(reduction="sum", weight=weight, **extra, **with_scores(name, scores))
        got = run(LOSSES[name], x, t, stacked=True, **options)
        assert_bitwise(got, separate_calls(LOSSES[name], x, t, ones, **options))


def test_none_is_the_unstacked_loss(device):
    x = logits((SETS, ROWS, 7), device)
    t, scores = stacked_targets(device, 7)
    got = run(focal_triton.varifocal_loss, x, t, scores=scores, reduction="none", stacked=True)
    flat = run(focal_triton.varifocal_loss, x.view(-1, 7), t.view(-1), scores=scores.view(-1), reduction="none")
    assert got[0].shape == x.shape
    assert torch.equal(got[0].detach(), flat[0].detach().view_as(x))
    assert torch.equal(got[1], flat[1].view_as(x))


def test_empty_sets(device):
    """No rows: 'sum' gives zeros, 'mean' 0 / 0 = NaN a set (as torch.mean of nothing); no sets: (0,)."""
    for sets, rows in ((SETS, 0), (0, ROWS)):
        x = torch.zeros(sets, rows, 80, device=device, requires_grad=True)
        t = torch.zeros(sets, rows, dtype=torch.int64, device=device)
        total = focal_triton.sigmoid_focal_loss(x, t, reduction="sum", stacked=True)
        mean = focal_triton.sigmoid_focal_loss(x, t, reduction="mean", stacked=True)
        assert total.shape == mean.shape == (sets,)
        assert not total.any() and torch.isnan(mean).all()
        total.sum().backward()
        assert x.grad.shape == x.shape


# ----------------------------------------------------------------------------- the criteria's loops
def layer_targets(device, classes, layer):
    """Each decoder layer's own matching: (B, Q) target classes (C: unmatched) and IoUs."""
    batch, queries = 2, 12
    generator = torch.Generator().manual_seed(20 + layer)
    matched = torch.rand((batch, queries), generator=generator) > 0.6
    picked = torch.randint(0, classes, (batch, queries), generator=generator)
    target_classes = torch.where(matched, picked, classes).to(device)
    ious = (torch.rand((batch, queries), generator=generator) * matched).float().to(device)
    return target_classes, ious


def deformable_detr_loss_labels(src_logits, target_classes, ious, num_boxes, alpha=0.25, gamma=2.0):
    """Deformable DETR models/deformable_detr.py SetCriterion.loss_labels with its
    models/segmentation.py sigmoid_focal_loss, transcribed: the one-hot of (B, Q) target classes
    (C: unmatched, the scattered column dropped), ``loss.mean(1).sum() / num_boxes * Q``."""
    batch, queries, classes = src_logits.shape
    onehot = torch.zeros(batch, queries, classes + 1, dtype=src_logits.dtype)
    onehot.scatter_(2, target_classes.unsqueeze(-1), 1)
    onehot = onehot[:, :, :-1]
    prob = src_logits.sigmoid()
    ce_loss = F.binary_cross_entropy_with_logits(src_logits, onehot, reduction="none")
    p_t = prob * onehot + (1 - prob) * (1 - onehot)
    loss = ce_loss * ((1 - p_t) ** gamma)
    loss = (alpha * onehot + (1 - alpha) * (1 - onehot)) * loss
    return loss.mean(1).sum() / num_boxes * queries


CRITERIA = {
    # name: (the criterion's per-layer loss, its call's options, the transcription)
    "deformable-detr-focal": (focal_triton.sigmoid_focal_loss, dict(), deformable_detr_loss_labels),
    "rtdetr-vfl": (focal_triton.varifocal_loss, dict(detach_weight=True), rtdetr_loss_labels_vfl),
    "deim-mal": (focal_triton.matchability_aware_loss, dict(gamma=1.5), deim_loss_labels_mal),
    "rfdetr-iabce": (focal_triton.ia_bce_loss, dict(), rfdetr_ia_bce),
}


@pytest.mark.parametrize("criterion", CRITERIA)
@pytest.mark.parametrize("classes", [7, 80])
def test_stacked_call_reproduces_the_criterions_layer_loop(device, criterion, classes):
    """The criterion's loop over L = 3 decoder layers (each with its own matching, one num_boxes),
    summed with per-layer weights, against one stacked call: stack the layers' (B, Q, C) logits,
    ``.flatten(1, 2)`` them and their targets, pass num_boxes as the normalizer."""
    loss_fn, call_options, transcription = CRITERIA[criterion]
    layers = [layer_targets(device, classes, layer) for layer in range(SETS)]
    x = logits((SETS, 2, 12, classes), device)
    k = torch.stack([classes_ for classes_, _ in layers])
    q = torch.stack([ious for _, ious in layers])
    num_boxes = 5.0
    weights = torch.tensor([1.0, 0.5, 2.0], device=device)
    got = run(
        lambda z, t, **o: loss_fn(z.flatten(1, 2), t.flatten(1), **o),
        x,
        k,
        grad_output=weights,
        stacked=True,
        **({} if criterion.endswith("focal") else {"scores": q.flatten(1)}),
        reduction="mean",
        normalizer=torch.tensor(num_boxes, device=device),
        **call_options,
    )

    def loop(z):
        return torch.stack([transcription(z[i], k[i].cpu(), q[i].cpu().double(), num_boxes) for i in range(SETS)])

    assert_matches(got, autograd64(loop, x, weights.cpu().double()))


# ----------------------------------------------------------------------------- torch.compile and the op
def test_compiles_fullgraph_and_matches_the_reference(monkeypatch, device):
    x = logits((SETS, ROWS, 80), device)
    t, scores = stacked_targets(device, 80)
    options = dict(scores=scores, stacked=True, normalizer=torch.tensor([3.0, 7.0, 2.5], device=device))
    eager = run(focal_triton.matchability_aware_loss, x, t, **options)
    compiled = run(focal_triton.matchability_aware_loss, x, t, use_compile=True, **options)
    assert_bitwise(compiled, (eager[0].detach(), eager[1]))
    fallback = reference.matchability_aware_loss(x, t, **options)
    torch.testing.assert_close(fallback, eager[0].detach(), rtol=2e-5, atol=2e-6, equal_nan=True)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert focal_triton.backend_for(x) == "reference"
    torch.testing.assert_close(run(focal_triton.matchability_aware_loss, x, t, **options)[1], eager[1])


def test_opcheck(device):
    """The op of stacked sets: the (L, C, R) view of the logits, its (L,) fake loss, its
    autograd formula with an (L,) grad_output."""
    x = logits((SETS, ROWS, 6), device).transpose(1, 2).requires_grad_()
    t, scores = stacked_targets(device, 6)
    t[-1, :3] = 2  # some kept rows in every set: a finite mean
    options = BinaryOptions(loss="varifocal", alpha=0.75, scores=scores, stacked=True)
    for mean in (dict(), dict(normalizer_tensor=torch.tensor([3.0, 7.0, 2.5], device=device))):
        args = op_arguments(replace(options, **mean), x, t)
        torch.library.opcheck(
            torch.ops.focal_triton.varifocal_index_loss.default,
            args,
            test_utils=("test_schema", "test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic"),
        )


def test_autocast_gives_float32_losses(device):
    if device == "cpu":
        dtype = torch.bfloat16
    else:
        dtype = torch.float16
    x = logits((SETS, ROWS, 80), device, dtype)
    t, scores = stacked_targets(device, 80)
    leaf = x.detach().clone().requires_grad_()
    with torch.autocast(device_type=device, dtype=dtype):
        losses = focal_triton.ia_bce_loss(leaf, t, scores=scores, stacked=True, reduction="sum")
    assert losses.dtype == torch.float32 and losses.shape == (SETS,)
    (2.0**15 * losses.sum()).backward()
    assert leaf.grad.dtype == dtype and torch.isfinite(leaf.grad).all()


# ----------------------------------------------------------------------------- modules and errors
def test_modules_take_stacked():
    x, (t, scores) = torch.randn(SETS, ROWS, 7), stacked_targets("cpu", 7)
    for module, kwargs in (
        (focal_triton.SigmoidFocalLoss(reduction="sum", stacked=True), {}),
        (focal_triton.VarifocalLoss(reduction="sum", stacked=True), {"scores": scores}),
        (focal_triton.MatchabilityAwareLoss(reduction="sum", stacked=True), {"scores": scores}),
        (focal_triton.IABCELoss(stacked=True), {"scores": scores}),
    ):
        assert "stacked=True" in repr(module)
        assert module(x, t, **kwargs).shape == (SETS,)


@pytest.mark.parametrize(
    "change,error,match",
    [
        (
            dict(x=torch.randn(SETS * ROWS, 7)),
            ValueError,
            r"stacked=True takes the logits of L sets .* got shape \(39, 7\)",
        ),
        (dict(t=torch.rand(SETS, ROWS, 7)), ValueError, r"class indices \(L, R\) = \(3, 13\).*float32.*\(3, 13, 7\)"),
        (dict(t=torch.zeros(SETS, 4, dtype=torch.int64)), ValueError, r"class indices \(L, R\) = \(3, 13\)"),
        (dict(normalizer=torch.ones(4)), ValueError, r"normalizer must be .* or of shape \(3,\) .* got .* \(4,\)"),
        (dict(weight=torch.ones(SETS, ROWS)), ValueError, r"weight must be broadcastable to the stacked logits"),
        (dict(stacked=1), TypeError, "stacked must be a bool, got 1"),
        (dict(scores=None), ValueError, "class-index targets need scores="),
    ],
)
def test_bad_stacked_input_names_the_argument(no_kernel, change, error, match):
    t, scores = stacked_targets("cpu", 7)
    arguments = {**dict(x=torch.randn(SETS, ROWS, 7), t=t, scores=scores, stacked=True), **change}
    x, t = arguments.pop("x"), arguments.pop("t")
    with pytest.raises(error, match=match):
        focal_triton.varifocal_loss(x, t, **arguments)
