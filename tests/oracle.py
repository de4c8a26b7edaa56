"""The tests' oracle: independent float64 focal-loss formulas, and the one way every test
runs a loss and compares it with them (``run``, ``expected_*``, ``assert_*_matches``).

The formulas are written from the textbook definitions with torch's own float64 ops,
not from the code under test.  Test modules import from here, never from each other.
"""

import dataclasses
import functools

import pytest
import torch
import torch.nn.functional as F

import focal_triton

# (dtype, rtol, atol) of the kernels against these formulas: the math inside
# the kernels is float32 (float64 for float64 logits), so the error is mostly
# the rounding of the output to its dtype.
DTYPE_TOLERANCES = [
    pytest.param(torch.float32, 2e-5, 2e-6, id="fp32"),
    pytest.param(torch.float16, 2e-3, 2e-5, id="fp16"),
    pytest.param(torch.bfloat16, 1.6e-2, 2e-5, id="bf16"),
    pytest.param(torch.float64, 1e-9, 1e-12, id="fp64"),
]
REDUCTIONS = ["none", "mean", "sum"]
# fp32, bf16, fp64: the half-precision path is the same code for fp16 and bf16 but for the float32
# gradient buffer of fp16, which the plain losses' tests cover
NO_FP16 = [param for param in DTYPE_TOLERANCES if param.id != "fp16"]
EPS32 = torch.finfo(torch.float32).eps


def alpha_factor(t, alpha):
    """alpha_t = alpha t + (1 - alpha)(1 - t): 1 for alpha None or a negative number; alpha may be a
    tensor broadcast to t."""
    if alpha is None or (not isinstance(alpha, torch.Tensor) and alpha < 0):
        return torch.ones_like(t)
    return alpha * t + (1 - alpha) * (1 - t)


def sigmoid_focal_loss64(x, t, alpha=0.25, gamma=2.0, pos_weight=None):
    """Elementwise alpha_t * (1 - p_t) ** gamma * BCEWithLogits(x, t; pos_weight), in float64."""
    x, t = x.double(), t.double()
    p = torch.sigmoid(x)
    p_t = p * t + (1 - p) * (1 - t)
    pw = None if pos_weight is None else torch.as_tensor(pos_weight, dtype=torch.float64)
    ce = F.binary_cross_entropy_with_logits(x, t, pos_weight=pw, reduction="none")
    return alpha_factor(t, alpha) * (1 - p_t) ** gamma * ce


def sigmoid_focal_grad64(x, t, alpha, gamma):
    """Elementwise d loss / d x by the chain rule, in float64.

    m = 1 - p_t, dm/dx = (1 - 2t) p (1 - p), d m**gamma / dx = gamma m**(gamma-1) dm/dx
    (its limit 0 where m = 0), dce/dx = p - t.
    """
    x, t = x.double(), t.double()
    p, one_minus_p = torch.sigmoid(x), torch.sigmoid(-x)
    m = t * one_minus_p + (1 - t) * p
    dm = (1 - 2 * t) * p * one_minus_p
    safe_m = torch.where(m > 0, m, torch.ones_like(m))
    dw = torch.where(m > 0, gamma * safe_m ** (gamma - 1) * dm, torch.zeros_like(m))
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    return alpha_factor(t, alpha) * (dw * ce + m**gamma * (p - t))


def reduce64(elementwise, reduction, denominator=None):
    """'none', 'sum', or 'mean': the sum over ``denominator`` (default: the number of elements)."""
    if reduction == "mean":
        return elementwise.sum() / (elementwise.numel() if denominator is None else denominator)
    if reduction == "sum":
        return elementwise.sum()
    return elementwise


def grad_scale64(n, reduction):
    return 1.0 / n if reduction == "mean" else 1.0


def class_alpha64(alpha, k):
    """alpha_k of each position: 1 (None), one number, or alpha[k] of a per-class list / tensor."""
    if alpha is None:
        return torch.ones(k.shape, dtype=torch.float64, device=k.device)
    if isinstance(alpha, (int, float)):
        return torch.full(k.shape, float(alpha), dtype=torch.float64, device=k.device)
    return torch.as_tensor(alpha, dtype=torch.float64).to(k.device)[k]


def softmax_focal_loss64(x, targets, alpha, gamma, ignore_index=-100):
    """Per-position -alpha_k (1 - p_k) ** gamma log p_k over dim 1 in float64, and the kept mask.

    Differentiable with autograd (moderate logits: 1 - p_k never rounds to 0 in float64)."""
    x = x.double()
    wide = targets.long()
    kept = wide != ignore_index
    k = torch.where(kept, wide, torch.zeros_like(wide))
    log_p_k = torch.log_softmax(x, dim=1).gather(1, k.unsqueeze(1)).squeeze(1)
    loss = -class_alpha64(alpha, k) * (1 - torch.exp(log_p_k)) ** gamma * log_p_k
    return torch.where(kept, loss, torch.zeros_like(loss)), kept


def softmax_focal_grad64(x, targets, alpha, gamma, ignore_index=-100):
    """d loss_i / d x in float64 from the chain rule: dL/du * (onehot - p), u = log p_k,
    with dL/du = -alpha_k [(1 - p_k)^gamma - gamma u p_k (1 - p_k)^(gamma - 1)] (limit 0 at p_k = 1).
    For the extreme logits where autograd of the textbook formula meets 0 * inf."""
    x = x.double()
    wide = targets.long()
    kept = wide != ignore_index
    k = torch.where(kept, wide, torch.zeros_like(wide))
    p = torch.softmax(x, dim=1)
    u = torch.log_softmax(x, dim=1).gather(1, k.unsqueeze(1)).squeeze(1)
    p_k = torch.exp(u)
    m = -torch.expm1(u)
    power = torch.where(m > 0, m.clamp_min(1e-300) ** (gamma - 1), torch.zeros_like(m))
    dl_du = -class_alpha64(alpha, k) * (m**gamma - gamma * u * p_k * power)
    onehot = torch.zeros_like(p).scatter_(1, k.unsqueeze(1), 1.0)
    grad = dl_du.unsqueeze(1) * (onehot - p)
    return torch.where(kept.unsqueeze(1), grad, torch.zeros_like(grad))


def one_hot64(targets, num_classes):
    """(N, C, *) float64 one-hot of (N, *) class indices; values outside [0, C) give all zeros."""
    classes = torch.arange(num_classes, device=targets.device).view(1, -1, *([1] * (targets.dim() - 1)))
    return (targets.long().unsqueeze(1) == classes).double()


# ----------------------------------------------------------------------------- random inputs, float64 autograd
def logits(shape, device, dtype=torch.float32, scale=3.0, seed=0):
    """Random logits (normal, times ``scale``), drawn in float64 from a seeded generator."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=generator, dtype=torch.float64) * scale).to(dtype).to(device)


def uniform(shape, device, seed=1, low=0.0, high=1.0):
    """Random float32 values uniform in [low, high) (targets, scores, weights, distances)."""
    generator = torch.Generator().manual_seed(seed)
    return (low + (high - low) * torch.rand(shape, generator=generator, dtype=torch.float64)).float().to(device)


def autograd64(formula, x, grad_output=None):
    """(loss, d loss / d x) of a float64 formula of ``x`` by autograd (on the CPU)."""
    leaf = x.detach().double().cpu().requires_grad_()
    loss = formula(leaf)
    go = torch.ones_like(loss) if grad_output is None else grad_output
    (grad,) = torch.autograd.grad(loss, leaf, go)
    return loss.detach(), grad


def detr_batch(device, classes, batch=2, queries=12):
    """DETR targets of (batch, queries) rows: matched queries (a class and an IoU; the first two
    matched with IoU 0) and unmatched ones (class C)."""
    target_classes = torch.where(
        uniform((batch, queries), device) > 0.6,
        torch.randint(0, classes, (batch, queries), generator=torch.Generator().manual_seed(2)).to(device),
        classes,
    )
    target_classes[0, :2] = 3
    ious = uniform((batch, queries), device, seed=5) * (target_classes < classes)
    ious[0, :2] = 0.0
    return target_classes, ious


# ----------------------------------------------------------------------------- DETR criteria, transcribed
def rtdetr_loss_labels_vfl(src_logits, target_classes, ious, num_boxes, alpha=0.75, gamma=2.0):
    """RT-DETR v2 / D-FINE loss_labels_vfl, transcribed: (B, Q, C) logits, target classes (B, Q) with
    num_classes = background, each query's IoU with its matched box."""
    num_classes = src_logits.shape[-1]
    target = F.one_hot(target_classes, num_classes=num_classes + 1)[..., :-1]
    target_score = ious.unsqueeze(-1) * target
    pred_score = F.sigmoid(src_logits).detach()
    weight = alpha * pred_score.pow(gamma) * (1 - target) + target_score
    loss = F.binary_cross_entropy_with_logits(src_logits, target_score, weight=weight, reduction="none")
    return loss.mean(1).sum() * src_logits.shape[1] / num_boxes


def deim_loss_labels_mal(src_logits, target_classes, ious, num_boxes, gamma=1.5, mal_alpha=None):
    """DEIM engine/deim/deim_criterion.py DEIMCriterion.loss_labels_mal, transcribed: (B, Q, C)
    logits, target classes (B, Q) with num_classes = unmatched, each query's IoU with its box."""
    num_classes = src_logits.shape[-1]
    target = F.one_hot(target_classes, num_classes=num_classes + 1)[..., :-1]
    target_score = ious.unsqueeze(-1) * target
    pred_score = F.sigmoid(src_logits).detach()
    target_score = target_score.pow(gamma)
    if mal_alpha is not None:
        weight = mal_alpha * pred_score.pow(gamma) * (1 - target) + target
    else:
        weight = pred_score.pow(gamma) * (1 - target) + target
    loss = F.binary_cross_entropy_with_logits(src_logits, target_score, weight=weight, reduction="none")
    return loss.mean(1).sum() * src_logits.shape[1] / num_boxes


def rfdetr_ia_bce(src_logits, target_classes, ious, num_boxes, alpha=0.25, gamma=2.0):
    """rfdetr/models/lwdetr.py SetCriterion.loss_labels with ia_bce_loss, transcribed: (B, Q, C) logits,
    target classes (B, Q) with C = unmatched, each query's IoU with its matched box."""
    matched = target_classes < src_logits.shape[-1]
    idx = torch.nonzero(matched, as_tuple=True)
    target_classes_o = target_classes[matched]
    pos_ious = ious[matched].detach()
    prob = src_logits.sigmoid()
    pos_weights = torch.zeros_like(src_logits)
    neg_weights = prob**gamma
    pos_ind = (*idx, target_classes_o)  # RF-DETR indexes with a list of them (a tuple in torch >= 2.9)
    t = prob[pos_ind].pow(alpha) * pos_ious.pow(1 - alpha)
    t = torch.clamp(t, 0.01).detach()
    pos_weights[pos_ind] = t.to(pos_weights.dtype)
    neg_weights[pos_ind] = 1 - t.to(neg_weights.dtype)
    loss_ce = neg_weights * src_logits - F.logsigmoid(src_logits) * (pos_weights + neg_weights)
    return loss_ce.sum() / num_boxes


# ----------------------------------------------------------------------------- running a loss
def assert_fallback_matches_kernels(monkeypatch, loss_fn, x, t, **options):
    """The eager reference (CPU tensors without TRITON_INTERPRET) gives the kernels' loss and gradient."""
    kernels = run(loss_fn, x, t, **options)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert focal_triton.backend_for(x) == "reference"
    fallback = run(loss_fn, x, t, **options)
    torch.testing.assert_close(fallback[0], kernels[0], rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(fallback[1], kernels[1], rtol=2e-5, atol=2e-6)


def assert_matches(got, want, rtol=2e-5, atol=2e-6):
    """(loss, gradient) against the float64 ``want`` = (loss, gradient)."""
    torch.testing.assert_close(got[0].double().cpu(), want[0], rtol=rtol, atol=atol)
    torch.testing.assert_close(got[1].double().cpu(), want[1], rtol=rtol, atol=atol)


def op_arguments(options, x, t, need_grad=True, loss_dtype=torch.float32):
    """The arguments of a focal_triton op: the tensors, each field of its options record
    (focal_triton._options) in order, need_grad and the loss dtype."""
    return (x, t, *(getattr(options, field.name) for field in dataclasses.fields(options)), need_grad, loss_dtype)


def run(loss_fn, x, t, grad_output=None, use_compile=False, **options):
    """(loss, dL/dx * grad_output) of ``loss_fn(x, t, **options)``; grad_output defaults to ones.
    ``use_compile``: through torch.compile(fullgraph=True, backend="aot_eager"), which takes the
    compiled path (the custom op, its fake and its autograd formula) without Inductor's C++ build."""
    leaf = x.detach().clone().requires_grad_()
    fn = functools.partial(loss_fn, **options)
    if use_compile:
        torch._dynamo.reset()  # a fresh compile per call: one test's cases must not exhaust the recompile limit
        fn = torch.compile(fn, fullgraph=True, backend="aot_eager")
    loss = fn(leaf, t)
    loss.backward(torch.ones_like(loss) if grad_output is None else grad_output)
    return loss, leaf.grad


def assert_close_to(loss, grad, x, want, rtol, atol, reduction, sum_terms):
    """loss and grad (in the logits' dtype and shapes) against the float64 ``want``; a 'sum'
    of ``sum_terms`` terms carries as many roundings, so its atol is scaled by them."""
    want_loss, want_grad = want
    assert loss.dtype == x.dtype and grad.dtype == x.dtype
    assert loss.shape == want_loss.shape and grad.shape == x.shape
    loss_atol = atol * (sum_terms if reduction == "sum" else 1)
    torch.testing.assert_close(loss.double().cpu(), want_loss.cpu(), rtol=rtol, atol=loss_atol)
    torch.testing.assert_close(grad.double().cpu(), want_grad.cpu(), rtol=rtol, atol=atol)


def _times(grad, grad_output):
    return grad if grad_output is None else grad * grad_output.double().cpu()


# ----------------------------------------------------------------------------- sigmoid, same-shape targets
def run_sigmoid(x, t, alpha, gamma, reduction, grad_output=None, use_compile=False):
    return run(
        focal_triton.sigmoid_focal_loss, x, t, grad_output, use_compile, alpha=alpha, gamma=gamma, reduction=reduction
    )


def expected_sigmoid(x, t, alpha, gamma, reduction, grad_output=None):
    x, t = x.cpu(), t.cpu()
    loss = reduce64(sigmoid_focal_loss64(x, t, alpha, gamma), reduction)
    grad = sigmoid_focal_grad64(x, t, alpha, gamma) * grad_scale64(x.numel(), reduction)
    return loss, _times(grad, grad_output)


def assert_sigmoid_matches(x, t, alpha, gamma, reduction, rtol, atol, grad_output=None, use_compile=False):
    loss, grad = run_sigmoid(x, t, alpha, gamma, reduction, grad_output, use_compile)
    want = expected_sigmoid(x, t, alpha, gamma, reduction, grad_output)
    assert_close_to(loss, grad, x, want, rtol, atol, reduction, x.numel())


# ----------------------------------------------------------------------------- sigmoid, class-index targets
def expected_sigmoid_index(x, t, alpha, gamma, reduction, ignore_index, grad_output=None):
    one_hot = one_hot64(t.cpu(), x.shape[1])
    kept = (t.cpu().long() != ignore_index).unsqueeze(1).expand_as(one_hot)
    loss = torch.where(kept, sigmoid_focal_loss64(x.cpu(), one_hot, alpha, gamma), 0.0)
    grad = torch.where(kept, sigmoid_focal_grad64(x.cpu(), one_hot, alpha, gamma), 0.0)
    if reduction == "sum":
        loss = loss.sum()
    elif reduction == "mean":
        loss, grad = loss.sum() / kept.sum(), grad / kept.sum()
    return loss, _times(grad, grad_output)


def assert_sigmoid_index_matches(
    x, t, alpha, gamma, reduction, ignore_index=-100, rtol=2e-5, atol=2e-6, grad_output=None, use_compile=False
):
    loss, grad = run(
        focal_triton.sigmoid_focal_loss,
        x,
        t,
        grad_output,
        use_compile,
        alpha=alpha,
        gamma=gamma,
        reduction=reduction,
        ignore_index=ignore_index,
    )
    want = expected_sigmoid_index(x, t, alpha, gamma, reduction, ignore_index, grad_output)
    assert_close_to(loss, grad, x, want, rtol, atol, reduction, x.numel())


# ----------------------------------------------------------------------------- softmax
def run_softmax(x, t, alpha, gamma, reduction, ignore_index=-100, grad_output=None, use_compile=False):
    return run(
        focal_triton.softmax_focal_loss,
        x,
        t,
        grad_output,
        use_compile,
        alpha=alpha,
        gamma=gamma,
        reduction=reduction,
        ignore_index=ignore_index,
    )


def expected_softmax(x, t, alpha, gamma, reduction, ignore_index=-100, grad_output=None):
    """(loss, gradient) in float64 by autograd through softmax_focal_loss64."""
    leaf = x.detach().double().cpu().requires_grad_()
    per_position, kept = softmax_focal_loss64(leaf, t.cpu(), alpha, gamma, ignore_index)
    if reduction == "none":
        loss = per_position
    elif reduction == "sum":
        loss = per_position.sum()
    else:
        loss = per_position.sum() / kept.sum()
    go = torch.ones_like(loss) if grad_output is None else grad_output.double().cpu()
    (grad,) = torch.autograd.grad(loss, leaf, go)
    return loss.detach(), grad


def assert_softmax_matches(
    x, t, alpha, gamma, reduction, rtol, atol, ignore_index=-100, grad_output=None, use_compile=False
):
    loss, grad = run_softmax(x, t, alpha, gamma, reduction, ignore_index, grad_output, use_compile)
    want = expected_softmax(x, t, alpha, gamma, reduction, ignore_index, grad_output)
    assert_close_to(loss, grad, x, want, rtol, atol, reduction, t.numel())
