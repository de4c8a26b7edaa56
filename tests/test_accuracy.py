"""The accuracy the fast math keeps: loss and gradient of the sigmoid kernels within 1e-5 relative
of float64 for float32 logits over |x| <= 30, with every hardware approximation at its documented
worst case (kernels/stable_math.py: the interpreter's exp2 / reciprocal / log2 moved by
EMULATED_ERROR_SIGN x their bound), and tiny confident losses keeping their relative precision.

The gradient crosses 0 (at x = logit(t) for soft targets), so its error is measured against the
size of its terms there: alpha_t * (w ((1 - t) p + t (1 - p)) + |dw/dx * ce|).  On a GPU the same bounds hold
for the hardware's own approximations (the emulation is the interpreter's)."""

import pytest
import torch
import torch.nn.functional as F
from focal_triton.kernels import stable_math
from oracle import alpha_factor

import focal_triton

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
RTOL = 1e-5
FLOAT32_TINY = 2.0**-126
LOGITS = torch.linspace(-30.0, 30.0, 6001)


def focal_terms64(x, t, alpha, gamma):
    """(loss, dL/dx, the size of its terms alpha_t * (w ((1 - t) p + t (1 - p)) + |dw/dx * ce|)) in
    float64: p - t is the difference of (1 - t) p and t (1 - p), which cancel where it crosses 0.
    The BCE is t softplus(-x) + (1 - t) softplus(x): F.binary_cross_entropy_with_logits forms
    log(1 + exp(-|x|)), which at |x| = 30 keeps only ~4 digits of a loss the kernels hold to 1e-6."""
    x, t = x.double(), t.double()
    p, q = torch.sigmoid(x), torch.sigmoid(-x)
    m = t * q + (1 - t) * p
    ce = t * F.softplus(-x) + (1 - t) * F.softplus(x)
    safe = torch.where(m > 0, m, torch.ones_like(m))
    dw = torch.where(m > 0, gamma * safe ** (gamma - 1) * (1 - 2 * t) * p * q, torch.zeros_like(m))
    p_minus_t = (1 - t) * p - t * q  # not p - t: 1 - 1e-13 - 1 keeps 3 digits
    alpha_t = alpha_factor(t, alpha)
    size = m**gamma * ((1 - t) * p + t * q) + (dw * ce).abs()
    return alpha_t * m**gamma * ce, alpha_t * (dw * ce + m**gamma * p_minus_t), alpha_t * size


def loss_and_grad(x, t, **options):
    leaf = x.to(DEVICE).requires_grad_()
    loss = focal_triton.sigmoid_focal_loss(leaf, t.to(DEVICE), reduction="none", **options)
    (grad,) = torch.autograd.grad(loss.sum(), leaf)
    return loss.double().cpu(), grad.double().cpu()


def relative_error(got, want, size):
    """max |got - want| / size where size is a normal float32 (a subnormal result holds fewer bits)."""
    normal = size >= FLOAT32_TINY
    return ((got - want).abs()[normal] / size[normal]).max().item()


def assert_within(x, t, alpha, gamma, **options):
    loss, grad = loss_and_grad(x, t, alpha=alpha, gamma=gamma, **options)
    want_loss, want_grad, grad_size = focal_terms64(x, t, alpha, gamma)
    loss_error = relative_error(loss, want_loss, want_loss)
    grad_error = relative_error(grad, want_grad, grad_size)
    assert loss_error <= RTOL and grad_error <= RTOL, (loss_error, grad_error)


@pytest.fixture(params=[-1.0, 0.0, 1.0], ids=["low", "exact", "high"])
def emulated_error(request, monkeypatch):
    """Every approximation at its worst case below, at, and above the exact value."""
    monkeypatch.setattr(stable_math, "EMULATED_ERROR_SIGN", request.param)
    return request.param


@pytest.mark.parametrize("gamma", [2.0, 0.5, 0.0])
def test_hard_labels(emulated_error, gamma):
    for positive in (True, False):
        t = torch.full_like(LOGITS, 1.0 if positive else 0.0)
        assert_within(LOGITS, t.bool(), 0.25, gamma)


@pytest.mark.parametrize("gamma", [2.0, 0.5])
@pytest.mark.parametrize("target", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_soft_targets(emulated_error, gamma, target):
    assert_within(LOGITS, torch.full_like(LOGITS, target), 0.25, gamma)


@pytest.mark.parametrize("num_classes", [3, 16])  # 16: the negatives first, each row's positive after
def test_class_indices(emulated_error, num_classes):
    """The class-index kernel shares the hard-label terms: (N, C) logits against class 1."""
    x = LOGITS[:-1].view(-1, num_classes)
    k = torch.ones(x.shape[0], dtype=torch.long)
    loss, grad = loss_and_grad(x, k)
    want_loss, want_grad, grad_size = focal_terms64(x, F.one_hot(k, num_classes), 0.25, 2.0)
    assert relative_error(loss, want_loss, want_loss) <= RTOL
    assert relative_error(grad, want_grad, grad_size) <= RTOL


@pytest.mark.skipif(DEVICE == "cuda", reason="the emulation is the interpreter's")
def test_worst_case_is_emulated(monkeypatch):
    """The emulation moves the result (a fixture that changed nothing would prove nothing): the
    loss of x = 3 at a negative moves by about exp2's bound between the two worst cases."""
    x, t = torch.tensor([3.0]), torch.tensor([0.0])
    losses = []
    for sign in (-1.0, 1.0):
        monkeypatch.setattr(stable_math, "EMULATED_ERROR_SIGN", sign)
        losses.append(loss_and_grad(x, t)[0].item())
    assert 1e-7 < (losses[1] - losses[0]) / losses[0] < 1e-5


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_tiny_confident_losses_keep_relative_precision(emulated_error, gamma):
    """Right-side logits out to 80 (gamma 0: loss ~ exp(-x) down to 1.8e-35; gamma 2: ~exp(-3x)
    while it is a normal float32): relative, not absolute, precision."""
    x = torch.linspace(0.0, 80.0 if gamma == 0.0 else 29.0, 801)  # exp(-3 * 29) = 1.6e-38
    loss, _ = loss_and_grad(x, torch.ones_like(x).bool(), alpha=0.25, gamma=gamma)
    want = focal_terms64(x, torch.ones_like(x), 0.25, gamma)[0]
    assert (want > 0).all() and ((loss - want).abs() / want).max() <= RTOL
