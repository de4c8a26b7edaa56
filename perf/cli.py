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

    if not os.path.isfile(args.csv):
        args.parser.error(f"{args.csv}: no such file (expected a results CSV that focal-triton bench wrote)")
    if not args.csv.endswith(".csv"):
        args.parser.error(f"{args.csv}: expected a results CSV that focal-triton bench wrote (the .csv beside it)")
    try:
        paths = plot_results(args.csv, args.out)
    except (KeyError, ValueError) as error:
        args.parser.error(f"{args.csv}: not a results CSV of focal-triton bench ({error!r} missing or malformed)")
    for path in paths:
        print(f"wrote {path}")
    return 0


def _report(args):
    _rerun_with_interpreter(False)  # AOT compilation needs compiled, not interpreted, kernels
    from .report import run

    run(args.arch, args.json)
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


BENCH_LOSSES = (
    "sigmoid",
    "softmax",
    "head",
    "varifocal",
    "matchability_aware",
    "ia_bce",
    "quality_focal",
    "distribution_focal",
)


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


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows a default where there is one to show (not None, not a flag's False, not
    where the help already says it)."""

    def _get_help_string(self, action):
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


ARCHS = ("sm_80", "sm_90")


def build_parser():
    parser = argparse.ArgumentParser(prog="focal-triton", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    with_defaults = {"formatter_class": _DefaultsFormatter}
    dtypes = comma_list(DTYPES, DTYPE_ALIASES)

    bench = commands.add_parser(
        "bench", help="time focal_triton, eager and torch.compile over sizes; CSV + plots", **with_defaults
    )
    bench.add_argument(
        "--loss",
        type=comma_list(BENCH_LOSSES, {"all": BENCH_LOSSES}),
        default="all",
        help=f"comma-separated, of {', '.join(BENCH_LOSSES)} or all; head: a RetinaNet head call "
        "(class indices, per-anchor weight, normalizer); the family at detection-head shapes (B = 8, "
        "Q in 300 / 8400 / 100000, C = 80; DFL 4 x 8400 x 8 rows of 16 / 17 bins)",
    )
    bench.add_argument(
        "--dtype",
        type=dtypes,
        default=None,
        help="comma-separated logits dtypes (aliases fp32, bf16, fp16); default: all three "
        "on a GPU, float32 for the CPU smoke run",
    )
    bench.add_argument(
        "--mode", type=comma_list(MODES, {"both": MODES}), default="fwd,fwd_bwd", help="fwd (no grad), fwd_bwd or both"
    )
    bench.add_argument(
        "--sizes",
        type=size_list,
        default=None,
        help="comma-separated numbers of logits (default: a sweep of sizes per series)",
    )
    bench.add_argument(
        "--providers",
        type=comma_list(PROVIDERS, {"triton": "focal_triton"}),
        default="focal_triton,eager,compile",
        help="what to time, of focal_triton (alias triton), eager, compile",
    )
    bench.add_argument("--out", default="bench-out", help="folder for results.csv and the plots")
    bench.add_argument("--quick", action="store_true", help="fewer sizes and dtype pairs (implied without CUDA)")
    bench.set_defaults(handler=_bench, parser=bench)

    tune = commands.add_parser(
        "tune", help="autotune the kernels per size bucket and dtype; print the winners", **with_defaults
    )
    tune.add_argument(
        "--loss",
        choices=("sigmoid", "softmax", "all"),
        default="all",
        help="sigmoid: the element-wise kernel's BLOCK and num_warps (same-shape targets, the varifocal "
        "loss against dense targets); softmax: the tiles of the multiclass kernels (the softmax loss, the "
        "sigmoid loss over class indices, which the head and the family's class-index forms run); the "
        "soft-target kernel (label smoothing, dense targets) and DFL keep their heuristic tiles",
    )
    tune.add_argument(
        "--dtype",
        type=dtypes,
        default="float32,bfloat16,float16",
        help="comma-separated logits dtypes (aliases fp32, bf16, fp16)",
    )
    tune.add_argument("--quick", action="store_true", help="fewer size buckets")
    tune.add_argument("--save", action="store_true", help="write the table as focal_triton/configs/sm<arch>.json")
    tune.set_defaults(handler=_tune, parser=tune)

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
    plot.set_defaults(handler=_plot, parser=plot)

    report = commands.add_parser(
        "report",
        help="AOT-compile every kernel x config x dtype; print registers, "
        "spills, shared memory, widest loads/stores and the bytes model",
        **with_defaults,
    )
    report.add_argument(
        "--arch",
        type=comma_list(ARCHS, {"sm80": "sm_80", "sm90": "sm_90", "all": ARCHS}),
        default="sm_80,sm_90",
        help=f"comma-separated targets, of {', '.join(ARCHS)} (aliases sm80, sm90, all)",
    )
    report.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    report.set_defaults(handler=_report, parser=report)
    return parser


def main(argv=None):
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the subcommand's own parser, with its usage
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
