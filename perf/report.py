"""``focal-triton report``: AOT-compile every kernel x config x dtype and print its resources."""

import json

from .aot import compile_variant
from .catalog import variants
from .progress import Progress

COLUMNS = (
    "kernel",
    "arch",
    "dtype",
    "config",
    "registers",
    "spill_bytes",
    "shared_bytes",
    "load_bits",
    "store_bits",
    "bytes_per_element",
)


def rows(archs):
    """One row per kernel x config x dtype x arch, compiling each (a cold cache takes ~30 s)."""
    jobs = [(variant, num_warps, arch) for variant, num_warps in variants() for arch in archs]
    progress = Progress(len(jobs))
    for variant, num_warps, arch in jobs:
        usage = compile_variant(variant, int(arch.removeprefix("sm_")), num_warps)
        progress.advance(f"compiled {variant.name} {variant.dtype} num_warps={num_warps} for {arch}")
        yield {
            "kernel": variant.name,
            "arch": arch,
            "dtype": variant.dtype,
            "config": ",".join(
                [f"{k}={variant.constexprs[k]}" for k in ("BLOCK", "BLOCK_S", "BLOCK_C") if k in variant.constexprs]
                + [f"num_warps={num_warps}"]
            ),
            **usage,
            "bytes_per_element": variant.bytes_per_element,
        }


def print_table(table):
    widths = {c: max(len(c), *(len(str(r[c])) for r in table)) for c in COLUMNS}
    print("  ".join(c.ljust(widths[c]) for c in COLUMNS))
    for row in table:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in COLUMNS))


def run(archs, as_json):
    table = list(rows(archs))
    if as_json:
        print(json.dumps(table, indent=1))
    else:
        print_table(table)
        spills = sum(r["spill_bytes"] > 0 for r in table)
        print(f"\n{len(table)} compilations, {spills} with spills (compiled ahead of time: no GPU needed)")
    return table
