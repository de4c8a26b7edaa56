"""focal_triton.softmax_focal_loss (Triton kernels; the interpreter without CUDA)
against the independent float64 formulas of tests/oracle.py."""

import functools

import pytest
import torch
import torch.nn.functional as F
from oracle import (
    DTYPE_TOLERANCES,
    REDUCTIONS,
    assert_sigmoid_index_matches,
    assert_softmax_matches,
    expected_softmax,
    run_softmax,
    softmax_focal_grad64,
    softmax_focal_loss64,
)

from focal_triton import SoftmaxFocalLoss, reference, sigmoid_focal_loss, softmax_focal_loss, tuning

DTYPES = DTYPE_TOLERANCES


def make_case(shape, dtype, device, ignore_every=0, target_dtype=torch.int64, scale=3.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=generator, dtype=torch.float64) * scale).to(dtype)
    num_classes = shape[1]
    t = torch.randint(0, num_classes, (shape[0], *shape[2:]), generator=generator)
    if ignore_every:
        t.view(-1)[::ignore_every] = -100 if target_dtype != torch.uint8 else 255
    return x.to(device), t.to(target_dtype).to(device)


@pytest.mark.parametrize("dtype,rtol,atol", DTYPES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
@pytest.mark.parametrize("alpha", [None, 0.25, "per-class"], ids=["no-alpha", "alpha-0.25", "per-class"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_float64_formula(device, dtype, rtol, atol, gamma, alpha, reduction):
    x, t = make_case((50, 7), dtype, device, ignore_every=9)
    if alpha == "per-class":
        alpha = [0.1, 0.9, 0.5, 1.0, 0.25, 0.0, 2.0]
    go = torch.randn(t.shape, generator=torch.Generator().manual_seed(4)).to(dtype).to(device)
    assert_softmax_matches(x, t, alpha, gamma, reduction, rtol, atol, grad_output=go if reduction == "none" else None)


@pytest.mark.parametrize(
    "num_classes,rows",
    [
        (2, 300),
        (3, 200),
        (80, 64),  # COCO classes: one tile, several rows per program
        (1000, 9),  # one tile per row
        (50257, 3),  # GPT-2 vocabulary: online softmax over class tiles, two passes
    ],
)
def test_class_counts(device, num_classes, rows):
    x, t = make_case((rows, num_classes), torch.float32, device, ignore_every=4)
    for reduction in REDUCTIONS:
        assert_softmax_matches(x, t, 0.25, 2.0, reduction, 2e-5, 2e-6)


@pytest.mark.parametrize(
    "make_view",
    [
        pytest.param(lambda x: x, id="nchw-contiguous"),
        pytest.param(lambda x: x.to(memory_format=torch.channels_last), id="channels_last"),
        pytest.param(lambda x: x[:, :, :, ::2], id="strided-width"),
        pytest.param(lambda x: x.permute(0, 1, 3, 2), id="transposed-spatial"),
    ],
)
@pytest.mark.parametrize("num_classes", [5, 300])
def test_segmentation_layouts(device, make_view, num_classes):
    x, _ = make_case((2, num_classes, 6, 10), torch.float32, device)
    x = make_view(x)
    t = torch.randint(0, num_classes, (x.shape[0], *x.shape[2:]), generator=torch.Generator().manual_seed(3))
    t.view(-1)[::5] = -100
    t = t.to(device)
    for reduction in REDUCTIONS:
        assert_softmax_matches(x, t, [1.0 + (c % 3) for c in range(num_classes)], 2.0, reduction, 2e-5, 2e-6)


@pytest.mark.parametrize("num_classes,kernel", [(2, "small C"), (21, "small C"), (33, "heuristic")])
@pytest.mark.parametrize("dtype,rtol,atol", [DTYPES[0], DTYPES[2]])  # fp32, bf16
def test_few_strided_classes_run_the_small_c_kernel(device, num_classes, kernel, dtype, rtol, atol):
    """NCHW maps with C <= 32 take the unrolled small-C kernel (C = 33 the tiled one): the same
    loss and gradient, with ignored positions, per-class alpha, a masked (-inf) class and 'none'
    with a per-position grad_output."""
    x, t = make_case((2, num_classes, 5, 7), dtype, device, ignore_every=4)
    x[:, num_classes - 1, 0, :] = -float("inf")  # a masked class in the first image row
    t = torch.where(t == num_classes - 1, 0, t)
    alpha = [0.5 + (c % 4) / 4 for c in range(num_classes)]
    for reduction in REDUCTIONS:
        go = (
            torch.randn(t.shape, generator=torch.Generator().manual_seed(4)).to(device) if reduction == "none" else None
        )
        with tuning.recording_launches() as launches:
            assert_softmax_matches(x, t, alpha, 2.0, reduction, rtol, atol, grad_output=go)
        assert launches["softmax_focal_fwd"]["source"] == kernel


@pytest.mark.parametrize("gamma", [0.0, 1.5, 2.0])
@pytest.mark.parametrize("dtype,rtol,atol", [DTYPES[0], DTYPES[2]])  # fp32, bf16
def test_two_class_rows_take_the_margin_form(device, gamma, dtype, rtol, atol):
    """(N, 2) rows run the small-C kernel's binary form on the margin x_k - x_o: the softmax's loss
    and gradient over margins up to +-60, with ignored rows and per-class alpha."""
    x, t = make_case((96, 2), dtype, device, ignore_every=7, scale=20.0)
    for reduction in REDUCTIONS:
        with tuning.recording_launches() as launches:
            assert_softmax_matches(x, t, [0.3, 0.8], gamma, reduction, rtol, atol)
        assert launches["softmax_focal_fwd"]["source"] == "small C"


def test_two_class_rows_with_infinite_logits(device):
    """An infinite logit in a two-class row: +inf at the other class makes p_k = 0 (an infinite
    loss, the gradient finite: g' (p - onehot) with g' = alpha_k), -inf at the other class makes
    p_k = 1 (loss and gradient 0), and +inf at the target class too."""
    inf = float("inf")
    x = torch.tensor([[inf, 1.0], [-inf, 1.0], [1.0, -inf], [inf, 2.0]], device=device)
    t = torch.tensor([1, 1, 0, 0], device=device)
    loss, grad = run_softmax(x, t, 0.25, 2.0, "none")
    assert loss[0].item() == inf and loss[1:].abs().max().item() == 0.0
    torch.testing.assert_close(grad.cpu(), torch.tensor([[0.25, -0.25], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))


@pytest.mark.parametrize("num_classes", [100, 150])  # unrolled tiles of 16 (7 of them) and of 32 (5, padded)
@pytest.mark.parametrize("dtype,rtol,atol", [DTYPES[0], DTYPES[2]])  # fp32, bf16
def test_rows_up_to_256_classes_unroll_their_tiles(device, num_classes, dtype, rtol, atol):
    """Rows a power-of-two tile would pad take the unpadded class tile that still unrolls (at most
    8 tiles; C = 150: 32 wide, not 8), for the softmax and the class-index sigmoid loss alike."""
    assert all(tuning.index_class_tile(c) * 8 >= c for c in range(9, 257))
    assert tuning.index_class_tile(150) == 32 and tuning.index_class_tile(100) == 16
    x, t = make_case((40, num_classes), dtype, device, ignore_every=6)
    for reduction in ("mean", "none"):
        assert_softmax_matches(x, t, 0.25, 2.0, reduction, rtol, atol)
        assert_sigmoid_index_matches(x, t, 0.25, 2.0, reduction, rtol=rtol, atol=atol)


def test_transposed_rows(device):
    """(N, C) logits whose classes are strided: the transpose of a (C, N) tensor."""
    x, t = make_case((40, 13), torch.float32, device)
    x = x.t().contiguous().t()
    assert x.stride() == (1, 40)
    assert_softmax_matches(x, t, None, 2.0, "mean", 2e-5, 2e-6)


def test_channels_last_gradient_keeps_the_layout(device):
    x, t = make_case((2, 8, 4, 4), torch.float32, device)
    x = x.to(memory_format=torch.channels_last)
    _, grad = run_softmax(x, t, None, 2.0, "sum")
    assert grad.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("target_dtype", [torch.int64, torch.int32, torch.uint8])
@pytest.mark.parametrize(
    "alpha", [0.5, [0.5, 1.0, 2.0, 0.0, 1.0, 1.0, 3.0, 1.0, 1.0, 0.25]], ids=["alpha", "per-class"]
)
@pytest.mark.parametrize("use_compile", [False, True], ids=["eager", "compiled"])
def test_target_dtypes(device, target_dtype, alpha, use_compile):
    x, t = make_case((64, 10), torch.float32, device, ignore_every=6, target_dtype=target_dtype)
    ignore = 255 if target_dtype == torch.uint8 else -100
    for reduction in REDUCTIONS:
        assert_softmax_matches(x, t, alpha, 2.0, reduction, 2e-5, 2e-6, ignore_index=ignore, use_compile=use_compile)


def test_alpha_as_tensor_and_module_buffer(device):
    x, t = make_case((30, 4), torch.float32, device)
    weights = [0.2, 0.4, 0.6, 0.8]
    tensor_alpha = torch.tensor(weights, device=device)
    torch.testing.assert_close(
        softmax_focal_loss(x, t, alpha=tensor_alpha), softmax_focal_loss(x, t, alpha=weights), rtol=0, atol=0
    )
    module = SoftmaxFocalLoss(alpha=weights).to(device)
    assert module.alpha.device == x.device
    want, _ = expected_softmax(x, t, weights, 2.0, "mean")
    torch.testing.assert_close(module(x, t).double().cpu(), want, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gamma_zero_is_cross_entropy(device, dtype):
    x, t = make_case((3, 11, 5, 4), dtype, device, ignore_every=7)
    for reduction in REDUCTIONS:
        ours, ours_grad = run_softmax(x, t, None, 0.0, reduction)
        leaf = x.detach().clone().requires_grad_()
        ce = F.cross_entropy(leaf, t, reduction=reduction)
        ce.backward(torch.ones_like(ce))
        tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}
        torch.testing.assert_close(ours, ce.detach(), **tol)
        torch.testing.assert_close(ours_grad, leaf.grad, **tol)


def test_all_positions_ignored(device):
    x, t = make_case((6, 4), torch.float32, device)
    t = torch.full_like(t, -100)
    assert torch.isnan(softmax_focal_loss(x, t, reduction="mean"))  # mean of nothing, as F.cross_entropy
    assert softmax_focal_loss(x, t, reduction="sum").item() == 0.0
    loss, grad = run_softmax(x, t, None, 2.0, "none")
    assert torch.equal(loss, torch.zeros_like(loss)) and torch.equal(grad, torch.zeros_like(grad))
    _, grad = run_softmax(x, t, None, 2.0, "mean")
    assert torch.equal(grad, torch.zeros_like(grad))


@pytest.mark.parametrize("dtype,rtol,atol", DTYPES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_extreme_logits(device, dtype, rtol, atol, gamma):
    """Rows that are certain (p_k -> 1) or hopeless (p_k -> 0): finite, equal to the float64 limits."""
    big = 1e4
    x = torch.tensor([[big, 0.0, -big], [-big, big, 0.0], [0.0, 0.0, 0.0], [30.0, -30.0, 0.0]], dtype=torch.float64)
    t = torch.tensor([0, 0, 1, 0])
    x, t = x.to(dtype).to(device), t.to(device)
    loss, grad = run_softmax(x, t, 0.25, gamma, "none")
    assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
    want_loss, _ = softmax_focal_loss64(x.cpu(), t.cpu(), 0.25, gamma)
    want_grad = softmax_focal_grad64(x.cpu(), t.cpu(), 0.25, gamma)
    torch.testing.assert_close(loss.double().cpu(), want_loss, rtol=rtol, atol=atol)
    torch.testing.assert_close(grad.double().cpu(), want_grad, rtol=rtol, atol=atol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_float64(device, reduction):
    x, t = make_case((5, 4, 3), torch.float64, device, ignore_every=4)
    for gamma in (0.5, 2.0):
        fn = functools.partial(
            softmax_focal_loss, targets=t, alpha=[0.3, 0.6, 1.0, 0.5], gamma=gamma, reduction=reduction
        )
        assert torch.autograd.gradcheck(fn, (x.requires_grad_(),), fast_mode=True)


def test_deterministic(device):
    # many programs on a GPU; the interpreter runs its programs one after the other: fewer rows there
    x, t = make_case((300 if device == "cuda" else 40, 1000), torch.float32, device, ignore_every=3)
    first = run_softmax(x, t, None, 2.0, "mean")
    second = run_softmax(x, t, None, 2.0, "mean")
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_out_of_range_target(device):
    x, t = make_case((8, 5), torch.float32, device)
    t[3] = 5
    if x.is_cuda:  # no host sync to check: documented NaN at that position
        loss = softmax_focal_loss(x, t, reduction="none")
        assert torch.isnan(loss[3]) and torch.isfinite(loss[torch.arange(8, device=device) != 3]).all()
    else:
        with pytest.raises(ValueError, match=r"targets must be class indices in \[0, 5\) or ignore_index=-100, got 5"):
            softmax_focal_loss(x, t)


BAD_CALLS = [
    pytest.param(
        lambda x, t: ((x, t[:, :2]), {}), ValueError, r"shape \(6, 3\) for inputs \(6, 5, 3\), got \(6, 2\)", id="shape"
    ),
    pytest.param(
        lambda x, t: ((x, t.float()), {}),
        ValueError,
        "floating targets are target probabilities of the shape",
        id="float-targets",
    ),
    pytest.param(
        lambda x, t: ((x, t.bool()), {}), TypeError, "targets must be class indices of dtype", id="bool-targets"
    ),
    pytest.param(lambda x, t: ((x[:, 0], t), {}), ValueError, "one class index per position", id="missing-class-dim"),
    pytest.param(lambda x, t: ((x.long(), t), {}), TypeError, "inputs must be a floating tensor", id="int-inputs"),
    pytest.param(
        lambda x, t: ((x, t), {"alpha": [0.5] * 4}), ValueError, r"one weight per class \(5\), got 4", id="alpha-length"
    ),
    pytest.param(
        lambda x, t: ((x, t), {"alpha": [0.5, -1, 0.5, 0.5, 0.5]}),
        ValueError,
        "finite class weights >= 0",
        id="alpha-negative",
    ),
    pytest.param(
        lambda x, t: ((x, t), {"alpha": 1.5}), ValueError, r"alpha must be a number in \[0, 1\]", id="alpha>1"
    ),
    pytest.param(
        lambda x, t: ((x, t), {"alpha": torch.ones(5, device="meta")}),
        ValueError,
        "alpha must be on the device of inputs",
        id="alpha-device",
    ),
    pytest.param(lambda x, t: ((x, t), {"gamma": -1.0}), ValueError, "gamma must be a finite number >= 0", id="gamma"),
    pytest.param(
        lambda x, t: ((x, t), {"reduction": "batchmean"}), ValueError, "reduction must be one of", id="reduction"
    ),
    pytest.param(
        lambda x, t: ((x, t), {"ignore_index": 1.5}), TypeError, "ignore_index must be an int", id="ignore-index"
    ),
    pytest.param(
        lambda x, t: ((x, t.to("meta")), {}), ValueError, "targets must be on the device of inputs", id="targets-device"
    ),
]


@pytest.mark.parametrize("make_call,error,message", BAD_CALLS)
@pytest.mark.parametrize("entry", [softmax_focal_loss, reference.softmax_focal_loss], ids=["triton", "reference"])
def test_bad_input(device, make_call, error, message, entry):
    x, t = make_case((6, 5, 3), torch.float32, device)
    args, kwargs = make_call(x, t)
    with pytest.raises(error, match=message):
        entry(*args, **kwargs)


@pytest.mark.parametrize(
    "shape",
    [(40, 80), (3, 5000), (2, 21, 6, 8)],
    ids=["one-tile-rows", "online-rows", "nchw"],
)
def test_every_tuning_candidate_is_correct(device, shape):
    """Whatever tile focal-triton tune picks, the loss and gradient stay right."""
    x, t = make_case(shape, torch.float32, device, ignore_every=5)
    want_loss, want_grad = expected_softmax(x, t, None, 2.0, "mean")
    candidates = tuning.tile_candidates(shape[1], tuning.rows_layout(x, x))
    assert len(candidates) > 3
    if not x.is_cuda:  # the interpreter ignores num_warps: one candidate per (BLOCK_S, BLOCK_C) computes them all
        candidates = list({tile[:2]: tile for tile in candidates}.values())
    reference_loss = sigmoid_focal_loss(x, t, reduction="sum")
    for tile in candidates:
        with tuning.forced_tile(tile), tuning.recording_launches() as launches:
            loss, grad = run_softmax(x, t, None, 2.0, "mean")
            tiled_loss = sigmoid_focal_loss(x, t, reduction="sum")
        assert launches["softmax_focal_fwd"]["config"] == dict(
            zip(("BLOCK_S", "BLOCK_C", "num_warps"), tile, strict=True)
        )
        assert launches["sigmoid_focal_index_fwd"]["source"] == "forced"
        torch.testing.assert_close(loss.double().cpu(), want_loss, rtol=2e-5, atol=2e-6, msg=f"tile {tile}")
        torch.testing.assert_close(grad.double().cpu(), want_grad, rtol=2e-5, atol=2e-6, msg=f"tile {tile}")
        torch.testing.assert_close(tiled_loss, reference_loss, rtol=1e-5, atol=1e-5, msg=f"tile {tile}")
