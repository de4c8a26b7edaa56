"""Every option and family member held to the plain losses' standard: the edge inputs and usages
where the head options, varifocal, quality focal and distribution focal loss gave a silent wrong
result, a NaN, a dropped gradient, a crash or a disagreement between backends.  Values are
checked against float64 formulas written here, on both backends (``backend``: the Triton kernels,
and the plain-PyTorch fallback of a CPU-only machine)."""

import functools
import threading

import pytest
import torch
import torch.autograd.forward_ad as forward_ad
import torch.nn.functional as F
from conftest import DEVICE
from oracle import logits, one_hot64, uniform

import focal_triton

INF = float("inf")


@pytest.fixture(params=["kernels", "fallback"])
def backend(request, monkeypatch):
    """The device whose tensors take one backend: the kernels (CUDA, or the interpreter on the CPU),
    or the fallback (CPU tensors without TRITON_INTERPRET)."""
    if request.param == "fallback":
        monkeypatch.setenv("TRITON_INTERPRET", "0")
        assert focal_triton.backend_for(torch.zeros(1)) == "reference"
        return "cpu"
    return DEVICE


def loss_and_grad(fn, x, *args, **kwargs):
    leaf = x.detach().clone().requires_grad_()
    loss = fn(leaf, *args, **kwargs)
    (grad,) = torch.autograd.grad(loss.sum(), leaf)
    return loss.detach().double().cpu(), grad.double().cpu()


# ----------------------------------------------------------------------------- 1. probabilities near 0 and 1
def probability_focal64(p, t, alpha=0.25, gamma=2.0):
    """(loss, dL/dp) of the focal loss on probabilities with F.binary_cross_entropy's BCE (logs
    clamped to >= -100, gradient (p - t) / max(p (1 - p), 1e-12)), float64, by the chain rule."""
    p, t = p.double(), t.double()
    ce = -(t * torch.log(p).clamp(min=-100) + (1 - t) * torch.log1p(-p).clamp(min=-100))
    dce = (p - t) / (p * (1 - p)).clamp(min=1e-12)
    m = t * (1 - p) + (1 - t) * p
    alpha_t = alpha * t + (1 - alpha) * (1 - t)
    return alpha_t * m**gamma * ce, alpha_t * (m**gamma * dce + gamma * m ** (gamma - 1) * (1 - 2 * t) * ce)


P_RANGE = [1e-30, 1e-20, 1e-12, 1e-8, 1e-6, 1e-3, 0.3, 0.5, 0.9, 1 - 1e-4, 1 - 1e-7]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["fp64", "fp32"])
@pytest.mark.parametrize("target", [0.0, 1.0])
def test_probabilities_keep_relative_precision(backend, dtype, target):
    """log(1 - p) with relative precision: at a negative with p = 1e-8 the BCE is ~1e-8, not 0, and the
    gradient (1 - alpha)(1 + gamma) p ** gamma.  float32 checks the values float32 can hold."""
    p = torch.tensor(P_RANGE, dtype=torch.float64)
    t = torch.full_like(p, target)
    want_loss, want_grad = probability_focal64(p.to(dtype).double(), t)
    loss, grad = loss_and_grad(
        focal_triton.sigmoid_focal_loss, p.to(dtype).to(backend), t.to(dtype).to(backend), activated=True
    )
    held = (want_loss.abs() > 1e-36) & (want_grad.abs() > 1e-36) if dtype == torch.float32 else want_loss == want_loss
    assert held.sum() >= 6
    torch.testing.assert_close(loss[held], want_loss[held], rtol=1e-5, atol=0)
    torch.testing.assert_close(grad[held], want_grad[held], rtol=1e-5, atol=0)


def test_quality_focal_probabilities_near_zero(backend):
    """QFL with probabilities: BCE(p, 0) = -log(1 - p) ~ p at a background class, loss p ** (beta + 1)."""
    p = torch.tensor([[1e-8, 0.5], [1e-6, 0.5], [0.25, 0.5]], dtype=torch.float64)
    k, scores = torch.tensor([1, 1, 1]), torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64)
    y = one_hot64(k, 2) * scores[:, None]
    ce = -(y * torch.log(p) + (1 - y) * torch.log1p(-p))
    d = p - y
    want_loss = (d.abs() ** 2 * ce).sum(1)
    want_grad = d.abs() ** 2 * (p - y) / (p * (1 - p)) + 2 * d * ce
    loss, grad = loss_and_grad(
        focal_triton.quality_focal_loss,
        p.to(backend),
        k.to(backend),
        scores=scores.to(backend),
        activated=True,
        reduction="none",
    )
    torch.testing.assert_close(loss, want_loss, rtol=1e-9, atol=0)
    torch.testing.assert_close(grad, want_grad, rtol=1e-9, atol=0)


# ----------------------------------------------------------------------------- 2. QFL's gradient for small beta
def quality_focal_grad64(x, y, beta):
    """dL/dx of BCE(x, y) |s - y| ** beta in float64: w (s - y) + beta BCE s (1 - s) sign(d) |d| ** (beta - 1),
    the second term 0 where d = 0 or beta = 0."""
    s = torch.sigmoid(x)
    d = (1 - y) * s - y * torch.sigmoid(-x)  # s - y without cancellation for 0 / 1 targets
    # softplus form: F.binary_cross_entropy_with_logits loses the digits of a BCE of 1e-13 (x - x + log(1 + e))
    bce = y * F.softplus(-x) + (1 - y) * F.softplus(x)
    slope = s * torch.sigmoid(-x)
    nonzero = (d != 0) & (beta != 0)
    focus = torch.where(nonzero, bce * slope * torch.sign(d) * d.abs().clamp_min(1e-300) ** (beta - 1), 0.0)
    return d.abs() ** beta * d + beta * focus


@pytest.mark.parametrize("beta", [0.0, 0.05, 0.14, 0.5, 1.0])
def test_quality_focal_gradient_finite_at_confident_logits(backend, beta):
    """x = +-89, +-100 with 0/1 targets: BCE and s - y both tiny, where 1 / d overflowed and met a 0."""
    x = torch.tensor([[-89.0, 89.0], [-100.0, 100.0], [-1e4, 1e4], [-30.0, 30.0]])
    k, scores = torch.tensor([1, 1, 1, 1]), torch.ones(4)
    loss, grad = loss_and_grad(
        focal_triton.quality_focal_loss,
        x.to(backend),
        k.to(backend),
        scores=scores.to(backend),
        beta=beta,
        reduction="none",
    )
    assert torch.isfinite(loss).all() and torch.isfinite(grad).all(), grad
    want = quality_focal_grad64(x.double(), one_hot64(k, 2), beta)
    # float32 holds 2.2e-39 and 3.7e-44 as subnormals, to a few bits at 1e-44
    torch.testing.assert_close(grad, want, rtol=1e-5, atol=1e-44)


@pytest.mark.parametrize("beta", [0.0, 0.1])
def test_quality_focal_gradient_finite_at_tiny_probabilities(backend, beta):
    p = torch.tensor([[1e-40, 0.5], [1e-45, 0.5], [0.0, 0.5]])
    k, scores = torch.tensor([1, 1, 1]), torch.full((3,), 0.5)
    loss, grad = loss_and_grad(
        focal_triton.quality_focal_loss,
        p.to(backend),
        k.to(backend),
        scores=scores.to(backend),
        beta=beta,
        activated=True,
    )
    assert torch.isfinite(loss).all() and torch.isfinite(grad).all(), grad


# ----------------------------------------------------------------------------- 3. pos_weight at an infinite logit
@pytest.mark.parametrize("x", [-INF, -2e38])
def test_pos_weight_at_infinite_logit_of_a_positive(backend, x):
    """The limit of dL/dx at x -> -inf of a positive is -alpha_t * pos_weight * (1 - p_t) ** gamma:
    -0.5 (alpha 0.25, pos_weight 2); with label smoothing 0.1, t = 0.95: -0.4716."""
    positive = torch.tensor([1.0])
    _, grad = loss_and_grad(
        focal_triton.sigmoid_focal_loss,
        torch.tensor([x]).to(backend),
        positive.to(backend),
        pos_weight=2.0,
        reduction="sum",
    )
    torch.testing.assert_close(grad, torch.tensor([-0.5], dtype=torch.float64), rtol=1e-6, atol=0)
    t = 0.95
    want = -(0.25 * t + 0.75 * (1 - t)) * t**2 * 2.0 * t
    _, grad = loss_and_grad(
        focal_triton.sigmoid_focal_loss,
        torch.tensor([[x, 0.0]]).to(backend),
        torch.tensor([0]).to(backend),
        pos_weight=2.0,
        label_smoothing=0.1,
        reduction="sum",
    )
    torch.testing.assert_close(grad[0, 0], torch.tensor(want, dtype=torch.float64), rtol=1e-6, atol=0)
    assert abs(want + 0.4716) < 1e-4


# ----------------------------------------------------------------------------- 4, 5, 16. dropped gradients and tangents
def _family_calls(value_of):
    """(name, call) pairs each passing ``value_of(name, default)`` as one argument."""
    x = torch.randn(4, 3)
    k = torch.tensor([0, 1, 2, 3])
    t = torch.rand(4, 3)
    return [
        ("alpha", lambda: focal_triton.sigmoid_focal_loss(x, t, alpha=value_of("alpha", torch.tensor(0.25)))),
        ("gamma", lambda: focal_triton.sigmoid_focal_loss(x, t, gamma=value_of("gamma", torch.tensor(2.0)))),
        (
            "pos_weight",
            lambda: focal_triton.sigmoid_focal_loss(x, t, pos_weight=value_of("pos_weight", torch.tensor(2.0))),
        ),
        (
            "label_smoothing",
            lambda: focal_triton.softmax_focal_loss(
                x, k.clamp(max=2), label_smoothing=value_of("label_smoothing", torch.tensor(0.1))
            ),
        ),
        ("alpha", lambda: focal_triton.varifocal_loss(x, t, alpha=value_of("alpha", torch.tensor(0.75)))),
        ("gamma", lambda: focal_triton.varifocal_loss(x, t, gamma=value_of("gamma", torch.tensor(2.0)))),
        ("beta", lambda: focal_triton.quality_focal_loss(x, t, beta=value_of("beta", torch.tensor(2.0)))),
    ]


@pytest.mark.parametrize("index", range(7))
def test_scalar_tensors_that_require_grad_are_refused(backend, index):
    name, call = _family_calls(lambda name, default: default.requires_grad_())[index]
    with pytest.raises(ValueError, match=f"{name} requires grad"):
        call()
    with torch.no_grad():
        call()  # no gradient wanted: read as a number


def test_cpu_normalizer_that_requires_grad_is_refused(backend):
    x, t = torch.randn(4, 3).to(backend), torch.rand(4, 3).to(backend)
    with pytest.raises(ValueError, match="normalizer requires grad"):
        focal_triton.sigmoid_focal_loss(x, t, reduction="mean", normalizer=torch.tensor(2.0, requires_grad=True))


def _operand_calls(dual, device):
    """(name, call) with one argument made by ``dual(tensor)`` and plain logits."""
    x = logits((4, 3), device)
    k = torch.tensor([0, 1, 2, 1], device=device)
    t = uniform((4, 3), device)
    rows = uniform((4,), device)
    return [
        ("weight", lambda: focal_triton.sigmoid_focal_loss(x, t, weight=dual(torch.ones(4, 3, device=device)))),
        ("targets", lambda: focal_triton.sigmoid_focal_loss(x, dual(t))),
        ("targets", lambda: focal_triton.softmax_focal_loss(x, dual(t))),
        (
            "normalizer",
            lambda: focal_triton.sigmoid_focal_loss(
                x, t, reduction="mean", normalizer=dual(torch.tensor(3.0, device=device))
            ),
        ),
        ("pos_weight", lambda: focal_triton.sigmoid_focal_loss(x, t, pos_weight=dual(torch.ones(3, device=device)))),
        ("alpha", lambda: focal_triton.softmax_focal_loss(x, k, alpha=dual(torch.ones(3, device=device)))),
        ("scores", lambda: focal_triton.varifocal_loss(x, k, scores=dual(rows))),
        ("targets", lambda: focal_triton.distribution_focal_loss(x, dual(rows * 2))),
    ]


@pytest.mark.parametrize("index", range(8))
def test_dual_arguments_are_refused(backend, index):
    with forward_ad.dual_level():
        name, call = _operand_calls(lambda v: forward_ad.make_dual(v, torch.ones_like(v)), backend)[index]
        with pytest.raises(RuntimeError, match=f"forward-mode AD .*got {name}"):
            call()


@pytest.mark.parametrize("name", ["weight", "targets", "scores"])
def test_vmap_over_an_operand_is_refused(backend, name):
    x = logits((4, 3), backend)
    k = torch.tensor([0, 1, 2, 1], device=backend)
    t = uniform((4, 3), backend)
    calls = {
        "weight": lambda w: focal_triton.sigmoid_focal_loss(x, t, weight=w, reduction="sum"),
        "targets": lambda t: focal_triton.sigmoid_focal_loss(x, t, reduction="sum"),
        "scores": lambda s: focal_triton.varifocal_loss(x, k, scores=s, reduction="sum"),
    }
    batch = uniform((2, 4, 3) if name != "scores" else (2, 4), backend)
    with pytest.raises(RuntimeError, match="does not support torch.func transforms"):
        torch.func.vmap(calls[name])(batch)


def _compiled(fn, fullgraph):
    torch._dynamo.reset()
    return torch.compile(fn, fullgraph=fullgraph, backend="aot_eager")


def test_forward_ad_under_compile_is_refused_or_exact(device):
    """torch.func.jvp inside a compiled function: an error; a dual tensor into a compiled function: the
    exact tangent <dL/dx, v> (the eager reference is traced there); never a zero or missing tangent."""
    x, t, v = logits(8, device), uniform(8, device), uniform(8, device, seed=3)
    loss = lambda y: focal_triton.sigmoid_focal_loss(y, t, reduction="sum")  # noqa: E731
    jvp = _compiled(lambda y: torch.func.jvp(loss, (y,), (torch.ones_like(y),)), fullgraph=False)
    with pytest.raises(RuntimeError, match="does not support torch.func transforms"):
        jvp(x)
    x64 = x.double().cpu().requires_grad_()
    (grad,) = torch.autograd.grad(_focal64(x64, t.double().cpu()).sum(), x64)
    for fullgraph in (False, True):
        with forward_ad.dual_level():
            tangent = forward_ad.unpack_dual(_compiled(loss, fullgraph)(forward_ad.make_dual(x, v))).tangent
        torch.testing.assert_close(tangent.double().cpu(), (grad * v.double().cpu()).sum(), rtol=1e-5, atol=1e-6)


def test_compiled_func_grad_is_refused(device):
    x, t = logits(8, device), uniform(8, device)
    grad = _compiled(torch.func.grad(lambda v: focal_triton.sigmoid_focal_loss(v, t, reduction="sum")), False)
    with pytest.raises(RuntimeError, match="does not support torch.func transforms"):
        grad(x)


# ----------------------------------------------------------------------------- 7. labels the fallback must keep
@pytest.mark.parametrize("dtype,ignore_index,value", [(torch.uint8, -100, 156), (torch.int32, 2**32, 0)])
def test_labels_equal_to_a_wrapped_ignore_index_are_kept(backend, dtype, ignore_index, value):
    """An ignore_index the labels' dtype cannot hold ignores nothing: uint8 156 under -100 (which wraps
    to 156 in uint8), int32 0 under 2**32."""
    x = logits(6, "cpu", torch.float64)
    labels = torch.tensor([value, 1, 0, value, 1, 0], dtype=dtype)
    t = (labels != 0).double()
    want = (0.25 * t + 0.75 * (1 - t)) * (1 - (torch.sigmoid(x) * t + torch.sigmoid(-x) * (1 - t))) ** 2
    want = (want * F.binary_cross_entropy_with_logits(x, t, reduction="none")).mean()
    loss, _ = loss_and_grad(
        focal_triton.sigmoid_focal_loss, x.to(backend), labels.to(backend), ignore_index=ignore_index, reduction="mean"
    )
    torch.testing.assert_close(loss, want, rtol=1e-12, atol=0)


# ----------------------------------------------------------------------------- 8. numbers beyond float32
@pytest.mark.parametrize("option", ["normalizer", "pos_weight", "gamma"])
def test_numbers_beyond_float32_are_refused(backend, option):
    x, t = logits(6, backend, torch.float64), uniform(6, backend).double()
    with pytest.raises(ValueError, match=f"{option} must be a finite number.*magnitude at most 3.4028235e\\+38"):
        focal_triton.sigmoid_focal_loss(x, t, reduction="mean", **{option: 1e39})
    focal_triton.sigmoid_focal_loss(x, t, reduction="mean", **{option: 3e38})  # within range: taken


# ----------------------------------------------------------------------------- 9. 64-bit class offsets of operands
def _strided_classes(values, device):
    """A (1, 3) float16 view whose classes are 2**30 elements apart (class 2 at 2**31, where a 32-bit
    offset wraps), the 4 GiB storage virtual: only the three values are touched."""
    storage = torch.empty(2 * 2**30 + 1, dtype=torch.float16, device=device)
    view = storage.as_strided((1, 3), (3, 2**30))
    view.copy_(torch.tensor([values], dtype=torch.float16))
    return view


@pytest.mark.parametrize("operand", ["softmax-q", "qfl-q", "weight", "pos_weight", "varifocal-weight"])
def test_operand_class_offsets_past_two_to_the_31(device, kernel_launches, operand):
    x64 = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    x, k = x64.float().to(device), torch.tensor([2], device=device)
    values = [0.25, 0.25, 0.5]
    wide = _strided_classes(values, device)
    v = torch.tensor([values], dtype=torch.float64)
    if operand == "softmax-q":
        got = loss_and_grad(focal_triton.softmax_focal_loss, x, wide, reduction="sum")
        want_loss = -(v * torch.log_softmax(x64, 1) * (1 - torch.softmax(x64, 1)) ** 2).sum()
    elif operand == "qfl-q":
        got = loss_and_grad(focal_triton.quality_focal_loss, x, wide, reduction="sum")
        want_loss = (
            F.binary_cross_entropy_with_logits(x64, v, reduction="none") * (torch.sigmoid(x64) - v).abs() ** 2
        ).sum()
    elif operand in ("weight", "pos_weight"):
        got = loss_and_grad(focal_triton.sigmoid_focal_loss, x, k, reduction="sum", **{operand: wide})
        t = one_hot64(k.cpu(), 3)
        p = torch.sigmoid(x64)
        pw = v if operand == "pos_weight" else None
        ce = F.binary_cross_entropy_with_logits(x64, t, pos_weight=pw, reduction="none")
        focal = (0.25 * t + 0.75 * (1 - t)) * (1 - (p * t + (1 - p) * (1 - t))) ** 2 * ce
        want_loss = (focal * (v if operand == "weight" else 1)).sum()
    else:
        scores = torch.tensor([0.7], device=device)
        got = loss_and_grad(focal_triton.varifocal_loss, x, k, scores=scores, weight=wide, reduction="sum")
        q = one_hot64(k.cpu(), 3) * 0.7
        w = torch.where(q > 0, q, 0.75 * torch.sigmoid(x64) ** 2)
        want_loss = (v * w * F.binary_cross_entropy_with_logits(x64, q, reduction="none")).sum()
    torch.testing.assert_close(got[0], want_loss, rtol=1e-5, atol=1e-6)
    assert torch.isfinite(got[1]).all()
    assert [a["WIDE_CLASS_OFFSETS"] for name, a in kernel_launches if "WIDE_CLASS_OFFSETS" in a] == [True]


# ----------------------------------------------------------------------------- 10. fallback under dynamic compile
FALLBACK_CALLS = {
    "sigmoid-options": lambda x, k, t: focal_triton.sigmoid_focal_loss(
        x, t, reduction="mean", weight=t, normalizer=3.0, label_smoothing=0.1, pos_weight=2.0
    ),
    "sigmoid-activated": lambda x, k, t: focal_triton.sigmoid_focal_loss(
        x.sigmoid(), t, reduction="sum", activated=True
    ),
    "sigmoid-index": lambda x, k, t: focal_triton.sigmoid_focal_loss(x, k, reduction="sum", alpha=[0.5, 0.25, 0.1]),
    "softmax": lambda x, k, t: focal_triton.softmax_focal_loss(x, k),
    "softmax-options": lambda x, k, t: focal_triton.softmax_focal_loss(
        x, k, alpha=[1.0, 0.5, 2.0], label_smoothing=0.1, weight=t[:, 0], normalizer=2.0
    ),
    "softmax-dense": lambda x, k, t: focal_triton.softmax_focal_loss(x, t, gamma=1.5),
    "varifocal": lambda x, k, t: focal_triton.varifocal_loss(x, k, scores=t[:, 0]),
    "quality_focal": lambda x, k, t: focal_triton.quality_focal_loss(x, k, scores=t[:, 0], beta=0.5),
    "quality_focal-activated": lambda x, k, t: focal_triton.quality_focal_loss(x.sigmoid(), t, activated=True),
    "distribution_focal": lambda x, k, t: focal_triton.distribution_focal_loss(x, t[:, 0] * 2),
}


@pytest.mark.parametrize("name", FALLBACK_CALLS)
def test_fallback_compiles_with_dynamic_shapes(monkeypatch, name):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    x, k, t = logits((6, 3), "cpu"), torch.tensor([0, 1, 2, 1, 0, 2]), uniform((6, 3), "cpu")
    fn = FALLBACK_CALLS[name]
    want = loss_and_grad(lambda v: fn(v, k, t), x)
    torch._dynamo.reset()
    got = loss_and_grad(torch.compile(lambda v: fn(v, k, t), fullgraph=True, dynamic=True, backend="aot_eager"), x)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------- 11. threads
def test_concurrent_calls_from_threads(device):
    """48 calls from 8 threads at once give the results of the same calls made one by one."""
    x, k, t = logits((16, 5), device), torch.arange(16, device=device) % 5, uniform((16, 5), device)
    calls = [
        lambda: focal_triton.sigmoid_focal_loss(x, t, reduction="sum"),
        lambda: focal_triton.softmax_focal_loss(x, k),
        lambda: focal_triton.quality_focal_loss(x, k, scores=t[:, 0]),
    ]
    serial = [call() for call in calls]
    results, errors = {}, []

    def work(worker):
        try:
            for i in range(6):
                results[(worker, i)] = calls[(worker + i) % 3]()
        except Exception as error:  # noqa: BLE001 - collected and reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for (worker, i), value in results.items():
        assert torch.equal(value, serial[(worker + i) % 3])


# ----------------------------------------------------------------------------- 12-14. the backends agree
@pytest.mark.parametrize("form", ["labels", "class-index", "softmax"])
@pytest.mark.parametrize("bad", [float("nan"), INF])
def test_bad_weight_at_an_ignored_position_adds_nothing(backend, form, bad):
    x64 = logits((4, 3), "cpu", torch.float64)
    if form == "labels":
        targets = torch.tensor([[1, 0, -100], [0, 1, 1], [0, 0, 1], [1, -100, 0]])
        weight = torch.where(targets == -100, bad, 1.0)
        kept = targets != -100
        t = (targets == 1).double()
        want = lambda v: torch.where(kept, _focal64(v, t), 0.0).sum()  # noqa: E731
        call = functools.partial(
            focal_triton.sigmoid_focal_loss, targets=targets.to(backend), weight=weight.to(backend), reduction="sum"
        )
    else:
        targets = torch.tensor([0, -100, 2, 1])
        weight = torch.where(targets == -100, bad, 1.0)
        if form == "class-index":
            weight = weight[:, None].expand(4, 3)
            want = lambda v: (_focal64(v, one_hot64(targets, 3)) * (targets != -100)[:, None]).sum()  # noqa: E731
            call = functools.partial(
                focal_triton.sigmoid_focal_loss, targets=targets.to(backend), weight=weight.to(backend), reduction="sum"
            )
        else:

            def want(v):
                log_p = torch.log_softmax(v, 1).gather(1, targets.clamp(min=0)[:, None])[:, 0]
                return torch.where(targets != -100, -((1 - log_p.exp()) ** 2) * log_p, 0.0).sum()

            call = functools.partial(
                focal_triton.softmax_focal_loss, targets=targets.to(backend), weight=weight.to(backend), reduction="sum"
            )
    leaf = x64.clone().requires_grad_()
    want_loss = want(leaf)
    (want_grad,) = torch.autograd.grad(want_loss, leaf)
    loss, grad = loss_and_grad(call, x64.float().to(backend))
    torch.testing.assert_close(loss, want_loss.detach(), rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(grad, want_grad, rtol=2e-5, atol=2e-6)


def _focal64(x, t, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    return (alpha * t + (1 - alpha) * (1 - t)) * (1 - (p * t + (1 - p) * (1 - t))) ** gamma * ce


@pytest.mark.parametrize("loss_name", ["varifocal", "quality_focal"])
def test_scores_are_read_at_the_rows_class_only(backend, loss_name):
    """A row's score is its target at its class: a NaN score of a background row is never read; a
    NaN, inf or out-of-range (1.5) score at a positive gives NaN loss and gradient at that element only."""
    x = logits((5, 3), "cpu")
    k = torch.tensor([0, 3, 1, 2, 0])  # row 1: background (3 = C)
    scores = torch.tensor([0.5, float("nan"), float("nan"), INF, 1.5])
    fn = getattr(focal_triton, f"{loss_name}_loss")
    loss, grad = loss_and_grad(fn, x.to(backend), k.to(backend), scores=scores.to(backend), reduction="none")
    bad_rows = torch.tensor([False, False, True, True, True])
    assert torch.isfinite(loss[~bad_rows]).all() and torch.isfinite(grad[~bad_rows]).all()
    positive = one_hot64(k, 3) > 0
    assert torch.isnan(grad[bad_rows][positive[bad_rows]]).all()
    assert torch.isfinite(grad[bad_rows][~positive[bad_rows]]).all()
    if loss_name == "varifocal":
        assert torch.isnan(loss[bad_rows][positive[bad_rows]]).all()
        assert torch.isfinite(loss[bad_rows][~positive[bad_rows]]).all()
    else:  # one value per row
        assert torch.isnan(loss[bad_rows]).all()
    clean = torch.tensor([0.5, 0.0, 0.0, 0.0, 0.0])
    want = loss_and_grad(fn, x.to(backend), k.to(backend), scores=clean.to(backend), reduction="none")
    torch.testing.assert_close(loss[:2], want[0][:2], rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(grad[:2], want[1][:2], rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("beyond", [1e-7, 1e-6, -1e-300])
def test_distances_judged_in_their_own_precision(backend, beyond):
    """float64 distances beside float32 logits: y = n + 1e-7 (which rounds to n in float32) is outside
    [0, n]: NaN loss and NaN gradient in its row, on both backends; y = n itself is the one-hot of bin n."""
    x = logits((2, 5), "cpu")
    y = torch.tensor([4.0 + beyond if beyond > 0 else beyond, 4.0], dtype=torch.float64)
    loss, grad = loss_and_grad(focal_triton.distribution_focal_loss, x.to(backend), y.to(backend), reduction="none")
    assert torch.isnan(loss[0]) and torch.isnan(grad[0]).all()
    want = -torch.log_softmax(x[1].double(), 0)[4]
    torch.testing.assert_close(loss[1], want, rtol=2e-6, atol=0)
    assert torch.isfinite(grad[1]).all()


# ----------------------------------------------------------------------------- 15. modules validate at construction
BAD_MODULES = [
    (lambda: focal_triton.SigmoidFocalLoss(pos_weight=float("nan")), ValueError, "pos_weight"),
    (lambda: focal_triton.SigmoidFocalLoss(pos_weight="2"), ValueError, "pos_weight"),
    (
        lambda: focal_triton.SigmoidFocalLoss(pos_weight=torch.tensor([1, 2])),
        TypeError,
        "pos_weight must be a floating",
    ),
    (lambda: focal_triton.SigmoidFocalLoss(pos_weight=2.0, activated=True), ValueError, "activated=True"),
    (lambda: focal_triton.VarifocalLoss(alpha=-1), ValueError, "alpha must be a finite number >= 0"),
    (lambda: focal_triton.VarifocalLoss(gamma=float("nan")), ValueError, "gamma"),
    (lambda: focal_triton.VarifocalLoss(detach_weight="yes"), TypeError, "detach_weight must be a bool"),
    (lambda: focal_triton.VarifocalLoss(ignore_index=1.5), TypeError, "ignore_index"),
    (lambda: focal_triton.QualityFocalLoss(beta=float("nan")), ValueError, "beta must be a finite number"),
    (lambda: focal_triton.QualityFocalLoss(activated=1), TypeError, "activated must be a bool"),
    (lambda: focal_triton.DistributionFocalLoss(reduction="avg"), ValueError, "reduction"),
]


@pytest.mark.parametrize("make,error,match", BAD_MODULES)
def test_modules_validate_every_argument_at_construction(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ----------------------------------------------------------------------------- 17. the returned gradient modified
def test_saved_gradient_modified_in_place_names_the_fix(device):
    x, t = logits(8, device), uniform(8, device)
    leaf = x.clone().requires_grad_()
    loss = focal_triton.sigmoid_focal_loss(leaf, t, reduction="sum")
    (g,) = torch.autograd.grad(loss, leaf, retain_graph=True)
    g.clamp_(max=0)
    with pytest.raises(RuntimeError, match="focal_triton's saved gradient was modified in place.*g.clone()"):
        torch.autograd.grad(loss, leaf)
    # with a copy modified instead, the second backward gives the gradient again
    loss = focal_triton.sigmoid_focal_loss(leaf, t, reduction="sum")
    (g,) = torch.autograd.grad(loss, leaf, retain_graph=True)
    first = g.clone()
    g.clone().clamp_(max=0)
    (again,) = torch.autograd.grad(loss, leaf)
    torch.testing.assert_close(again, first)


# ----------------------------------------------------------------------------- 18. per-class alpha precision
@pytest.mark.parametrize("loss_name", ["sigmoid", "softmax"])
def test_per_class_alpha_in_float64(backend, loss_name):
    """[0.4, 0.4, 0.4] is 0.4 itself for float64 logits (functional and module): not float32(0.4)."""
    x = logits((6, 3), backend, torch.float64)
    k = torch.tensor([0, 1, 2, 1, 0, 2], device=backend)
    fn = focal_triton.sigmoid_focal_loss if loss_name == "sigmoid" else focal_triton.softmax_focal_loss
    module = focal_triton.SigmoidFocalLoss if loss_name == "sigmoid" else focal_triton.SoftmaxFocalLoss
    number = fn(x, k, alpha=0.4, reduction="sum")
    for per_class in (fn(x, k, alpha=[0.4] * 3, reduction="sum"), module(alpha=[0.4] * 3, reduction="sum")(x, k)):
        torch.testing.assert_close(per_class, number, rtol=1e-14, atol=0)
