"""``focal-triton tune``: run the autotuner per size bucket and dtype, print the winners, save a table.

The binary kernel is tuned over ELEMENTWISE_CONFIGS per (size bucket, dtypes);
the multiclass kernels over ``tile_candidates`` (rows per program x class tile
x warps) per (class-count bucket, layout kind, dtype).  ``--save`` writes the
winners to focal_triton/configs/sm<arch>.json, which the launchers then use on
that architecture instead of tuning at run time (or, for the multiclass
kernels, instead of the tile heuristic).  The backward scale uses one fixed
config (focal_triton/tuning.py, SCALE_CONFIG).
"""

import functools
import json
import math
import os

import torch
import triton

import focal_triton
from focal_triton import tuning

from .bench import CPU_LABEL, DTYPES

TUNED_KERNELS = ("sigmoid_focal_fwd", "softmax_focal_fwd", "sigmoid_focal_index_fwd")
TARGETS_FOR = {torch.float32: torch.float32, torch.bfloat16: torch.uint8, torch.float16: torch.float16}


def buckets(quick, on_gpu):
    if not on_gpu:
        return [10, 12]
    return list(range(12, 29, 4)) if quick else list(range(12, 29))


def tune_sigmoid(dtypes, quick, on_gpu, device):
    """Rows (``_row``) of the winners: one forward with the gradient per bucket triggers the tuning."""
    rows = []
    for dtype in dtypes:
        target_dtype = TARGETS_FOR[dtype]
        for bucket in buckets(quick, on_gpu):
            n = 1 << bucket
            x = torch.randn(n, device=device, dtype=dtype, requires_grad=True)
            t = (torch.rand(n, device=device) < 0.1).to(target_dtype)
            with tuning.recording_launches() as launches:
                focal_triton.sigmoid_focal_loss(x, t, reduction="mean")
            winner = launches["sigmoid_focal_fwd"]
            rows.append(
                _row(
                    "sigmoid_focal_fwd",
                    tuning.table_key(n, dtype, target_dtype),
                    f"n <= 2^{bucket}",
                    (dtype, target_dtype),
                    winner["config"],
                    winner["ms"],
                )
            )
    return rows


def _row(kernel, key, sizes, dtypes, config, ms):
    """One tuned entry: ``key`` as the saved table has it, ``sizes`` and ``dtypes`` for people."""
    dtypes = " / ".join(str(d).replace("torch.", "") for d in dtypes)
    return {"kernel": kernel, "key": key, "sizes": sizes, "dtypes": dtypes, "config": config, "ms": ms}


CLASS_CASES = (("rows", 2), ("rows", 80), ("rows", 1000), ("rows", 32000), ("rows", 128000), ("nchw", 21))
CLASS_KERNELS = (
    ("softmax_focal_fwd", focal_triton.softmax_focal_loss),
    ("sigmoid_focal_index_fwd", focal_triton.sigmoid_focal_loss),
)


def _class_inputs(kind, classes, elements, dtype, device):
    if kind == "rows":
        x = torch.randn(max(elements // classes, 1), classes)
    else:
        side = max(int(math.sqrt(elements / (8 * classes))), 1)
        x = torch.randn(8, classes, side, side)
    t = torch.randint(0, classes, (x.shape[0], *x.shape[2:]))
    return x.to(dtype).to(device).requires_grad_(), t.to(device)


def _forward_with_tile(loss, x, t, tile):
    """One forward of ``loss`` that writes the gradient ('mean'), with the multiclass tile ``tile``."""
    with tuning.forced_tile(tile):
        return loss(x, t, reduction="mean")


def tune_classes(dtypes, quick, on_gpu, device):
    """Rows (``_row``) of the winning tiles: every candidate tile timed for forward + backward 'mean'
    (on the CPU only the heuristic tile runs, once, untimed)."""
    rows = []
    elements = (1 << 22 if quick else 1 << 24) if on_gpu else 1 << 10
    for dtype in dtypes:
        for kind, classes in CLASS_CASES:
            x, t = _class_inputs(kind, classes, elements, dtype, device)
            layout = tuning.rows_layout(x, x)
            for kernel_name, loss in CLASS_KERNELS:
                candidates = (
                    tuning.tile_candidates(classes, layout)
                    if on_gpu
                    else [tuning.tile_shape(classes, layout, kernel_name, x.element_size())]
                )
                timings = {}
                for tile in candidates:
                    step = functools.partial(_forward_with_tile, loss, x, t, tile)
                    timings[tile] = triton.testing.do_bench(step, return_mode="median") if on_gpu else step() and None
                best = min(timings, key=lambda tile: timings[tile] or 0.0)
                config = dict(zip(("BLOCK_S", "BLOCK_C", "num_warps"), best, strict=True))
                kind = tuning.layout_kind(layout)
                sizes = f"C <= {triton.next_power_of_2(classes)}, {kind}"
                rows.append(
                    _row(kernel_name, tuning.table_key(classes, kind, dtype), sizes, (dtype,), config, timings[best])
                )
    return rows


def print_table(rows, on_gpu):
    """The winners, one line each, columns sized to their contents; on a CPU, the entries a GPU run
    would tune, with the one config the interpreter runs (nothing is timed)."""
    if on_gpu:
        columns = ("kernel", "sizes", "dtypes", "winner", "ms")
    else:
        print(f"*** {CPU_LABEL}: nothing is tuned or timed; on a GPU, tune times the candidates of each entry ***")
        columns = ("kernel", "sizes", "dtypes", "config run here")
    cells = [
        {
            "kernel": row["kernel"],
            "sizes": row["sizes"],
            "dtypes": row["dtypes"],
            "winner": " ".join(f"{k}={v}" for k, v in row["config"].items()),
            "config run here": " ".join(f"{k}={v}" for k, v in row["config"].items()),
            "ms": "-" if row["ms"] is None else f"{row['ms']:.4f}",
        }
        for row in rows
    ]
    widths = {c: max(len(c), *(len(cell[c]) for cell in cells)) for c in columns}
    print("  ".join(c.ljust(widths[c]) if c != "ms" else c.rjust(widths[c]) for c in columns))
    for cell in cells:
        print("  ".join(cell[c].ljust(widths[c]) if c != "ms" else cell[c].rjust(widths[c]) for c in columns))


def save(rows, on_gpu):
    if not on_gpu:
        print("--save: no GPU, so there is no measured table to save (nothing written)")
        return None
    capability = torch.cuda.get_device_capability()
    path = tuning.table_path(capability)
    table = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": __import__("triton").__version__,
    }
    for row in rows:
        if row["kernel"] in TUNED_KERNELS:
            table.setdefault(row["kernel"], {})[row["key"]] = row["config"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")
    return path


def run(args):
    on_gpu = torch.cuda.is_available()
    os.environ["FOCAL_TRITON_CONFIGS"] = "0"  # measure afresh, whatever table is shipped
    dtypes = [DTYPES[d] for d in args.dtype]
    rows = []
    if args.loss in ("sigmoid", "all"):
        rows += tune_sigmoid(dtypes, args.quick, on_gpu, "cuda" if on_gpu else "cpu")
    if args.loss in ("softmax", "all"):
        rows += tune_classes(dtypes, args.quick, on_gpu, "cuda" if on_gpu else "cpu")
    print_table(rows, on_gpu)
    if args.save:
        save(rows, on_gpu)
    return rows
