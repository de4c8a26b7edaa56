"""The options detection and segmentation heads pass: weight, normalizer, label_smoothing,
pos_weight, activated, integer labels, per-class sigmoid alpha and dense softmax targets, on every
loss, against float64 formulas written here, and against the formulas of the libraries they
replace (mmdet, DETR, F.cross_entropy, F.binary_cross_entropy(_with_logits), MONAI), transcribed."""

import pytest
import torch
import torch.nn.functional as F
from oracle import (
    EPS32,
    NO_FP16,
    assert_fallback_matches_kernels,
    assert_matches,
    autograd64,
    logits,
    one_hot64,
    reduce64,
    run,
    sigmoid_focal_loss64,
    uniform,
)

import focal_triton
from focal_triton import reference


# ----------------------------------------------------------------------------- float64 formulas
def soft_softmax_focal64(x, q, alpha=None, gamma=2.0):
    """-sum_j q_j alpha_j (1 - p_j) ** gamma log p_j over dim 1, float64 (alpha: None, a number or C values)."""
    log_p = torch.log_softmax(x, dim=1)
    terms = -((1 - log_p.exp()) ** gamma) * log_p * q.double()
    if alpha is not None:
        shape = (1, -1, *([1] * (x.dim() - 2)))
        terms = (
            torch.as_tensor(alpha, dtype=torch.float64).reshape(shape if not isinstance(alpha, float) else ()) * terms
        )
    return terms.sum(1)


# ----------------------------------------------------------------------------- weight and normalizer
SIGMOID_WEIGHTS = [
    pytest.param((6, 1, 1), id="per-image"),
    pytest.param((6, 1, 4), id="per-position"),
    pytest.param((5, 1), id="per-class"),
    pytest.param((6, 5, 4), id="per-element"),
    pytest.param((), id="0-d"),
]


@pytest.mark.parametrize("weight_shape", SIGMOID_WEIGHTS)
@pytest.mark.parametrize("form", ["same-shape", "class-index"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_sigmoid_weight(device, weight_shape, form, reduction):
    """weight multiplies each element's loss and gradient; 'mean' is sum(weight * loss) / the number
    of elements (mmdet's weight_reduce_loss without avg_factor)."""
    x = logits((6, 5, 4), device)
    index = torch.randint(0, 6, (6, 4), generator=torch.Generator().manual_seed(3)).to(device)
    t = index if form == "class-index" else (uniform((6, 5, 4), device) > 0.5).float()
    dense_t = one_hot64(index.cpu(), 5) if form == "class-index" else t.cpu()
    weight = uniform(weight_shape, device, seed=4)
    loss, grad = run(focal_triton.sigmoid_focal_loss, x, t, reduction=reduction, weight=weight)
    want = autograd64(
        lambda z: reduce64(sigmoid_focal_loss64(z, dense_t) * weight.double().cpu(), reduction, z.numel()),
        x,
        None if reduction != "none" else torch.ones(6, 5, 4, dtype=torch.float64),
    )
    assert_matches((loss, grad), want)


def test_weight_views_are_read_in_place(device, kernel_launches):
    """A broadcast or strided weight reaches the kernel as the caller's storage, never a copy."""
    x = logits((8, 5), device)
    per_row = uniform((8, 3), device)[:, 1:2]  # a strided (8, 1) view
    per_class = uniform((5,), device).expand(8, 5)  # a broadcast view
    for weight in (per_row, per_class):
        focal_triton.sigmoid_focal_loss(x, torch.rand(8, 5, device=device), weight=weight, reduction="sum")
        focal_triton.sigmoid_focal_loss(x, torch.randint(0, 5, (8,), device=device), weight=weight)
    softmax_weight = uniform((8, 3), device)[:, 2]
    focal_triton.softmax_focal_loss(x, torch.randint(0, 5, (8,), device=device), weight=softmax_weight)
    pointers = [kwargs["weight_ptr"].data_ptr() for name, kwargs in kernel_launches if "weight_ptr" in kwargs]
    wanted = [w.data_ptr() for w in (per_row, per_row, per_class, per_class, softmax_weight)]
    assert pointers == wanted


@pytest.mark.parametrize("form", ["same-shape", "class-index", "softmax", "softmax-smoothed"])
@pytest.mark.parametrize("as_tensor", [False, True], ids=["number", "tensor"])
def test_normalizer(device, form, as_tensor):
    """'mean' with normalizer is sum(weight * loss) / normalizer, loss and gradient, read on the device."""
    x = logits((6, 5, 4), device)
    index = torch.randint(0, 5, (6, 4), generator=torch.Generator().manual_seed(3)).to(device)
    normalizer = torch.tensor(7.0, device=device) if as_tensor else 7.0
    if form.startswith("softmax"):
        eps = 0.2 if form == "softmax-smoothed" else 0.0
        weight = uniform((6, 4), device)
        loss, grad = run(
            focal_triton.softmax_focal_loss, x, index, weight=weight, normalizer=normalizer, label_smoothing=eps
        )
        q = one_hot64(index.cpu(), 5) * (1 - eps) + eps / 5
        want = autograd64(lambda z: (soft_softmax_focal64(z, q) * weight.double().cpu()).sum() / 7.0, x)
    else:
        t = index if form == "class-index" else uniform((6, 5, 4), device)
        dense_t = one_hot64(index.cpu(), 5) if form == "class-index" else t.cpu()
        weight = uniform((6, 1, 4), device)
        loss, grad = run(focal_triton.sigmoid_focal_loss, x, t, reduction="mean", weight=weight, normalizer=normalizer)
        want = autograd64(lambda z: (sigmoid_focal_loss64(z, dense_t) * weight.double().cpu()).sum() / 7.0, x)
    assert_matches((loss, grad), want)


@pytest.mark.parametrize("loss_name", ["sigmoid", "softmax"])
def test_normalizer_of_zero_divides_by_zero(device, loss_name):
    """A normalizer of 0 gives what dividing by 0 gives in eager PyTorch: loss sum / 0 = inf, the
    gradient g / 0 (inf, NaN where g = 0); documented, and clamped by the callers (DETR, mmdet)."""
    x = logits((4, 3), device)
    x[0] = 0.0
    if loss_name == "sigmoid":
        t = torch.zeros(4, 3, device=device)
        fn = focal_triton.sigmoid_focal_loss
        eager = reference.sigmoid_focal_loss
        options = dict(
            reduction="mean",
            normalizer=torch.tensor(0.0, device=device),
            weight=(t[:, :1] + 1).index_fill(0, torch.tensor([1], device=device), 0.0),
        )
    else:
        t = torch.tensor([0, 1, 2, 0], device=device)
        fn, eager = focal_triton.softmax_focal_loss, reference.softmax_focal_loss
        options = dict(normalizer=0.0, weight=torch.tensor([1.0, 0.0, 1.0, 1.0], device=device))
    loss, grad = run(fn, x, t, **options)
    assert loss.item() == float("inf")
    want_loss, want_grad = run(
        eager, x.cpu(), t.cpu(), **{k: v.cpu() if torch.is_tensor(v) else v for k, v in options.items()}
    )
    assert want_loss.item() == float("inf")
    # no finite gradient exists: row 1 (weight 0) is 0 / 0 = NaN, the others g / 0 = +-inf (eager
    # autograd of the reference formula meets 0 * inf on its way and gives NaN there too)
    assert not torch.isfinite(want_grad).any()
    assert grad[1].isnan().all() and grad[[0, 2, 3]].abs().eq(float("inf")).all()


# ----------------------------------------------------------------------------- label smoothing, pos_weight, alpha
@pytest.mark.parametrize("dtype,rtol,atol", NO_FP16)
@pytest.mark.parametrize("form", ["soft", "bool", "int64", "class-index"])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_sigmoid_label_smoothing(device, dtype, rtol, atol, form, gamma):
    """Targets t become t (1 - eps) + eps / 2, for every target form."""
    x = logits((4, 6, 5), device, dtype)
    index = torch.randint(0, 7, (4, 5), generator=torch.Generator().manual_seed(3)).to(device)
    soft = uniform((4, 6, 5), device)
    t = {"soft": soft, "bool": soft > 0.5, "int64": (soft > 0.5).long(), "class-index": index}[form]
    dense_t = one_hot64(index.cpu(), 6) if form == "class-index" else t.cpu().double()
    smoothed = dense_t * 0.8 + 0.1
    loss, grad = run(focal_triton.sigmoid_focal_loss, x, t, reduction="sum", gamma=gamma, label_smoothing=0.2)
    want = autograd64(lambda z: sigmoid_focal_loss64(z, smoothed, gamma=gamma).sum(), x)
    torch.testing.assert_close(loss.double().cpu(), want[0], rtol=rtol, atol=atol * x.numel())
    torch.testing.assert_close(grad.double().cpu(), want[1], rtol=rtol, atol=atol)


@pytest.mark.parametrize("form", ["soft", "uint8", "class-index"])
@pytest.mark.parametrize("pos_weight", [3.0, "per-class", "per-element"])
def test_sigmoid_pos_weight_is_bce_with_logits_pos_weight(device, form, pos_weight):
    """pos_weight as F.binary_cross_entropy_with_logits takes it, inside the focal loss."""
    x = logits((4, 6, 5), device)
    index = torch.randint(0, 7, (4, 5), generator=torch.Generator().manual_seed(3)).to(device)
    soft = uniform((4, 6, 5), device)
    t = {"soft": soft, "uint8": (soft > 0.5).to(torch.uint8), "class-index": index}[form]
    dense_t = one_hot64(index.cpu(), 6) if form == "class-index" else t.cpu().double()
    value = {
        "per-class": uniform((6, 1), device, low=0.5, high=4.0),
        "per-element": uniform((4, 6, 5), device, low=0.5, high=4.0),
    }.get(pos_weight, pos_weight)
    loss, grad = run(focal_triton.sigmoid_focal_loss, x, t, reduction="mean", pos_weight=value)
    pw64 = value.cpu().double() if torch.is_tensor(value) else value
    want = autograd64(lambda z: sigmoid_focal_loss64(z, dense_t, pos_weight=pw64).mean(), x)
    assert_matches((loss, grad), want)


@pytest.mark.parametrize("form", ["soft", "class-index", "flat"])
def test_sigmoid_per_class_alpha_along_dim_1(device, form):
    """alpha with one value per class applies along dim 1 of (N, C, *) logits (mmsegmentation)."""
    alpha = [0.1, 0.9, 0.25, 0.5, 0.75, 0.3]
    x = logits((4, 6, 5), device)
    index = torch.randint(0, 7, (4, 5), generator=torch.Generator().manual_seed(3)).to(device)
    t = index if form == "class-index" else uniform((4, 6, 5), device)
    dense_t = one_hot64(index.cpu(), 6) if form == "class-index" else t.cpu()
    a = torch.tensor(alpha, dtype=torch.float64).view(6, 1)
    if form == "flat":  # (N, C) logits
        x, t, dense_t, a = x[:, :, 0], t[:, :, 0], dense_t[:, :, 0], a.view(6)
    loss, grad = run(focal_triton.sigmoid_focal_loss, x, t, alpha=torch.tensor(alpha, device=device), reduction="sum")
    want = autograd64(lambda z: sigmoid_focal_loss64(z, dense_t, alpha=a).sum(), x)
    assert_matches((loss, grad), want)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_sigmoid_integer_labels_of_the_logits_shape(device, dtype):
    """int32 / int64 0/1 labels of the logits' shape: nonzero positive, ignore_index honoured, the
    'mean' over the kept elements; (N, C, *) logits with (N, *) integers stay class indices."""
    x = logits((4, 6, 5), device)
    labels = (uniform((4, 6, 5), device) > 0.5).to(dtype)
    labels[0, :, 0] = -1
    loss, grad = run(focal_triton.sigmoid_focal_loss, x, labels.to(device), reduction="mean", ignore_index=-1)
    kept = (labels != -1).cpu()
    t64 = (labels.cpu() == 1).double()
    want = autograd64(lambda z: torch.where(kept, sigmoid_focal_loss64(z, t64), 0.0).sum() / kept.sum(), x)
    assert_matches((loss, grad), want)


# ----------------------------------------------------------------------------- probabilities (activated=True)
def mmdet_focal_loss_with_prob(pred, target, weight=None, gamma=2.0, alpha=0.25, reduction="mean", avg_factor=None):
    """mmdet/models/losses/focal_loss.py py_focal_loss_with_prob + weight_reduce_loss, transcribed."""
    num_classes = pred.size(1)
    target = F.one_hot(target, num_classes=num_classes + 1)[:, :num_classes].type_as(pred)
    pt = (1 - pred) * target + pred * (1 - target)
    focal_weight = (alpha * target + (1 - alpha) * (1 - target)) * pt.pow(gamma)
    loss = F.binary_cross_entropy(pred, target, reduction="none") * focal_weight
    if weight is not None:
        loss = loss * weight
    if avg_factor is None:
        return loss.mean() if reduction == "mean" else loss.sum()
    return loss.sum() / (avg_factor + EPS32)


@pytest.mark.parametrize("weight", [False, True])
@pytest.mark.parametrize("avg_factor", [None, 9.0])
def test_activated_matches_mmdet_focal_loss_with_prob(device, weight, avg_factor):
    """activated=True reproduces mmdet's sigmoid focal loss with probabilities (TOOD), loss and gradient;
    mmdet divides by avg_factor + float32 eps: normalizer=avg_factor + eps is the same call."""
    probs = uniform((12, 7), device, low=0.02, high=0.98)
    labels = torch.randint(0, 8, (12,), generator=torch.Generator().manual_seed(5)).to(device)
    w = uniform((12, 1), device, seed=6) if weight else None
    options = dict(weight=w, reduction="mean")
    if avg_factor is not None:
        options["normalizer"] = avg_factor + EPS32
    loss, grad = run(focal_triton.sigmoid_focal_loss, probs, labels, activated=True, **options)
    want = autograd64(
        lambda p: mmdet_focal_loss_with_prob(
            p, labels.cpu(), None if w is None else w.double().cpu(), avg_factor=avg_factor
        ),
        probs,
    )
    assert_matches((loss, grad), want)


def test_activated_clamps_as_binary_cross_entropy(device):
    """At p = 0 and 1 the logs are clamped to -100 and the gradient divides by max(p (1 - p), 1e-12),
    exactly F.binary_cross_entropy's forward and backward; a probability outside [0, 1] is NaN."""
    p = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5, 1e-30, 1.5, -0.1, float("nan")], device=device)
    t = torch.tensor([1, 0, 0, 1, 1, 1, 1, 0, 1], dtype=torch.uint8, device=device)
    loss, grad = run(focal_triton.sigmoid_focal_loss, p, t, alpha=None, gamma=0.0, activated=True)
    inside = slice(0, 6)
    want = autograd64(lambda z: F.binary_cross_entropy(z, t[inside].cpu().double(), reduction="none"), p[inside])
    assert_matches((loss[inside], grad[inside]), want)
    assert loss[6:].isnan().all() and grad[6:].isnan().all()


# ----------------------------------------------------------------------------- softmax: soft targets
@pytest.mark.parametrize("num_classes", [2, 7, 128, 5000, 128000])
def test_softmax_label_smoothing_is_cross_entropy(device, num_classes):
    """gamma = 0, alpha=None with label_smoothing equals F.cross_entropy(label_smoothing=eps), loss and
    gradient, 'mean' over the non-ignored rows, for rows in one tile and rows read in three passes."""
    rows = 2 if num_classes > 1000 else 6
    x = logits((rows, num_classes), device)
    k = torch.randint(0, num_classes, (rows,), generator=torch.Generator().manual_seed(2)).to(device)
    k[1] = -100
    loss, grad = run(focal_triton.softmax_focal_loss, x, k, gamma=0.0, label_smoothing=0.15)
    want = autograd64(lambda z: F.cross_entropy(z, k.cpu(), label_smoothing=0.15), x)
    assert_matches((loss, grad), want, atol=1e-6 if num_classes < 128000 else 2e-7)


@pytest.mark.parametrize("dtype,rtol,atol", NO_FP16)
@pytest.mark.parametrize("gamma", [0.0, 2.0])
@pytest.mark.parametrize("layout", ["rows", "nchw", "nchw-smoothed"])
def test_softmax_dense_targets(device, dtype, rtol, atol, gamma, layout):
    """Dense (soft) targets: -sum_j q_j alpha_j (1 - p_j) ** gamma log p_j per position, loss and
    gradient; 'mean' over every position; label smoothing applies to them too."""
    shape = (12, 9) if layout == "rows" else (2, 6, 3, 4)
    eps = 0.1 if layout == "nchw-smoothed" else 0.0
    x = logits(shape, device, dtype)
    q = torch.softmax(logits(shape, device, seed=3), dim=1)
    alpha = [0.5 + 0.1 * j for j in range(shape[1])]
    loss, grad = run(focal_triton.softmax_focal_loss, x, q, alpha=alpha, gamma=gamma, label_smoothing=eps)
    q64 = q.cpu().double() * (1 - eps) + eps / shape[1]
    want = autograd64(lambda z: soft_softmax_focal64(z, q64, alpha, gamma).mean(), x)
    torch.testing.assert_close(loss.double().cpu(), want[0], rtol=rtol, atol=atol)
    torch.testing.assert_close(grad.double().cpu(), want[1], rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype,rtol,atol", NO_FP16)
@pytest.mark.parametrize("alpha", [0.25, "per-class"])
@pytest.mark.parametrize("num_classes", [20, 80, 200])  # unrolled tiles: padded (3 x 8), whole (5 x 16); looped
def test_softmax_soft_targets_over_class_tiles(device, dtype, rtol, atol, alpha, num_classes):
    """Rows walked in narrow class tiles (kept in registers where they unroll): smoothed class
    indices with ignored rows and confident, masked (-inf) and +inf logits, and dense targets with
    classes of no mass at -inf; loss and gradient against the float64 formula, gamma 2 and 0.5."""
    alpha = [0.5 + 0.05 * (j % 7) for j in range(num_classes)] if alpha == "per-class" else alpha
    x = logits((24, num_classes), device, dtype)
    x[0, 3] = 40.0  # a confident row
    x[1, :5] = -float("inf")  # masked classes
    k = torch.randint(0, num_classes, (24,), generator=torch.Generator().manual_seed(5)).to(device)
    k[1], k[2], k[3] = 7, -100, 11
    x[3, 4] = float("inf")  # +inf at a class that is not the target: p_k = 0, an infinite loss
    massless = torch.arange(num_classes, device=device) < 5
    q = torch.softmax(logits((24, num_classes), device, seed=6), dim=1) * ~massless
    for gamma in (2.0, 0.5):
        kept = k != -100
        loss, grad = run(
            focal_triton.softmax_focal_loss, x, k, alpha=alpha, gamma=gamma, label_smoothing=0.1, reduction="none"
        )
        onehot = F.one_hot(torch.where(kept, k, 0).cpu(), num_classes).double()
        q64 = (onehot * 0.9 + 0.1 / num_classes) * kept.cpu().double()[:, None]
        finite = torch.ones(24, dtype=torch.bool)
        finite[1] = finite[3] = False
        want = autograd64(lambda z, f=finite, q=q64, g=gamma: soft_softmax_focal64(z[f], q[f], alpha, g), x)
        torch.testing.assert_close(loss[finite].double().cpu(), want[0], rtol=rtol, atol=atol)
        torch.testing.assert_close(grad[finite].double().cpu(), want[1][finite], rtol=rtol, atol=atol)
        assert loss[1] == float("inf") and loss[3] == float("inf") and torch.isfinite(grad[1]).all()
        assert loss[2] == 0 and (grad[2] == 0).all()
        # dense targets: the masked classes of row 1 have no mass, p = 0 there: the row without them
        loss, grad = run(focal_triton.softmax_focal_loss, x[1:2], q[1:2], alpha=alpha, gamma=gamma, reduction="sum")
        rest = alpha if isinstance(alpha, float) else alpha[5:]
        q_rest = q[1:2, 5:].cpu().double()
        want = autograd64(lambda z, q=q_rest, a=rest, g=gamma: soft_softmax_focal64(z, q, a, g).sum(), x[1:2, 5:])
        assert_matches((loss, grad[:, 5:]), want, rtol, atol)
        assert (grad[:, :5] == 0).all()


def test_softmax_dense_targets_are_cross_entropy_with_probabilities(device):
    x = logits((5, 4, 3), device)
    q = torch.softmax(logits((5, 4, 3), device, seed=9), dim=1)
    loss, grad = run(focal_triton.softmax_focal_loss, x, q, gamma=0.0, reduction="sum")
    assert_matches((loss, grad), autograd64(lambda z: F.cross_entropy(z, q.cpu().double(), reduction="sum"), x))


def monai_softmax_focal_loss(input, target, gamma=2.0, alpha=None):
    """monai/losses/focal_loss.py softmax_focal_loss, transcribed, then FocalLoss's reduction 'mean'
    (over every element of the (N, C, *) loss)."""
    input_ls = input.log_softmax(1)
    loss = -(1 - input_ls.exp()).pow(gamma) * input_ls * target
    if alpha is not None:
        alpha_fac = torch.tensor([1 - alpha] + [alpha] * (target.shape[1] - 1)).to(loss)
        loss = alpha_fac.view(1, -1, *([1] * (target.dim() - 2))) * loss
    return loss.mean()


def test_softmax_dense_targets_reproduce_monai(device):
    """MONAI's FocalLoss(use_softmax=True) 'mean' averages over N * C * spatial elements: the same
    loss is normalizer=target.numel() with MONAI's alpha as per-class alpha [1 - a, a, ...]."""
    x = logits((2, 4, 3, 3), device)
    one_hot = F.one_hot(torch.randint(0, 4, (2, 3, 3)), 4).permute(0, 3, 1, 2).float().to(device)
    alpha = [0.75, 0.25, 0.25, 0.25]
    loss, grad = run(focal_triton.softmax_focal_loss, x, one_hot, alpha=alpha, normalizer=one_hot.numel())
    assert_matches(
        (loss, grad), autograd64(lambda z: monai_softmax_focal_loss(z, one_hot.cpu().double(), alpha=0.25), x)
    )


def test_softmax_soft_targets_stay_finite_at_extremes(device):
    """Confident rows, -inf (masked) classes and gamma < 1: the soft-target gradient is finite and the
    loss is infinite only where a class with target mass has p_j = 0."""
    x = torch.tensor([[60.0, 0.0, -60.0], [0.0, -float("inf"), 5.0], [30.0, 30.0, -float("inf")]], device=device)
    k = torch.tensor([0, 2, 1], device=device)
    for gamma in (0.0, 0.3, 2.0):
        loss, grad = run(focal_triton.softmax_focal_loss, x, k, gamma=gamma, label_smoothing=0.1, reduction="none")
        assert torch.isfinite(grad).all()
        assert torch.isfinite(loss[0]) and loss[1] == float("inf") and loss[2] == float("inf")
        want = run(reference.softmax_focal_loss, x.cpu(), k.cpu(), gamma=gamma, label_smoothing=0.1, reduction="none")
        torch.testing.assert_close(loss.cpu(), want[0])
        torch.testing.assert_close(grad.cpu(), want[1], rtol=2e-5, atol=2e-6)


# ----------------------------------------------------------------------------- the libraries' calls
def mmdet_sigmoid_focal_loss(pred, target, weight=None, gamma=2.0, alpha=0.25, reduction="mean", avg_factor=None):
    """mmdet py_sigmoid_focal_loss + weight_reduce_loss, transcribed (target one-hot of the class index,
    num_classes = background, as FocalLoss.forward builds it)."""
    num_classes = pred.size(1)
    target = F.one_hot(target, num_classes=num_classes + 1)[:, :num_classes].type_as(pred)
    pred_sigmoid = pred.sigmoid()
    pt = (1 - pred_sigmoid) * target + pred_sigmoid * (1 - target)
    focal_weight = (alpha * target + (1 - alpha) * (1 - target)) * pt.pow(gamma)
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none") * focal_weight
    if weight is not None:
        if weight.shape != loss.shape:
            if weight.size(0) == loss.size(0):
                weight = weight.view(-1, 1)
        loss = loss * weight
    if avg_factor is None:
        return loss.mean() if reduction == "mean" else loss.sum()
    return loss.sum() / (avg_factor + EPS32)


def test_reproduces_mmdet_focal_loss_with_weight_and_avg_factor(device):
    """mmdet FocalLoss(use_sigmoid=True)(pred, labels, weight (N,), avg_factor=num_pos) is
    sigmoid_focal_loss(pred, labels, weight=weight[:, None], reduction='mean',
    normalizer=num_pos + eps) — the weight given (N, 1) as broadcasting needs."""
    pred = logits((20, 8), device)
    labels = torch.randint(0, 9, (20,), generator=torch.Generator().manual_seed(4)).to(device)
    weight = uniform((20,), device, seed=5)
    num_pos = float((labels < 8).sum())
    loss, grad = run(
        focal_triton.sigmoid_focal_loss,
        pred,
        labels,
        weight=weight[:, None],
        reduction="mean",
        normalizer=torch.tensor(num_pos + EPS32, device=device),
    )
    want = autograd64(
        lambda z: mmdet_sigmoid_focal_loss(z, labels.cpu(), weight.double().cpu(), avg_factor=num_pos), pred
    )
    assert_matches((loss, grad), want)


def test_reproduces_detr_focal_loss_with_num_boxes(device):
    """Deformable DETR: sigmoid_focal_loss(src_logits, onehot, num_boxes) * num_queries, i.e.
    loss.mean(1).sum() / num_boxes * Q = loss.sum() / num_boxes, with num_boxes a device tensor
    (no .item())."""
    batch, queries, classes = 2, 10, 6
    src_logits = logits((batch, queries, classes), device)
    onehot = F.one_hot(torch.randint(0, classes + 1, (batch, queries)), classes + 1)[..., :classes].float().to(device)
    num_boxes = torch.tensor(3.0, device=device)
    loss, grad = run(focal_triton.sigmoid_focal_loss, src_logits, onehot, reduction="mean", normalizer=num_boxes)

    def detr(z):
        prob = z.sigmoid()
        ce_loss = F.binary_cross_entropy_with_logits(z, onehot.cpu().double(), reduction="none")
        p_t = prob * onehot.cpu() + (1 - prob) * (1 - onehot.cpu())
        loss = ce_loss * ((1 - p_t) ** 2)
        alpha_t = 0.25 * onehot.cpu() + 0.75 * (1 - onehot.cpu())
        return (alpha_t * loss).mean(1).sum() / 3.0 * queries

    assert_matches((loss, grad), autograd64(detr, src_logits))


# ----------------------------------------------------------------------------- modules, compile, bad inputs
def test_modules_take_weight_and_normalizer_per_call(device):
    x = logits((6, 4), device)
    labels = torch.randint(0, 4, (6,), device=device)
    weight = uniform((6, 1), device)
    sigmoid = focal_triton.SigmoidFocalLoss(alpha=[0.2, 0.4, 0.6, 0.8], label_smoothing=0.1, pos_weight=2.0)
    softmax = focal_triton.SoftmaxFocalLoss(label_smoothing=0.1)
    for module, fn, w in (
        (sigmoid, focal_triton.sigmoid_focal_loss, weight),
        (softmax, focal_triton.softmax_focal_loss, weight[:, 0]),
    ):
        options = {k: v for k, v in vars(module).items() if k in ("alpha", "label_smoothing", "pos_weight")}
        options["alpha"] = module.alpha
        got = module(x, labels, w, 3.0)
        assert got.item() == fn(x, labels, reduction="mean", weight=w, normalizer=3.0, **options).item()
    assert "label_smoothing=0.1" in repr(sigmoid)


@pytest.mark.parametrize("loss_name", ["sigmoid", "sigmoid-index", "softmax", "softmax-dense"])
def test_every_option_compiles_fullgraph(device, loss_name):
    """torch.compile(fullgraph=True) with weight, a device-tensor normalizer and label smoothing
    (aot_eager: the custom op, its fake and its autograd) gives the eager result."""
    x = logits((4, 5, 3), device)
    index = torch.randint(0, 5, (4, 3), device=device)
    options = dict(label_smoothing=0.1, normalizer=torch.tensor(4.0, device=device), reduction="mean")
    if loss_name.startswith("sigmoid"):
        fn = focal_triton.sigmoid_focal_loss
        t = index if loss_name == "sigmoid-index" else uniform((4, 5, 3), device)
        options.update(weight=uniform((4, 1, 3), device), pos_weight=uniform((5, 1), device), alpha=[0.3] * 5)
    else:
        fn = focal_triton.softmax_focal_loss
        t = torch.softmax(logits((4, 5, 3), device, seed=5), 1) if loss_name == "softmax-dense" else index
        options.update(weight=uniform((4, 3), device), alpha=[1.0, 2.0, 1.0, 0.5, 1.0])
    eager = run(fn, x, t, **options)
    compiled = run(fn, x, t, use_compile=True, **options)
    torch.testing.assert_close(compiled[0], eager[0])
    torch.testing.assert_close(compiled[1], eager[1])


BAD_OPTIONS = [
    pytest.param(
        dict(weight=torch.ones(3)),
        ValueError,
        r"weight must be broadcastable to the loss .* \(4, 5\)",
        id="weight-shape",
    ),
    pytest.param(
        dict(weight=torch.ones(4, 5, dtype=torch.int64)),
        TypeError,
        "weight must be a floating tensor",
        id="weight-dtype",
    ),
    pytest.param(
        dict(weight=torch.ones(4, 5, device="meta")),
        ValueError,
        "weight must be on the device of inputs",
        id="weight-device",
    ),
    pytest.param(
        dict(weight=torch.ones(4, 5, requires_grad=True)), ValueError, "weight requires grad", id="weight-grad"
    ),
    pytest.param(
        dict(normalizer=2.0, reduction="sum"), ValueError, "normalizer .* reduction='sum'", id="normalizer-reduction"
    ),
    pytest.param(
        dict(normalizer=-1.0), ValueError, "normalizer must be a finite number >= 0", id="normalizer-negative"
    ),
    pytest.param(
        dict(normalizer=torch.ones(2)),
        ValueError,
        "normalizer must be a number or a 0-d real tensor",
        id="normalizer-shape",
    ),
    pytest.param(
        dict(label_smoothing=1.5), ValueError, r"label_smoothing must be a number in \[0, 1\]", id="smoothing-range"
    ),
    pytest.param(
        dict(pos_weight=2.0, activated=True), ValueError, "pos_weight .* activated=True", id="pos-weight-activated"
    ),
    pytest.param(
        dict(pos_weight=torch.ones(6)), ValueError, "pos_weight must be broadcastable to inputs", id="pos-weight-shape"
    ),
    pytest.param(dict(activated=1), TypeError, "activated must be a bool", id="activated-type"),
    pytest.param(
        dict(alpha=[0.5, 2.0, 0.5, 0.5, 0.5]),
        ValueError,
        r"alpha must hold per-class values in \[0, 1\]",
        id="class-alpha-range",
    ),
]


@pytest.mark.parametrize("options,error,match", BAD_OPTIONS)
def test_bad_options_name_the_argument(device, options, error, match):
    x = torch.zeros(4, 5, device=device)
    options = {k: v.to(device) if torch.is_tensor(v) and v.device.type != "meta" else v for k, v in options.items()}
    options.setdefault("reduction", "mean")
    with pytest.raises(error, match=match):
        focal_triton.sigmoid_focal_loss(x, torch.zeros(4, 5, device=device), **options)


def test_softmax_bad_dense_targets(device):
    with pytest.raises(ValueError, match=r"floating targets are target probabilities of the shape of inputs"):
        focal_triton.softmax_focal_loss(torch.zeros(4, 5, device=device), torch.zeros(4, device=device))
    with pytest.raises(ValueError, match=r"weight must be broadcastable to the loss .* \(4,\)"):
        focal_triton.softmax_focal_loss(
            torch.zeros(4, 5, device=device), torch.zeros(4, 5, device=device), weight=torch.ones(4, 5, device=device)
        )


FALLBACK_CASES = [
    pytest.param(
        "sigmoid", dict(weight=(4, 1, 3), normalizer=5.0, label_smoothing=0.1, pos_weight=(5, 1)), id="sigmoid"
    ),
    pytest.param(
        "sigmoid-int",
        dict(alpha=[0.2, 0.4, 0.6, 0.8, 0.5], ignore_index=1, normalizer="tensor"),
        id="sigmoid-int-labels",
    ),
    pytest.param("sigmoid-index", dict(weight=(4, 5, 1), label_smoothing=0.2, pos_weight=2.0), id="sigmoid-index"),
    pytest.param("activated", dict(weight=(4, 1, 3), normalizer="tensor"), id="activated"),
    pytest.param(
        "softmax",
        dict(weight=(4, 3), normalizer="tensor", label_smoothing=0.1, alpha=[1.0, 2.0, 1.0, 0.5, 1.0]),
        id="softmax",
    ),
    pytest.param("softmax-dense", dict(weight=(1, 3), alpha=0.5), id="softmax-dense"),
]


@pytest.mark.parametrize("form,options", FALLBACK_CASES)
def test_reference_fallback_takes_every_option(device, monkeypatch, form, options):
    """Tensors Triton cannot run go to focal_triton/reference.py, which takes the same options and
    gives the kernels' loss and gradient."""
    if device != "cpu":
        pytest.skip("the fallback serves CPU tensors without the interpreter")
    x = logits((4, 5, 3), device)
    soft = uniform((4, 5, 3), device)
    index = torch.randint(0, 6, (4, 3), generator=torch.Generator().manual_seed(3))
    targets = {
        "sigmoid": soft,
        "sigmoid-int": (soft > 0.5).long(),
        "sigmoid-index": index,
        "activated": index,
        "softmax": index.clamp(max=4),
        "softmax-dense": torch.softmax(soft, 1),
    }[form]
    if form == "activated":
        x, options = soft, {**options, "activated": True}
    options = {
        name: uniform(value, device, seed=7) if isinstance(value, tuple) else value for name, value in options.items()
    }
    if options.get("normalizer") == "tensor":
        options["normalizer"] = torch.tensor(6.0)
    fn = focal_triton.softmax_focal_loss if form.startswith("softmax") else focal_triton.sigmoid_focal_loss
    options.setdefault("reduction", "mean" if "normalizer" in options else "sum")
    assert_fallback_matches_kernels(monkeypatch, fn, x, targets, **options)
