"""The focal-triton command end to end with tiny sizes (CPU: the interpreter, labelled as such)."""

import csv
import json
import os
import subprocess
import sys

import pytest
import torch
from focal_triton.perf.bench import Case, ideal_bytes
from focal_triton.perf.launches import captured_launches

import focal_triton as ft


def focal_triton_cli(*args, cwd=None):
    done = subprocess.run(
        [sys.executable, "-m", "focal_triton.perf.cli", *args], capture_output=True, text=True, cwd=cwd, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    # torch.compile of the baselines is left out: on a fresh machine Inductor builds its C++ for
    # every series (~35 s); the compile provider's wiring is checked by test_loss_functions below
    # one series of each kind of launch (the element-wise, softmax, class-index and soft-target kernels);
    # test_loss_functions below checks the wiring of the others
    stdout = focal_triton_cli(
        "bench",
        "--loss",
        "sigmoid,softmax,head,distribution_focal",
        "--dtype",
        "float32",
        "--mode",
        "fwd_bwd",
        "--sizes",
        "1024",
        "--providers",
        "focal_triton,eager",
        "--out",
        str(out),
    )
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return out, stdout, json.loads((out / "results.json").read_text()), rows


def test_bench_writes_plain_csv_a_sidecar_and_plots(bench_run):
    out, _, sidecar, rows = bench_run
    numpy = pytest.importorskip("numpy")
    table = numpy.genfromtxt(out / "results.csv", delimiter=",", names=True, dtype=float)
    assert len(table) == len(rows) and (table["time_ms"] > 0).all()  # the first line is the header
    assert set(sidecar["columns"]) == set(rows[0]) and "ideal" in sidecar["bytes_model"]
    assert sidecar["device"] == rows[0]["device"] and sidecar["arguments"]["sizes"] == [1024]
    assert {row["provider"] for row in rows} == {"focal_triton", "eager"}
    assert {row["loss"] for row in rows} == {"sigmoid", "softmax", "head", "distribution_focal"}
    assert {row["reduction"] for row in rows} == {"mean", "none"}
    assert {row["reduction"] for row in rows if row["loss"] in {"head", "distribution_focal"}} == {"mean"}
    plots = ("speedup.png",) + (("bandwidth.png", "memory.png") if torch.cuda.is_available() else ())
    for name in plots:
        assert (out / name).stat().st_size > 10_000
    for row in rows:
        assert float(row["time_ms"]) > 0 and float(row["gbps"]) > 0
        assert row["device"] and row["torch"] == torch.__version__ and row["triton"]
    ours = [row for row in rows if row["provider"] == "focal_triton"]
    assert all(float(row["max_error_vs_reference"]) < 1e-4 for row in ours)
    assert all(row["config"] for row in ours)
    timers = {"cudagraph", "do_bench"} if torch.cuda.is_available() else {"wall clock"}
    assert {row["timer"] for row in rows} <= timers


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU run is the one labelled")
def test_bench_labels_cpu_runs_and_leaves_out_what_has_no_meaning_there(bench_run):
    out, stdout, sidecar, rows = bench_run
    label = "CPU / interpreter: not a GPU measurement"
    assert sidecar["note"] == label and label in stdout
    assert all(row["note"] == label for row in rows)
    assert not (out / "memory.png").exists()  # no allocator statistics on the CPU
    assert not (out / "bandwidth.png").exists()  # the interpreter's GB/s mean nothing
    assert "GB/s" not in stdout and "nan" not in stdout and "of copy" not in stdout


def test_plot_draws_a_saved_run_again(bench_run, tmp_path):
    out, _, _, rows = bench_run
    saved = tmp_path / "sigmoid-results.csv"
    kept = [row for row in rows if row["loss"] == "sigmoid"]  # two series: enough, and quick to draw
    with open(saved, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(kept[0]))
        writer.writeheader()
        writer.writerows(kept)
    stdout = focal_triton_cli("plot", str(saved))
    assert (tmp_path / "sigmoid-speedup.png").stat().st_size > 10_000
    assert "sigmoid-speedup.png" in stdout


def test_loss_functions_time_the_compiled_baseline():
    """The compile provider is torch.compile of the very eager baseline, built once per baseline."""
    from focal_triton.perf.bench import Case, loss_functions

    cache = {}
    cases = (
        ("sigmoid", "uint8", (64,)),
        ("softmax", "index", (8, 5)),
        ("head", "index", (8, 80)),
        ("varifocal", "index", (8, 80)),
        ("matchability_aware", "index", (8, 80)),
        ("ia_bce", "index", (8, 80)),
        ("quality_focal", "index", (8, 80)),
        ("distribution_focal", "distance", (8, 17)),
    )
    for loss, target, shape in cases:
        functions = loss_functions(Case(loss, torch.float32, target, "fwd_bwd", "mean", shape), cache)
        assert set(functions) == {"focal_triton", "eager", "compile"}
        assert cache[functions["eager"]] is functions["compile"]
        assert functions["compile"] is not functions["eager"] and callable(functions["compile"])


def test_every_series_is_one_registry_entry_the_command_offers():
    """``bench --loss`` offers exactly the series of the registry, each with a shape of every kind."""
    from focal_triton.perf.bench import SERIES, make_cases
    from focal_triton.perf.cli import BENCH_LOSSES

    assert tuple(SERIES) == BENCH_LOSSES
    for name, series in SERIES.items():
        cases = make_cases([name], [torch.float32], ["fwd_bwd"], quick=True, on_gpu=True, requested_sizes=None)
        assert cases and all(ideal_bytes(case) > 0 and case.series.startswith(series.label(case)) for case in cases)


def test_panels_follow_the_docs_order_of_the_losses():
    from focal_triton.perf.plots import series_order

    rows = [
        {"loss": loss, "shape": "8x80", "dtype": "float32", "target": "index", "mode": "fwd", "reduction": "mean"}
        for loss in (
            "distribution_focal",
            "head",
            "matchability_aware",
            "softmax",
            "varifocal",
            "sigmoid",
            "quality_focal",
        )
    ]
    ordered = [row["loss"] for row in sorted(rows, key=series_order)]
    assert ordered == [
        "sigmoid",
        "softmax",
        "head",
        "varifocal",
        "matchability_aware",
        "quality_focal",
        "distribution_focal",
    ]


def test_panels_sort_class_counts_as_numbers():
    from focal_triton.perf.plots import series_order

    def row(shape, dtype="float32", mode="fwd_bwd"):
        loss = "softmax" if "x" in shape else "sigmoid"
        return {"loss": loss, "shape": shape, "dtype": dtype, "target": "index", "mode": mode, "reduction": "mean"}

    shapes = ["8x21x64x64", "64x1000", "1024x2", "4096", "16x80"]
    assert sorted(shapes, key=lambda shape: series_order(row(shape))) == [
        "4096",
        "1024x2",
        "16x80",
        "64x1000",
        "8x21x64x64",
    ]
    assert series_order(row("16x80", "float16")) > series_order(row("16x80", "bfloat16"))
    assert series_order(row("16x80", mode="fwd")) < series_order(row("16x80"))


def test_tune_prints_the_winners_and_saves_only_measurements():
    on_gpu = torch.cuda.is_available()  # on a GPU --save would replace the shipped table: not from a test
    before = _shipped_tables()
    stdout = focal_triton_cli("tune", "--loss", "all", "--dtype", "float32", "--quick", *([] if on_gpu else ["--save"]))
    assert "sigmoid_focal_fwd" in stdout and "softmax_focal_fwd" in stdout
    assert "n <= 2^" in stdout and "C <= 128, classes-contiguous" in stdout  # readable keys
    table = [line for line in stdout.splitlines() if line.startswith(("kernel ", "sigmoid_", "softmax_"))]
    config = table[0].index("winner" if on_gpu else "config run here")  # on a CPU nothing wins: no winner column
    assert len(table) > 3 and all(line[config - 2 : config] == "  " and line[config] != " " for line in table)
    if not on_gpu:
        assert "winner" not in stdout and " ms" not in table[0] and "nothing is tuned or timed" in stdout
        assert "nothing written" in stdout
    assert _shipped_tables() == before


def _shipped_tables():
    import focal_triton

    folder = os.path.join(os.path.dirname(focal_triton.__file__), "configs")
    return {name: open(os.path.join(folder, name)).read() for name in sorted(os.listdir(folder))}


@pytest.mark.parametrize(
    "case,per_element",
    [
        (Case("sigmoid", torch.float32, "float", "fwd_bwd", "mean", (1 << 20,)), 12),  # read x, t; write grad
        (Case("sigmoid", torch.bfloat16, "uint8", "fwd_bwd", "mean", (1 << 20,)), 5),
        (Case("sigmoid", torch.float32, "float", "fwd", "mean", (1 << 20,)), 8),
        (Case("sigmoid", torch.bfloat16, "uint8", "fwd", "mean", (1 << 20,)), 3),
        (Case("softmax", torch.float32, "index", "fwd_bwd", "mean", (1024, 80)), 8 + 8 / 80),  # + int64 per row
        (Case("softmax", torch.float32, "index", "fwd_bwd", "mean", (16, 32000)), 8 + 8 / 32000),  # one read
        (Case("softmax", torch.float32, "index", "fwd", "mean", (16, 32000)), 4 + 8 / 32000),  # no gradient: one read
        (Case("sigmoid", torch.float32, "float", "fwd_bwd", "none", (1 << 20,)), 20),  # + loss, grad_output
        # the RetinaNet head call: read x, write grad; an int64 index and a float32 weight per anchor
        (Case("head", torch.bfloat16, "index", "fwd_bwd", "mean", (1024, 80)), 4 + 12 / 80),
        (Case("head", torch.float32, "index", "fwd", "mean", (1024, 80)), 4 + 12 / 80),
        # the family: an int64 index and a float32 score per row (VFL, QFL), a float32 distance (DFL)
        (Case("varifocal", torch.bfloat16, "index", "fwd_bwd", "mean", (2400, 80)), 4 + 12 / 80),
        (Case("quality_focal", torch.float32, "index", "fwd_bwd", "mean", (2400, 80)), 8 + 12 / 80),
        (Case("distribution_focal", torch.float32, "distance", "fwd_bwd", "mean", (268800, 17)), 8 + 4 / 17),
    ],
)
def test_bytes_model(case, per_element):
    assert ideal_bytes(case) == pytest.approx(per_element * case.elements)


def test_cli_lists_take_aliases_and_refuse_unknown_names(capsys):
    from focal_triton.perf.cli import build_parser

    args = build_parser().parse_args(
        [
            "bench",
            "--dtype",
            "fp32,bf16",
            "--mode",
            "both",
            "--providers",
            "triton",
            "--sizes",
            "4096,65536",
            "--loss",
            "head,varifocal",
        ]
    )
    assert args.loss == ["head", "varifocal"]
    assert build_parser().parse_args(["bench"]).loss == [
        "sigmoid",
        "softmax",
        "head",
        "varifocal",
        "matchability_aware",
        "ia_bce",
        "quality_focal",
        "distribution_focal",
    ]
    assert args.dtype == ["float32", "bfloat16"] and args.mode == ["fwd", "fwd_bwd"]
    assert args.providers == ["focal_triton"] and args.sizes == [4096, 65536]
    defaults = build_parser().parse_args(["tune"])
    assert defaults.dtype == ["float32", "bfloat16", "float16"]
    for bad in (["bench", "--dtype", "fp8"], ["bench", "--providers", "cuda"], ["bench", "--sizes", "big"]):
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args(bad)
        assert exit_info.value.code == 2
        assert "expected" in capsys.readouterr().err


def _described(arguments):
    """A launch's arguments with tensors as their dtypes and shapes (the launch config and grid left out)."""
    return {
        name: (value.dtype, tuple(value.shape)) if isinstance(value, torch.Tensor) else value
        for name, value in arguments.items()
        if name not in ("BLOCK", "num_warps", "num_stages", "num_ctas", "grid", "warmup")
    }


@pytest.mark.parametrize("classes", [None, 5])
def test_the_catalog_records_the_arguments_a_real_launch_passes(kernel_launches, classes):
    """``focal-triton report`` compiles what captured_launches records: the same kernels with the
    same arguments as the launches of the same call run for real, and nothing runs."""
    x = torch.randn(64, classes or 3, dtype=torch.float32, requires_grad=True)
    t = torch.randint(0, classes, (64,)) if classes else torch.rand(64, 3)
    ft.sigmoid_focal_loss(x, t, reduction="mean", weight=torch.ones(64, 1))
    real = [(name, _described(arguments)) for name, arguments in kernel_launches]
    kernel_launches.clear()
    with captured_launches() as captured:
        ft.sigmoid_focal_loss(x, t, reduction="mean", weight=torch.ones(64, 1))
    assert kernel_launches == []  # captured, not run
    assert [(launch.name, _described(launch.arguments)) for launch in captured] == real


@pytest.mark.parametrize(
    "args, error",
    [
        (("report", "--arch", "sm90x"), "argument --arch: 'sm90x': expected a comma-separated list of sm_80, sm_90"),
        (("plot", "nonexistent.csv"), "nonexistent.csv: no such file"),
        (("bench", "--quik"), "focal-triton bench: error: unrecognized arguments: --quik"),
        (("tune", "--loss", "head"), "argument --loss: invalid choice: 'head'"),
    ],
)
def test_cli_argument_errors_are_usage_errors(args, error):
    done = subprocess.run(
        [sys.executable, "-m", "focal_triton.perf.cli", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and error in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_plot_refuses_the_json_sidecar_with_a_usage_error(tmp_path):
    sidecar = tmp_path / "results.json"
    sidecar.write_text("{}")
    done = subprocess.run(
        [sys.executable, "-m", "focal_triton.perf.cli", "plot", str(sidecar)], capture_output=True, text=True
    )
    assert done.returncode == 2 and "expected a results CSV" in done.stderr and "Traceback" not in done.stderr


def test_results_json_is_strict_json(bench_run):
    out, _, sidecar, _ = bench_run
    json.loads((out / "results.json").read_text(), parse_constant=lambda name: pytest.fail(f"{name} in results.json"))
    if not torch.cuda.is_available():
        assert sidecar["copy_gbps"] is None  # no copy bandwidth measured on a CPU: null, not NaN
