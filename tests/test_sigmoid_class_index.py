"""sigmoid_focal_loss with (N, *) class-index targets against the float64 binary
formula on an explicit one-hot built in the test."""

import pytest
import torch
from oracle import (
    assert_sigmoid_index_matches,
    expected_sigmoid_index,
    one_hot64,
    sigmoid_focal_grad64,
    sigmoid_focal_loss64,
)

from focal_triton import SigmoidFocalLoss, reference, sigmoid_focal_loss

REDUCTIONS = ["none", "mean", "sum"]


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


@pytest.mark.parametrize("gamma,use_compile", GAMMA_AND_COMPILE, ids=[f"{g}-{'compiled' if c else 'eager'}"
                                                                      for g, c in GAMMA_AND_COMPILE])  # fmt: skip
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
        fn = lambda v, r=reduction: sigmoid_focal_loss(v, t, 0.25, 0.5, r)
        assert torch.autograd.gradcheck(fn, (x.requires_grad_(),), fast_mode=True)


def test_module_and_reference_agree(device):
    x, t = make_case((12, 4, 2), device)
    module = SigmoidFocalLoss(ignore_index=-100)
    torch.testing.assert_close(
        module(x, t), reference.sigmoid_focal_loss(x.cpu(), t.cpu(), reduction="mean").to(device)
    )


@pytest.mark.parametrize(
    "inputs_shape,targets_shape,message",
    [((6, 4, 3), (6, 2), r"shape \(6, 3\) for inputs \(6, 4, 3\), got \(6, 2\)"), ((6,), (), "inputs must have shape")],
)
def test_bad_shapes(device, inputs_shape, targets_shape, message):
    x = torch.randn(inputs_shape, device=device)
    t = torch.zeros(targets_shape, dtype=torch.int64, device=device)
    with pytest.raises(ValueError, match=message):
        sigmoid_focal_loss(x, t)
