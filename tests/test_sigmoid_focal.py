"""focal_triton.sigmoid_focal_loss (Triton kernels; the interpreter without CUDA)
against the independent float64 formulas of tests/oracle.py."""

import pytest
import torch
from focal_triton.perf import baselines
from oracle import (
    DTYPE_TOLERANCES,
    REDUCTIONS,
    assert_sigmoid_matches,
    expected_sigmoid,
    logits,
    run_sigmoid,
)

import focal_triton
from focal_triton import SigmoidFocalLoss, sigmoid_focal_loss

DTYPES = DTYPE_TOLERANCES
GAMMAS = [0.0, 0.5, 1.0, 2.0, 4.5]
ALPHAS = [None, 0.25, 0.75]


def make_targets(shape, kind, device, seed=1):
    generator = torch.Generator().manual_seed(seed)
    u = torch.rand(shape, generator=generator)
    targets = {
        "soft": u,
        "hard": (u > 0.5).float(),
        "bool": u > 0.5,
        "uint8": (u > 0.5).to(torch.uint8),
        "fp16": u.half(),
        "fp64": u.double(),
    }[kind]
    return targets.to(device)


def test_kernels_run_not_the_fallback(device, kernel_launches):
    """Without CUDA the tests must exercise the Triton interpreter, never the eager fallback."""
    x = logits(100, device, torch.float32, scale=4.0)
    assert focal_triton.backend_for(x) in ("triton", "triton-interpreter")
    loss, _ = run_sigmoid(x, make_targets(100, "soft", device), 0.25, 2.0, "mean")
    assert torch.isfinite(loss)
    assert [name for name, _ in kernel_launches] == [
        "sigmoid_focal_fwd_kernel",
        "sum_partials_kernel",
        "scale_grad_kernel",
    ]


@pytest.mark.parametrize("dtype,rtol,atol", DTYPES)
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_float64_formula(device, dtype, rtol, atol, gamma, alpha, reduction):
    # 1000: not a multiple of the block; mixes soft and hard targets.
    x = logits(1000, device, dtype, scale=4.0)
    t = make_targets(1000, "soft", device)
    t[::3] = (t[::3] > 0.5).float()
    grad_output = logits(1000, device, dtype, scale=1.0, seed=7) if reduction == "none" else None
    assert_sigmoid_matches(x, t, alpha, gamma, reduction, rtol, atol, grad_output)


KINDS_AND_COMPILE = [(kind, False) for kind in ("soft", "hard", "bool", "uint8", "fp16", "fp64")] + [
    ("soft", True),
    ("uint8", True),
    ("bool", True),
]


@pytest.mark.parametrize(
    "kind,use_compile", KINDS_AND_COMPILE, ids=[f"{k}-{'compiled' if c else 'eager'}" for k, c in KINDS_AND_COMPILE]
)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_target_dtypes(device, kind, reduction, use_compile):
    x = logits(777, device, torch.float32, scale=4.0)
    t = make_targets(777, kind, device)
    assert_sigmoid_matches(x, t, 0.25, 2.0, reduction, 2e-5, 2e-6, use_compile=use_compile)


def test_uint8_labels_nonzero_is_positive(device):
    x = logits(256, device, torch.float32, scale=4.0)
    labels = torch.randint(0, 4, (256,), generator=torch.Generator().manual_seed(5), dtype=torch.uint8).to(device)
    loss, grad = run_sigmoid(x, labels, 0.25, 2.0, "none")
    want_loss, want_grad = expected_sigmoid(x, (labels != 0).double(), 0.25, 2.0, "none")
    torch.testing.assert_close(loss.double().cpu(), want_loss.cpu(), rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(grad.double().cpu(), want_grad.cpu(), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize(
    "shape",
    [
        (1,),
        (1025,),  # one element past a block
        (4096,),  # exactly a few blocks
        (2, 3, 17, 19),  # 4-D detection-like map
        (3, 1, 1, 7, 5),
    ],
)
def test_shapes(device, shape):
    x = logits(shape, device, torch.float32, scale=4.0)
    t = make_targets(shape, "hard", device)
    for reduction in REDUCTIONS:
        assert_sigmoid_matches(x, t, 0.25, 2.0, reduction, 2e-5, 2e-6)


@pytest.mark.parametrize(
    "view",
    [
        pytest.param(lambda a: a.t(), id="transposed"),
        pytest.param(lambda a: a[:, ::3], id="strided-slice"),
        pytest.param(lambda a: a.reshape(6, 5, 4, 10).to(memory_format=torch.channels_last), id="channels_last"),
    ],
)
def test_non_contiguous(device, view):
    x = view(logits((60, 20), device, torch.float32, scale=4.0))
    t = view(make_targets((60, 20), "soft", device))
    assert not x.is_contiguous()
    for reduction in REDUCTIONS:
        go = logits(x.shape, device, torch.float32, scale=4.0, seed=3) if reduction == "none" else None
        assert_sigmoid_matches(x, t, 0.25, 2.0, reduction, 2e-5, 2e-6, go)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_empty_input(device, dtype):
    x = torch.empty(0, 4, dtype=dtype, device=device, requires_grad=True)
    t = torch.empty(0, 4, device=device)
    none = sigmoid_focal_loss(x, t)
    assert none.shape == (0, 4) and none.dtype == dtype
    total = sigmoid_focal_loss(x, t, reduction="sum")
    assert total.item() == 0.0
    mean = sigmoid_focal_loss(x, t, reduction="mean")
    assert torch.isnan(mean)  # as torch.mean of nothing
    total.backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("dtype,rtol,atol", DTYPES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("label_dtype", [torch.float32, torch.bool], ids=["soft-path", "label-path"])
def test_extreme_logits(device, dtype, rtol, atol, gamma, label_dtype):
    """Confident predictions both ways: finite loss and gradient, equal to the float64 limits."""
    values = [-1e4, -300.0, -100.0, -20.0, -5.0, -1.0, 0.0, 1.0, 5.0, 20.0, 100.0, 300.0, 1e4]
    x = torch.tensor(values * 2, dtype=torch.float64).to(dtype).to(device)
    t = torch.tensor([1.0] * len(values) + [0.0] * len(values), device=device)
    loss, grad = run_sigmoid(x, t.to(label_dtype), 0.25, gamma, "none")
    assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
    want_loss, want_grad = expected_sigmoid(x, t, 0.25, gamma, "none")
    torch.testing.assert_close(loss.double().cpu(), want_loss.cpu(), rtol=rtol, atol=atol)
    torch.testing.assert_close(grad.double().cpu(), want_grad.cpu(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_gamma_below_one_confident_positive_has_finite_gradient(device, dtype):
    """Where torchvision's formula returns NaN (gamma 0.5, x = 20, t = 1), the gradient is finite and ~0."""
    x = torch.tensor([20.0, 30.0], dtype=dtype, device=device)
    t = torch.ones(2, device=device)
    tv = x.detach().float().requires_grad_()
    baselines.torchvision_sigmoid_focal_loss(tv, t, gamma=0.5).sum().backward()
    assert torch.isnan(tv.grad).all()  # the bug this library exists to avoid
    _, grad = run_sigmoid(x, t, 0.25, 0.5, "sum")
    assert torch.isfinite(grad).all()
    assert grad.abs().max().item() < 1e-6


def test_nan_input_gives_nan(device):
    x = logits(300, device, torch.float32, scale=4.0)
    x[[5, 150]] = float("nan")
    t = make_targets(300, "hard", device)
    loss, grad = run_sigmoid(x, t, 0.25, 2.0, "none")
    nan = torch.zeros(300, dtype=torch.bool)
    nan[[5, 150]] = True
    assert torch.isnan(loss.cpu()[nan]).all() and torch.isfinite(loss.cpu()[~nan]).all()
    assert torch.isnan(grad.cpu()[nan]).all() and torch.isfinite(grad.cpu()[~nan]).all()
    for reduction in ("mean", "sum"):
        assert torch.isnan(sigmoid_focal_loss(x, t, reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_float64(device, reduction):
    x = logits(12, device, torch.float64, scale=2.0).requires_grad_()
    t = make_targets(12, "soft", device).double()
    for gamma in (0.5, 2.0):
        assert torch.autograd.gradcheck(lambda v, g=gamma: sigmoid_focal_loss(v, t, 0.25, g, reduction), (x,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_deterministic(device, reduction):
    # many blocks on a GPU, where the order of partial sums could vary; the interpreter runs its
    # programs one after the other, so a few blocks there
    n = 50_000 if device == "cuda" else 5000
    x = logits(n, device, torch.float32, scale=4.0)
    t = make_targets(n, "soft", device)
    first_loss, first_grad = run_sigmoid(x, t, 0.25, 2.0, reduction)
    second_loss, second_grad = run_sigmoid(x, t, 0.25, 2.0, reduction)
    assert torch.equal(first_loss, second_loss)
    assert torch.equal(first_grad, second_grad)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_scalar_grad_output_scales(device, reduction):
    x = logits(500, device, torch.float32, scale=4.0)
    t = make_targets(500, "soft", device)
    go = torch.tensor(2.5, device=device)
    assert_sigmoid_matches(x, t, 0.25, 2.0, reduction, 2e-5, 2e-6, grad_output=go)


def test_grad_output_expanded_from_a_scalar(device):
    """loss.sum().backward() hands 'none' a zero-stride grad_output."""
    x = logits(640, device, torch.float32, scale=4.0).requires_grad_()
    t = make_targets(640, "soft", device)
    (sigmoid_focal_loss(x, t, reduction="none").sum() * 3.0).backward()
    _, want = expected_sigmoid(x.detach(), t, 0.25, 2.0, "sum")
    torch.testing.assert_close(x.grad.double().cpu(), 3.0 * want.cpu(), rtol=2e-5, atol=6e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_repeated_backward_through_retained_graph(device, reduction):
    x = logits(300, device, torch.float32, scale=4.0).requires_grad_()
    t = make_targets(300, "soft", device)
    loss = sigmoid_focal_loss(x, t, reduction=reduction)
    scales = (3.0, 0.5, 1.0)
    grads = [torch.autograd.grad(loss, x, torch.full_like(loss, s), retain_graph=True)[0].clone() for s in scales]
    _, want = expected_sigmoid(x.detach(), t, 0.25, 2.0, reduction)
    for scale, grad in zip(scales, grads, strict=True):
        torch.testing.assert_close(grad.double().cpu(), scale * want.cpu(), rtol=2e-5, atol=2e-6)


def test_second_derivative_is_refused(device):
    """The backward is once_differentiable: differentiating through it raises; under
    create_graph=True with a constant grad_output the gradient is a constant."""
    x = logits(10, device, torch.float64, scale=4.0).requires_grad_()
    t = make_targets(10, "soft", device)
    loss = sigmoid_focal_loss(x, t, reduction="sum")
    grad_output = torch.ones((), dtype=torch.float64, device=device, requires_grad=True)
    (grad,) = torch.autograd.grad(loss, x, grad_output, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice a function that was marked with @once_differentiable"):
        grad.sum().backward()
    (grad,) = torch.autograd.grad(sigmoid_focal_loss(x, t, reduction="sum"), x, create_graph=True)
    assert not grad.requires_grad


def test_no_gradient_written_without_grad(device, kernel_launches):
    x = logits(64, device, torch.float32, scale=4.0)
    t = make_targets(64, "soft", device)
    sigmoid_focal_loss(x, t)  # inputs do not require grad
    with torch.no_grad():
        out = sigmoid_focal_loss(x.requires_grad_(), t)
    sigmoid_focal_loss(x, t)  # now it is needed
    assert [kwargs["WRITE_GRAD"] for _, kwargs in kernel_launches] == [False, False, True]
    assert out.grad_fn is None


def test_module(device):
    module = SigmoidFocalLoss(alpha=0.75, gamma=1.0)
    assert "reduction='mean'" in repr(module)
    x = logits(200, device, torch.float32, scale=4.0)
    t = make_targets(200, "hard", device)
    want = expected_sigmoid(x, t, 0.75, 1.0, "mean")[0]
    torch.testing.assert_close(module(x, t).double().cpu(), want.cpu(), rtol=2e-5, atol=2e-6)


def test_worked_example_from_the_paper_walkthrough(device):
    """alpha 0.25, gamma 2, a positive with p = 0.2 costs 0.2575 and with p = 0.8 costs 0.00223."""
    p = torch.tensor([0.2, 0.8], dtype=torch.float64)
    x = torch.log(p / (1 - p)).float().to(device)
    loss = sigmoid_focal_loss(x, torch.ones(2, device=device))
    torch.testing.assert_close(loss.cpu(), torch.tensor([0.25 * 0.64 * 1.6094379, 0.25 * 0.04 * 0.2231436]))
