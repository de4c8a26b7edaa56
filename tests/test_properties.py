"""Property-based tests (hypothesis): random shapes, strides, dtypes, alpha, gamma, reductions and
target kinds; the kernels equal the float64 formulas, the loss is >= 0, the gradient finite, and
'sum' is the sum of 'none'.  FOCAL_TRITON_HYPOTHESIS_EXAMPLES sets the examples per test (default 25)."""

import os

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import expected_softmax, sigmoid_focal_grad64, sigmoid_focal_loss64, softmax_focal_loss64

from focal_triton import sigmoid_focal_loss, softmax_focal_loss

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
PROFILE = settings(
    max_examples=int(os.environ.get("FOCAL_TRITON_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
TOLERANCES = {torch.float32: (2e-5, 2e-6), torch.float16: (2e-3, 2e-5), torch.bfloat16: (1.6e-2, 2e-5)}

dtypes = st.sampled_from(list(TOLERANCES))
gammas = st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, 3.7])
reductions = st.sampled_from(["none", "mean", "sum"])


@st.composite
def logits_tensors(draw, min_dims=1, max_dims=4):
    """A float64 tensor of random shape, possibly a strided or transposed view."""
    shape = draw(st.lists(st.integers(1, 9), min_size=min_dims, max_size=max_dims))
    scale = draw(st.sampled_from([0.5, 3.0, 30.0]))
    seed = draw(st.integers(0, 2**16))
    base = torch.randn([*shape[:-1], shape[-1] * 2], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    view = draw(st.sampled_from(["contiguous", "strided", "transposed"]))
    x = base[..., : shape[-1]] * scale
    if view == "strided":
        x = (base * scale)[..., ::2]
    elif view == "transposed" and x.dim() >= 2:
        x = x.transpose(0, -1)
    return x


@PROFILE
@given(
    x64=logits_tensors(),
    dtype=dtypes,
    gamma=gammas,
    reduction=reductions,
    alpha=st.sampled_from([None, -1.0, 0.0, 0.25, 1.0]),
    kind=st.sampled_from(["soft", "bool", "uint8"]),
)
def test_sigmoid_matches_formula(x64, dtype, gamma, reduction, alpha, kind):
    x = x64.to(dtype)
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(x.numel()))
    t = {"soft": u, "bool": u > 0.5, "uint8": (u > 0.5).to(torch.uint8)}[kind]
    leaf = x.to(DEVICE).requires_grad_()
    loss = sigmoid_focal_loss(leaf, t.to(DEVICE), alpha, gamma, reduction)
    loss.backward(torch.ones_like(loss))
    t64 = t.double()
    none64 = sigmoid_focal_loss64(x, t64, alpha, gamma)
    want = {"none": none64, "mean": none64.mean(), "sum": none64.sum()}[reduction]
    grad64 = sigmoid_focal_grad64(x, t64, alpha, gamma) / (x.numel() if reduction == "mean" else 1)
    rtol, atol = TOLERANCES[dtype]
    assert (loss.double() >= 0).all() and torch.isfinite(leaf.grad).all()
    torch.testing.assert_close(
        loss.double().cpu(), want, rtol=rtol, atol=atol * (x.numel() if reduction == "sum" else 1)
    )
    torch.testing.assert_close(leaf.grad.double().cpu(), grad64, rtol=rtol, atol=atol)
    if reduction == "sum":
        none = sigmoid_focal_loss(x.to(DEVICE), t.to(DEVICE), alpha, gamma, "none")
        torch.testing.assert_close(loss.double(), none.double().sum(), rtol=1e-5, atol=atol * x.numel())


@PROFILE
@given(
    x64=logits_tensors(min_dims=2),
    dtype=dtypes,
    gamma=gammas,
    reduction=reductions,
    alpha=st.sampled_from([None, 0.5, "per-class"]),
    ignore=st.booleans(),
)
def test_softmax_matches_formula(x64, dtype, gamma, reduction, alpha, ignore):
    x = x64.to(dtype)
    classes = x.shape[1]
    t = torch.randint(0, classes, (x.shape[0], *x.shape[2:]), generator=torch.Generator().manual_seed(x.numel()))
    if ignore:
        t.view(-1)[::3] = -100
    if alpha == "per-class":
        alpha = [0.1 + c / classes for c in range(classes)]
    leaf = x.to(DEVICE).requires_grad_()
    loss = softmax_focal_loss(leaf, t.to(DEVICE), alpha, gamma, reduction)
    loss.backward(torch.ones_like(loss))
    want_loss, want_grad = expected_softmax(x, t, alpha, gamma, reduction)
    rtol, atol = TOLERANCES[dtype]
    assert (loss.double().nan_to_num(0.0) >= 0).all() and torch.isfinite(leaf.grad).all()
    torch.testing.assert_close(
        loss.double().cpu(), want_loss, rtol=rtol, atol=atol * (t.numel() if reduction == "sum" else 1), equal_nan=True
    )
    torch.testing.assert_close(leaf.grad.double().cpu(), want_grad.nan_to_num(0.0), rtol=rtol, atol=atol)
    if reduction == "sum":
        per_position, _ = softmax_focal_loss64(x, t, alpha, gamma)
        none = softmax_focal_loss(x.to(DEVICE), t.to(DEVICE), alpha, gamma, "none")
        torch.testing.assert_close(none.double().sum().cpu(), per_position.sum(), rtol=rtol, atol=atol * t.numel())


@st.composite
def broadcast_weights(draw, shape):
    """A float64 weight broadcastable to ``shape``: some dims kept, others 1, leading dims dropped,
    possibly a strided view (read in place) or an expanded one."""
    dims = [size if draw(st.booleans()) else 1 for size in shape]
    dims = dims[draw(st.integers(0, len(dims))) :]
    seed = draw(st.integers(0, 2**16))
    base = torch.rand(
        [*dims[:-1], dims[-1] * 2] if dims else [2], generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    weight = base[..., ::2] if dims else base[0]
    if dims and draw(st.booleans()):
        weight = weight.expand(*shape[: len(shape) - len(dims)], *dims) if len(dims) < len(shape) else weight
    return weight


@settings(PROFILE, max_examples=int(os.environ.get("FOCAL_TRITON_HYPOTHESIS_EXAMPLES", "12")))
@given(
    data=st.data(),
    x64=logits_tensors(min_dims=2),
    gamma=st.sampled_from([0.5, 2.0]),
    form=st.sampled_from(["same-shape", "class-index"]),
    normalizer=st.sampled_from([None, 3.5]),
)
def test_sigmoid_weight_and_normalizer(data, x64, gamma, form, normalizer):
    """Any broadcast / strided weight and a normalizer: 'mean' is sum(weight * loss) / (normalizer or the
    number of elements), loss and gradient, against the float64 formula."""
    x = x64.float()
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(x.numel()))
    if form == "class-index" and x.shape[1] == 1:  # one class with class indices is refused (ambiguous)
        form = "same-shape"
    if form == "class-index":
        t = torch.randint(0, x.shape[1] + 1, (x.shape[0], *x.shape[2:]), generator=torch.Generator().manual_seed(1))
        t64 = torch.nn.functional.one_hot(t, x.shape[1] + 1)[..., : x.shape[1]].movedim(-1, 1).double()
    else:
        t = t64 = u.double()
    weight = data.draw(broadcast_weights(tuple(x.shape)))
    leaf = x.to(DEVICE).requires_grad_()
    options = {} if normalizer is None else {"normalizer": normalizer}
    loss = sigmoid_focal_loss(leaf, t.to(DEVICE), 0.25, gamma, "mean", weight=weight.float().to(DEVICE), **options)
    loss.backward()
    denominator = x.numel() if normalizer is None else normalizer
    want = (sigmoid_focal_loss64(x, t64, 0.25, gamma) * weight).sum() / denominator
    want_grad = sigmoid_focal_grad64(x, t64, 0.25, gamma) * weight / denominator
    torch.testing.assert_close(loss.double().cpu(), want, rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(leaf.grad.double().cpu(), want_grad, rtol=2e-5, atol=2e-6)
