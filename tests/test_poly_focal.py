"""The Poly-1 focal loss (Leng et al. 2022, PolyLoss): sigmoid_focal_loss(..., poly_epsilon=eps) against
timm's PolyBinaryCrossEntropy (timm/loss/poly_loss.py) transcribed in float64, loss and gradient, for
every target form of the sigmoid loss, and its limits and refusals."""

import pytest
import torch
import torch.nn.functional as F
from oracle import assert_matches, autograd64, logits, one_hot64, reduce64, run, uniform

import focal_triton
from focal_triton import reference


def timm_poly1_focal64(x, y, epsilon, gamma, alpha, smoothing=0.0):
    """timm PolyBinaryCrossEntropy.forward with reduction='none', transcribed: alpha_t weighs both
    terms, FL + epsilon * (1 - p_t) ** (gamma + 1)."""
    y = y.double()
    if smoothing:
        y = y * (1.0 - smoothing) + 0.5 * smoothing
    p = torch.sigmoid(x)
    one_minus_pt = 1.0 - (y * p + (1.0 - y) * (1.0 - p))
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    poly = one_minus_pt
    if gamma:
        focal = one_minus_pt**gamma
        loss = loss * focal
        poly = poly * focal
    loss = loss + epsilon * poly
    if alpha is not None:
        loss = loss * (y * alpha + (1.0 - y) * (1.0 - alpha))
    return loss


FORMS = ["soft", "labels", "index", "wide index"]  # wide: 20 classes, the class-index kernel's negatives first


def poly_case(form, device, dtype=torch.float32):
    """(logits, targets for the call, their float64 one-hot or soft form, kept mask)."""
    if form == "soft":
        x = logits((12, 7), device, dtype)
        t = uniform((12, 7), device, seed=3)
        return x, t, t.cpu().double(), torch.ones(12, 7, dtype=torch.bool)
    if form == "labels":
        x = logits((12, 7), device, dtype)
        t = uniform((12, 7), device, seed=3) > 0.7
        return x, t, t.cpu().double(), torch.ones(12, 7, dtype=torch.bool)
    classes = 6 if form == "index" else 20
    x = logits((12, classes), device, dtype)
    k = torch.randint(0, classes + 1, (12,), generator=torch.Generator().manual_seed(4))
    k[::5] = -100  # ignored rows
    kept = (k != -100)[:, None].expand(12, classes)
    return x, k.to(device), one_hot64(k, classes), kept


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("alpha", [None, 0.25])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("epsilon", [1.0, -1.0, 2.5])
@pytest.mark.parametrize("form", FORMS)
def test_poly1_matches_timm(device, form, epsilon, gamma, alpha, reduction):
    x, t, y64, kept = poly_case(form, device)
    got = run(
        focal_triton.sigmoid_focal_loss, x, t, alpha=alpha, gamma=gamma, reduction=reduction, poly_epsilon=epsilon
    )

    def want(z):
        loss = torch.where(kept, timm_poly1_focal64(z, y64, epsilon, gamma, alpha), 0.0)
        return reduce64(loss, reduction, kept.sum())

    assert_matches(got, autograd64(want, x), atol=2e-6 * (x.numel() if reduction == "sum" else 1))


@pytest.mark.parametrize("form", ["soft", "labels"])
def test_poly1_with_label_smoothing_matches_timm(device, form):
    """timm smooths the targets towards 0.5 for both terms, as label_smoothing does."""
    x, t, y64, _ = poly_case(form, device)
    got = run(
        focal_triton.sigmoid_focal_loss,
        x,
        t,
        alpha=0.25,
        gamma=2.0,
        reduction="mean",
        label_smoothing=0.1,
        poly_epsilon=1.0,
    )
    assert_matches(got, autograd64(lambda z: timm_poly1_focal64(z, y64, 1.0, 2.0, 0.25, 0.1).mean(), x))


@pytest.mark.parametrize("dtype,rtol,atol", [(torch.bfloat16, 1.6e-2, 2e-5), (torch.float64, 1e-9, 1e-12)])
@pytest.mark.parametrize("form", FORMS)
def test_poly1_in_other_dtypes(device, form, dtype, rtol, atol):
    x, t, y64, kept = poly_case(form, device, dtype)
    got = run(focal_triton.sigmoid_focal_loss, x, t, gamma=2.0, reduction="none", poly_epsilon=1.0)
    want = autograd64(lambda z: torch.where(kept, timm_poly1_focal64(z, y64, 1.0, 2.0, 0.25), 0.0), x)
    assert_matches(got, want, rtol=rtol, atol=atol)


def poly1_probabilities64(p, y, epsilon, gamma, alpha):
    """The same loss of probabilities (activated=True): F.binary_cross_entropy for the BCE."""
    m = y * (1 - p) + (1 - y) * p
    bce = F.binary_cross_entropy(p, y, reduction="none")
    return (y * alpha + (1 - y) * (1 - alpha)) * m**gamma * (bce + epsilon * m)


def test_poly1_of_probabilities(device):
    p = uniform((12, 7), device, seed=5, low=0.02, high=0.98)
    y = (uniform((12, 7), device, seed=3) > 0.7).float()
    got = run(focal_triton.sigmoid_focal_loss, p, y, reduction="sum", activated=True, poly_epsilon=2.0)
    want = autograd64(lambda z: poly1_probabilities64(z, y.cpu().double(), 2.0, 2.0, 0.25).sum(), p)
    assert_matches(got, want, atol=2e-6 * p.numel())


@pytest.mark.parametrize("form", ["labels", "wide index"])
def test_poly1_compiled(device, form):
    x, t, y64, kept = poly_case(form, device)
    got = run(focal_triton.sigmoid_focal_loss, x, t, reduction="mean", poly_epsilon=-1.0, use_compile=True)
    want = autograd64(
        lambda z: reduce64(torch.where(kept, timm_poly1_focal64(z, y64, -1.0, 2.0, 0.25), 0.0), "mean", kept.sum()), x
    )
    assert_matches(got, want)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("labels", [torch.float32, torch.bool, "index"])
def test_poly1_infinite_logits_give_the_limits(device, gamma, labels):
    """Right side: loss and gradient 0 (1 - p_t = 0); wrong side: loss inf, dL/dx the focal loss's
    limit (the poly term's slope vanishes with p_t); the reference backend agrees."""
    inf = float("inf")
    x = torch.tensor([[inf, -inf, 0.5], [-inf, inf, -0.5]], device=device)
    targets = (
        torch.tensor([0, 0], device=device)
        if labels == "index"
        else torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], device=device).to(labels)
    )
    loss, grad = run(focal_triton.sigmoid_focal_loss, x, targets, gamma=gamma, poly_epsilon=1.0)
    assert torch.equal(loss[:, :2].cpu(), torch.tensor([[0.0, 0.0], [inf, inf]]))
    torch.testing.assert_close(grad[:, :2].cpu(), torch.tensor([[0.0, 0.0], [-0.25, 0.75]]))
    want = run(reference.sigmoid_focal_loss, x.cpu(), targets.cpu(), gamma=gamma, poly_epsilon=1.0)
    torch.testing.assert_close(loss.cpu(), want[0])
    torch.testing.assert_close(grad.cpu(), want[1], rtol=2e-5, atol=2e-6)


def test_poly1_epsilon_0_is_the_focal_loss(device):
    x, t, _, _ = poly_case("wide index", device)
    assert torch.equal(focal_triton.sigmoid_focal_loss(x, t, poly_epsilon=0.0), focal_triton.sigmoid_focal_loss(x, t))


@pytest.mark.parametrize(
    "options,error,match",
    [
        (dict(poly_epsilon=float("nan")), ValueError, "poly_epsilon must be a finite number"),
        (dict(poly_epsilon="1"), ValueError, "poly_epsilon must be a finite number"),
        (dict(poly_epsilon=1.0, pos_weight=2.0), ValueError, "poly_epsilon"),
    ],
)
def test_poly1_bad_options_name_the_argument(device, options, error, match):
    x = logits((4, 3), device)
    with pytest.raises(error, match=match):
        focal_triton.sigmoid_focal_loss(x, torch.zeros(4, 3, device=device), **options)


def test_module_takes_poly_epsilon(device):
    x, t, y64, kept = poly_case("index", device)
    module = focal_triton.SigmoidFocalLoss(poly_epsilon=2.0)
    assert "poly_epsilon=2.0" in repr(module)
    got = run(module, x, t)
    want = autograd64(
        lambda z: reduce64(torch.where(kept, timm_poly1_focal64(z, y64, 2.0, 2.0, 0.25), 0.0), "mean", kept.sum()), x
    )
    assert_matches(got, want)
