"""Bad input gets a clear error, naming the argument, before any kernel runs."""

import pytest
import torch

import focal_triton
from focal_triton import SigmoidFocalLoss, reference, sigmoid_focal_loss


def good(device):
    return torch.randn(4, 5, device=device), torch.rand(4, 5, device=device)


BAD_CALLS = [
    pytest.param(
        lambda x, t: ((x, t[:, :4]), {}),
        ValueError,
        r"targets must have the shape of inputs \(4, 5\), got \(4, 4\)",
        id="shape",
    ),
    pytest.param(
        lambda x, t: ((x.long(), t), {}),
        TypeError,
        "inputs must be a floating tensor .* got dtype torch.int64",
        id="int-inputs",
    ),
    pytest.param(
        lambda x, t: ((x.to(torch.complex64), t), {}),
        TypeError,
        "inputs must be a floating tensor .* got dtype torch.complex64",
        id="complex-inputs",
    ),
    pytest.param(
        lambda x, t: ((x, t.to(torch.int16)), {}),
        TypeError,
        "targets must have dtype .* got torch.int16",
        id="int16-same-shape-targets",
    ),
    pytest.param(
        lambda x, t: ((x, t.to("meta")), {}), ValueError, "targets must be on the device of inputs", id="device"
    ),
    pytest.param(
        lambda x, t: ((x.tolist(), t), {}), TypeError, "inputs must be a torch.Tensor, got list", id="not-a-tensor"
    ),
    pytest.param(
        lambda x, t: ((x, t), {"gamma": -0.5}),
        ValueError,
        r"gamma must be a finite number >= 0, got -0.5",
        id="gamma<0",
    ),
    pytest.param(
        lambda x, t: ((x, t), {"gamma": float("nan")}),
        ValueError,
        "gamma must be a finite number >= 0, got nan",
        id="gamma-nan",
    ),
    pytest.param(
        lambda x, t: ((x, t), {"alpha": 1.5}),
        ValueError,
        r"alpha must be None or a number <= 1 .* got 1.5",
        id="alpha>1",
    ),
    pytest.param(
        lambda x, t: ((x, t), {"alpha": "0.25"}),
        ValueError,
        "alpha must be None or a number <= 1 .* got '0.25'",
        id="alpha-str",
    ),
    pytest.param(
        lambda x, t: ((x, t), {"reduction": "avg"}),
        ValueError,
        "reduction must be one of 'none', 'mean', 'sum', got 'avg'",
        id="reduction",
    ),
]


@pytest.mark.parametrize("make_call,error,message", BAD_CALLS)
@pytest.mark.parametrize("entry", [sigmoid_focal_loss, reference.sigmoid_focal_loss], ids=["triton", "reference"])
def test_bad_input(device, no_kernel, make_call, error, message, entry):
    args, kwargs = make_call(*good(device))
    with pytest.raises(error, match=message):
        entry(*args, **kwargs)


def test_module_reports_bad_reduction(device, no_kernel):
    with pytest.raises(ValueError, match="reduction must be one of"):
        SigmoidFocalLoss(reduction="batchmean")(*good(device))


@pytest.mark.parametrize("alpha", [-1.0, -0.25, None])
def test_negative_alpha_drops_the_factor(device, alpha):
    x, t = good(device)
    torch.testing.assert_close(sigmoid_focal_loss(x, t, alpha=alpha), sigmoid_focal_loss(x, t, alpha=-1))
    assert not torch.allclose(sigmoid_focal_loss(x, t, alpha=alpha), sigmoid_focal_loss(x, t, alpha=0.25))


def test_zero_dim_cpu_tensors_are_numbers(device):
    """alpha / gamma as 0-d CPU tensors (common in configs) act as the numbers they hold;
    on a GPU reading one would be a host sync, so only CPU ones are taken."""
    x, t = torch.randn(6, 5, 3, device=device), torch.randint(0, 5, (6, 3), device=device)
    as_tensors = focal_triton.softmax_focal_loss(x, t, alpha=torch.tensor(0.5), gamma=torch.tensor(1.5))
    torch.testing.assert_close(as_tensors, focal_triton.softmax_focal_loss(x, t, alpha=0.5, gamma=1.5), rtol=0, atol=0)
    soft = torch.rand(6, 5, 3, device=device)
    torch.testing.assert_close(
        focal_triton.sigmoid_focal_loss(x, soft, torch.tensor(0.3), torch.tensor(2.0)),
        focal_triton.sigmoid_focal_loss(x, soft, 0.3, 2.0),
        rtol=0,
        atol=0,
    )
    module = focal_triton.SoftmaxFocalLoss(alpha=torch.tensor(0.5))
    assert module.alpha == 0.5


def test_sigmoid_per_class_alpha_needs_a_class_dim(device):
    """Per-class alpha applies along dim 1: 1-D logits have no class dim to apply it to."""
    with pytest.raises(ValueError, match=r"alpha with one value per class applies along dim 1 .* got inputs of shape"):
        focal_triton.sigmoid_focal_loss(torch.randn(6, device=device), torch.rand(6, device=device), alpha=[0.25] * 6)


def test_the_no_kernel_guard_fires(device, no_kernel):
    """The guard the bad-input tests rely on: a good call under it fails the test."""
    x, t = good(device)
    with pytest.raises(pytest.fail.Exception, match="kernel sigmoid_focal_fwd_kernel ran"):
        sigmoid_focal_loss(x, t)
    # "mean" counts the kept rows first
    with pytest.raises(pytest.fail.Exception, match="kernel count_kept_kernel ran"):
        focal_triton.softmax_focal_loss(x, t.argmax(1))
