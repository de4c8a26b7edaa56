"""focal-triton: benchmark, tune and inspect the focal_triton kernels."""

import argparse
import os
import sys


def _rerun_with_interpreter(enabled):
    """Triton reads TRITON_INTERPRET when it is imported: start again with it set
    (``enabled``) or unset, when the current process has it the other way."""
    if (os.environ.get("TRITON_INTERPRET") == "1") == enabled:
        return
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    if enabled:
        env["TRITON_INTERPRET"] = "1"
    os.execve(sys.executable, [sys.executable, "-m", "focal_triton.perf.cli", *sys.argv[1:]], env)


def _cuda_available():
    import torch

    return torch.cuda.is_available()


def _bench(args):
    _rerun_with_interpreter(not _cuda_available())  # CPU: the real kernels through the interpreter
    from .bench import run

    run(args)
    return 0


def _tune(args):
    _rerun_with_interpreter(not _cuda_available())
    from .tune import run

    run(args)
    return 0


def _plot(args):
    from .bench import plot_results

    for path in plot_results(args.csv, args.out):
        print(f"wrote {path}")
    return 0


def _report(args):
    _rerun_with_interpreter(False)  # AOT compilation needs compiled, not interpreted, kernels
    from .report import run

    run(args.arch.split(","), args.json)
    return 0


DTYPES = ("float32", "bfloat16", "float16")
DTYPE_ALIASES = {
    "fp32": "float32",
    "f32": "float32",
    "bf16": "bfloat16",
    "fp16": "float16",
    "f16": "float16",
    "half": "float16",
}
MODES = ("fwd", "fwd_bwd")
PROVIDERS = ("focal_triton", "eager", "compile")


BENCH_LOSSES = ("sigmoid", "softmax", "head", "varifocal", "quality_focal", "distribution_focal")


def comma_list(choices, aliases=None):
    """An argparse type: a comma-separated list of ``choices`` (or their ``aliases``, a name may
    stand for several), as a list; anything else is a usage error naming what is accepted."""
    aliases = aliases or {}

    def parse(text):
        items = []
        for item in filter(None, (part.strip() for part in text.split(","))):
            expanded = aliases.get(item, item)
            items += [expanded] if isinstance(expanded, str) else list(expanded)
        unknown = [item for item in items if item not in choices]
        if unknown or not items:
            accepted = ", ".join([*choices, *aliases])
            raise argparse.ArgumentTypeError(f"{text!r}: expected a comma-separated list of {accepted}")
        return items

    return parse


def size_list(text):
    """Comma-separated numbers of logits, each a positive integer."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated positive integers, e.g. 4096,1048576")
    return sizes


def build_parser():
    parser = argparse.ArgumentParser(prog="focal-triton", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    with_defaults = {"formatter_class": argparse.ArgumentDefaultsHelpFormatter}
    dtypes = comma_list(DTYPES, DTYPE_ALIASES)

    bench = commands.add_parser(
        "bench", help="time focal_triton, eager and torch.compile over sizes; CSV + plots", **with_defaults
    )
    bench.add_argument(
        "--loss",
        type=comma_list(BENCH_LOSSES, {"all": BENCH_LOSSES}),
        default="all",
        help="comma-separated; head: a RetinaNet head call (class indices, per-anchor weight, "
        "normalizer); the family at detection-head shapes (B = 8, Q in 300 / 8400 / 100000, "
        "C = 80; DFL 4 x 8400 x 8 rows of 16 / 17 bins)",
    )
    bench.add_argument(
        "--dtype",
        type=dtypes,
        default=None,
        help="comma-separated logits dtypes (aliases fp32, bf16, fp16); default: all three "
        "on a GPU, float32 for the CPU smoke run",
    )
    bench.add_argument(
        "--mode", type=comma_list(MODES, {"both": MODES}), default="fwd,fwd_bwd", help="fwd (no grad), fwd_bwd, or both"
    )
    bench.add_argument(
        "--sizes", type=size_list, default=None, help="comma-separated numbers of logits (default: a sweep)"
    )
    bench.add_argument(
        "--providers",
        type=comma_list(PROVIDERS, {"triton": "focal_triton"}),
        default="focal_triton,eager,compile",
        help="what to time",
    )
    bench.add_argument("--out", default="bench-out", help="folder for results.csv and the plots")
    bench.add_argument("--quick", action="store_true", help="fewer sizes and dtype pairs (implied without CUDA)")
    bench.set_defaults(handler=_bench)

    tune = commands.add_parser(
        "tune", help="autotune the kernels per size bucket and dtype; print the winners", **with_defaults
    )
    tune.add_argument("--loss", choices=("sigmoid", "softmax", "all"), default="all")
    tune.add_argument(
        "--dtype",
        type=dtypes,
        default="float32,bfloat16,float16",
        help="comma-separated logits dtypes (aliases fp32, bf16, fp16)",
    )
    tune.add_argument("--quick", action="store_true", help="fewer size buckets")
    tune.add_argument("--save", action="store_true", help="write the table as focal_triton/configs/sm<arch>.json")
    tune.set_defaults(handler=_tune)

    plot = commands.add_parser(
        "plot", help="draw the plots of a results CSV again (e.g. the committed perf/results)", **with_defaults
    )
    plot.add_argument("csv", help="a results.csv of bench; its .json sidecar, when there, labels CPU runs")
    plot.add_argument(
        "--out",
        default=None,
        help="folder for the plots (default: the CSV's folder); "
        "X-results.csv gives X-bandwidth.png, ... and results.csv bandwidth.png, ...",
    )
    plot.set_defaults(handler=_plot)

    report = commands.add_parser(
        "report",
        help="AOT-compile every kernel x config x dtype; print registers, "
        "spills, shared memory, widest loads/stores and the bytes model",
        **with_defaults,
    )
    report.add_argument("--arch", default="sm_80,sm_90", help="comma-separated targets")
    report.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    report.set_defaults(handler=_report)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
