"""``focal-triton tune``: run the autotuner per size bucket and dtype, print the winners, save a table.

The binary kernel is tuned over ELEMENTWISE_CONFIGS; the winner of each (size bucket, dtypes) is what
``--save`` writes to focal_triton/configs/sm<arch>.json, which the launchers
then use on that architecture instead of tuning at run time.  The multiclass
kernels use the tile heuristic of focal_triton/_layout.py (printed, not tuned), and
the backward scale one fixed config (focal_triton/_launch.py, SCALE_CONFIG).
"""

import json
import os

import torch

import focal_triton
from focal_triton import _launch
from focal_triton._layout import MAX_SINGLE_TILE_CLASSES, RowsLayout, tile_shape
from focal_triton._tuning import table_key, table_path

from .bench import CPU_LABEL, DTYPES

TARGETS_FOR = {torch.float32: torch.float32, torch.bfloat16: torch.uint8, torch.float16: torch.float16}


def buckets(quick, on_gpu):
    if not on_gpu:
        return [10, 12]
    return list(range(12, 29, 4)) if quick else list(range(12, 29))


def _winner(autotuned):
    config = autotuned.best_config
    timings = getattr(autotuned, "configs_timings", None) or {}
    ms = timings.get(config)
    ms = ms[0] if isinstance(ms, (list, tuple)) else ms
    return {"BLOCK": config.kwargs["BLOCK"], "num_warps": config.num_warps}, ms


def tune_sigmoid(dtypes, quick, on_gpu, device):
    """Rows of (kernel, key, config, ms): one forward with the gradient per bucket triggers the tuning."""
    rows = []
    for dtype in dtypes:
        target_dtype = TARGETS_FOR[dtype]
        for bucket in buckets(quick, on_gpu):
            n = 1 << bucket
            x = torch.randn(n, device=device, dtype=dtype, requires_grad=True)
            t = (torch.rand(n, device=device) < 0.1).to(target_dtype)
            focal_triton.sigmoid_focal_loss(x, t, reduction="mean")
            rows.append(("sigmoid_focal_fwd", table_key(n, dtype, target_dtype), *_winner(_launch._sigmoid_fwd)))
    return rows


def softmax_tiles():
    """The heuristic tiles of the multiclass kernels for common layouts."""
    rows = []
    for classes in (2, 80, 1000, 32000, 128000):
        block_s, block_c, warps = tile_shape(classes, RowsLayout(1, 1 << 16, (0, 1, classes), (0, 1, classes)),
                                             MAX_SINGLE_TILE_CLASSES)  # fmt: skip
        rows.append(("softmax_focal_fwd", f"rows C={classes}", {"BLOCK_S": block_s, "BLOCK_C": block_c,
                                                               "num_warps": warps}, None))  # fmt: skip
    return rows


def print_table(rows, on_gpu):
    if not on_gpu:
        print(f"*** {CPU_LABEL}: the interpreter runs one config, nothing is tuned ***")
    print(f"{'kernel':<20} {'bucket|dtypes':<28} {'winner':<40} {'ms':>9}")
    for kernel, key, config, ms in rows:
        shown = "-" if ms is None else f"{ms:9.4f}"
        print(f"{kernel:<20} {key:<28} {json.dumps(config):<40} {shown:>9}")


def save(rows, on_gpu):
    if not on_gpu:
        print("--save: no GPU, so there is no measured table to save (nothing written)")
        return None
    capability = torch.cuda.get_device_capability()
    path = table_path(capability)
    table = {
        "device": torch.cuda.get_device_name(), "torch": torch.__version__,
        "triton": __import__("triton").__version__,
    }  # fmt: skip
    for kernel, key, config, _ in rows:
        if kernel == "sigmoid_focal_fwd":
            table.setdefault(kernel, {})[key] = config
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")
    return path


def run(args):
    on_gpu = torch.cuda.is_available()
    os.environ["FOCAL_TRITON_CONFIGS"] = "0"  # measure afresh, whatever table is shipped
    dtypes = [DTYPES[d] for d in args.dtype.split(",")]
    rows = []
    if args.loss in ("sigmoid", "all"):
        rows += tune_sigmoid(dtypes, args.quick, on_gpu, "cuda" if on_gpu else "cpu")
    if args.loss in ("softmax", "all"):
        rows += softmax_tiles()
    print_table(rows, on_gpu)
    if args.save:
        save(rows, on_gpu)
    return rows
