"""sigmoid_focal_loss with (N, *) class-index targets against the float64 binary
formula on an explicit one-hot built in the test."""

import functools

import pytest
import torch
from oracle import (
    REDUCTIONS,
    assert_sigmoid_index_matches,
    autograd64,
    one_hot64,
    reduce64,
    run,
    sigmoid_focal_loss64,
)

from focal_triton import SigmoidFocalLoss, reference, sigmoid_focal_loss


def make_case(shape, device, dtype=torch.float32, target_dtype=torch.int64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=generator, dtype=torch.float64) * 3).to(dtype)
    num_classes = shape[1]
    # classes, background (C and other values outside [0, C)) and ignored positions
    t = torch.randint(0, num_classes + 1, (shape[0], *shape[2:]), generator=generator)
    t.view(-1)[1::7] = num_classes + 5 if target_dtype == torch.uint8 else -3
    t.view(-1)[::5] = -100 if target_dtype != torch.uint8 else 255
    return x.to(device), t.to(target_dtype).to(device)


# every gamma eagerly; the compiled path (custom op, fake, autograd formula) at a general and a
# specialised gamma
GAMMA_AND_COMPILE = [(0.0, False), (0.5, False), (2.0, False), (5.0, False), (0.5, True), (2.0, True)]


@pytest.mark.parametrize(
    "gamma,use_compile", GAMMA_AND_COMPILE, ids=[f"{g}-{'compiled' if c else 'eager'}" for g, c in GAMMA_AND_COMPILE]
)
@pytest.mark.parametrize("alpha", [None, 0.25])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_one_hot_formula(device, gamma, alpha, reduction, use_compile):
    x, t = make_case((40, 6), device)
    go = torch.randn(x.shape, generator=torch.Generator().manual_seed(2)).to(device) if reduction == "none" else None
    assert_sigmoid_index_matches(x, t, alpha, gamma, reduction, grad_output=go, use_compile=use_compile)


@pytest.mark.parametrize(
    "shape,make_view",
    [
        pytest.param((2, 80, 5, 7), lambda x: x, id="retinanet-head-nchw"),
        pytest.param((2, 80, 5, 7), lambda x: x.to(memory_format=torch.channels_last), id="channels_last"),
        pytest.param((8, 1000), lambda x: x, id="large-C-rows"),
        pytest.param((3, 7, 4, 6), lambda x: x[:, :, :, ::2], id="strided"),
    ],
)
def test_layouts(device, shape, make_view):
    x, _ = make_case(shape, device)
    x = make_view(x)
    _, t = make_case((x.shape[0], x.shape[1], *x.shape[2:]), device, seed=1)
    for reduction in REDUCTIONS:
        assert_sigmoid_index_matches(x, t, 0.25, 2.0, reduction)


@pytest.mark.parametrize("target_dtype", [torch.int64, torch.int32, torch.uint8])
def test_target_dtypes(device, target_dtype):
    x, t = make_case((30, 4, 3), device, target_dtype=target_dtype)
    ignore = 255 if target_dtype == torch.uint8 else -100
    for reduction in REDUCTIONS:
        assert_sigmoid_index_matches(x, t, 0.25, 2.0, reduction, ignore_index=ignore)


def test_same_as_explicit_one_hot_with_same_shape_targets(device):
    """No ignored positions: the class-index form equals the same-shape form on the one-hot."""
    x, t = make_case((16, 5, 3), device)
    t = t.clamp(0, 5)  # classes and background only
    one_hot = one_hot64(t.cpu(), 5).float().to(device)
    for reduction in REDUCTIONS:
        torch.testing.assert_close(
            sigmoid_focal_loss(x, t, reduction=reduction), sigmoid_focal_loss(x, one_hot, reduction=reduction)
        )


def test_all_ignored(device):
    x, t = make_case((4, 3), device)
    t = torch.full_like(t, -100)
    assert torch.isnan(sigmoid_focal_loss(x, t, reduction="mean"))
    assert sigmoid_focal_loss(x, t, reduction="sum").item() == 0.0
    assert torch.equal(sigmoid_focal_loss(x, t), torch.zeros_like(x))


def test_gradcheck_float64(device):
    x, t = make_case((5, 3, 2), device, dtype=torch.float64)
    for reduction in REDUCTIONS:
        fn = functools.partial(sigmoid_focal_loss, targets=t, alpha=0.25, gamma=0.5, reduction=reduction)
        assert torch.autograd.gradcheck(fn, (x.requires_grad_(),), fast_mode=True)


def test_module_and_reference_agree(device):
    x, t = make_case((12, 4, 2), device)
    module = SigmoidFocalLoss(ignore_index=-100)
    torch.testing.assert_close(
        module(x, t), reference.sigmoid_focal_loss(x.cpu(), t.cpu(), reduction="mean").to(device)
    )


# Rows of 16 or more contiguous classes: the kernel takes every logit as a negative and each row's
# positive after the tiles (kernels/sigmoid_focal.py, NEGATIVES_FIRST); 16 and 80 classes fill
# whole class tiles (uncounted rows masked once a row), 20 is 3 tiles of 8 (the last masked).
WIDE_OPTIONS = {
    "alpha": lambda c: {"alpha": 0.25},
    "alpha 1": lambda c: {"alpha": 1.0},  # the negatives' factor is 0
    "per-class alpha": lambda c: {"alpha": [0.1 + 0.8 * j / c for j in range(c)]},
    "pos_weight, weight": lambda c: {
        "alpha": 0.25,
        "pos_weight": torch.linspace(0.5, 2.0, c),
        "weight": torch.rand(24, c, generator=torch.Generator().manual_seed(4)),
    },
}


def wide_rows64(z, t, gamma, reduction, alpha=None, pos_weight=None, weight=None):
    """The focal loss of (N, C) logits against the one-hot of ``t`` in float64 (oracle's formula,
    with BCE's pos_weight), times ``weight``, ignored rows 0; 'mean' over the kept rows' C elements."""
    one_hot = one_hot64(t, z.shape[1])
    kept = (t != -100).double()[:, None]
    alpha = None if alpha is None else torch.tensor(alpha, dtype=torch.float64)
    loss = sigmoid_focal_loss64(z, one_hot, alpha, gamma, pos_weight) * kept
    loss = loss * (1.0 if weight is None else weight.double())
    return reduce64(loss, reduction, kept.sum() * z.shape[1])


@pytest.mark.parametrize("options", WIDE_OPTIONS)
@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 0.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("num_classes", [16, 20, 80])
def test_wide_rows_match_the_formula(device, num_classes, reduction, gamma, options):
    """Classes, background, ignored rows whose logits are NaN (never read into a result)."""
    x, t = make_case((24, num_classes), device)
    extra = WIDE_OPTIONS[options](num_classes)
    ignored = (t == -100).cpu()
    x_nan = x.clone()
    x_nan[ignored.to(device)] = float("nan")
    loss, grad = run(
        sigmoid_focal_loss,
        x_nan,
        t,
        gamma=gamma,
        reduction=reduction,
        **{k: v.to(device) if torch.is_tensor(v) else v for k, v in extra.items()},
    )
    want = autograd64(lambda z: wide_rows64(z, t.cpu(), gamma, reduction, **extra), x)
    torch.testing.assert_close(loss.double().cpu(), want[0], rtol=2e-5, atol=2e-6 * (24 if reduction == "sum" else 1))
    torch.testing.assert_close(grad.double().cpu(), want[1], rtol=2e-5, atol=2e-6)
    assert (grad[ignored.to(device)] == 0).all()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("num_classes", [20, 80])
def test_wide_rows_take_the_limits(device, num_classes, gamma):
    """Infinite logits at a positive and at a negative give the limits, a NaN logit at a positive
    gives NaN there alone; the rest of each row is the formula's."""
    x, t = make_case((24, num_classes), device)
    t[2:6] = torch.tensor([3, 4, 5, 6])
    cases = {
        (2, 3): (float("inf"), 0.0, 0.0),
        (3, 4): (-float("inf"), float("inf"), -0.25),
        (4, 0): (float("inf"), float("inf"), 0.75),
        (4, 1): (-float("inf"), 0.0, 0.0),
        (5, 6): (float("nan"), float("nan"), float("nan")),
    }  # (row, class): (logit, loss, gradient)
    x_extreme = x.clone()
    for (row, cls), (logit, _, _) in cases.items():
        x_extreme[row, cls] = logit
    loss, grad = run(sigmoid_focal_loss, x_extreme, t, alpha=0.25, gamma=gamma, reduction="none")
    want_loss, want_grad = autograd64(lambda z: wide_rows64(z, t.cpu(), gamma, "none", alpha=0.25), x)
    for (row, cls), (_, limit_loss, limit_grad) in cases.items():
        want_loss[row, cls], want_grad[row, cls] = limit_loss, limit_grad
    torch.testing.assert_close(loss.double().cpu(), want_loss, rtol=2e-5, atol=2e-6, equal_nan=True)
    torch.testing.assert_close(grad.double().cpu(), want_grad, rtol=2e-5, atol=2e-6, equal_nan=True)


@pytest.mark.parametrize(
    "inputs_shape,targets_shape,message",
    [((6, 4, 3), (6, 2), r"shape \(6, 3\) for inputs \(6, 4, 3\), got \(6, 2\)"), ((6,), (), "inputs must have shape")],
)
def test_bad_shapes(device, inputs_shape, targets_shape, message):
    x = torch.randn(inputs_shape, device=device)
    t = torch.zeros(targets_shape, dtype=torch.int64, device=device)
    with pytest.raises(ValueError, match=message):
        sigmoid_focal_loss(x, t)
