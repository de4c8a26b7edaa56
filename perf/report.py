"""``focal-triton report``: AOT-compile every kernel x config x dtype and print its resources."""

import json
from concurrent.futures import ThreadPoolExecutor

from .aot import compile_variant, per_element, predicted_of_copy, sass_counts
from .catalog import variants
from .progress import Progress

COLUMNS = (
    "case",
    "kernel",
    "arch",
    "dtype",
    "config",
    "registers",
    "spill_bytes",
    "shared_bytes",
    "warps_per_sm",
    "load_bits",
    "store_bits",
    "bytes_per_element",
    "sass_per_element",
    "mufu_per_element",
    "counted",
    "predicted_of_copy",
)


SASS_ARCH = "sm_90"  # instruction counts are read for the H100 architecture (its budget: docs/without-a-gpu.md)


def rows(archs):
    """One row per kernel x config x dtype x arch, compiling each (a cold cache takes ~35 s per
    architecture), with the SASS counts per element on sm_90 (disassembled on 2 threads)."""
    jobs = [(variant, num_warps, arch) for variant, num_warps in variants() for arch in archs]
    progress = Progress(len(jobs))
    table = []
    for variant, num_warps, arch in jobs:
        usage = compile_variant(variant, int(arch.removeprefix("sm_")), num_warps)
        progress.advance(f"compiled {variant.name} {variant.dtype} num_warps={num_warps} for {arch}")
        config = [f"{k}={variant.constexprs[k]}" for k in ("BLOCK", "BLOCK_S", "BLOCK_C") if k in variant.constexprs]
        table.append(
            {
                "case": variant.case or None,
                "kernel": variant.name,
                "arch": arch,
                "dtype": variant.dtype,
                "config": ",".join([*config, f"num_warps={num_warps}"]),
                **usage,
                "bytes_per_element": variant.bytes_per_element,
            }
        )
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = pool.map(lambda row: sass_counts(row["cubin"]) if row["arch"] == SASS_ARCH else None, table)
        for row, (variant, num_warps, _), count in zip(table, jobs, counts, strict=True):
            del row["cubin"]
            row.update(
                per_element(variant, num_warps, count)
                if count
                else {"sass_per_element": None, "mufu_per_element": None, "counted": None}
            )
            row["predicted_of_copy"] = predicted_of_copy(
                row["bytes_per_element"], row["sass_per_element"], row["mufu_per_element"]
            )
    return table


def print_table(table):
    widths = {c: max(len(c), *(len(str(r[c])) for r in table)) for c in COLUMNS}
    print("  ".join(c.ljust(widths[c]) for c in COLUMNS))
    for row in table:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in COLUMNS))
    print(
        "\nsass_per_element (sm_90): static SASS instructions over the logits one thread handles in a pass, "
        "counted over\nthe loop body of a grid-stride kernel ('loop body': its steady state) or the whole kernel "
        "(a loop body\ncounts once); mufu_per_element: the special-function (MUFU) ones; warps_per_sm: warps "
        "resident per SM\n(registers, shared memory, warps); predicted_of_copy: min(1, 7.78 B / SASS, 7.78 B / "
        "(8 MUFU)), the H200's\nissue budget (~33.4 T thread-instructions/s against ~4.3 TB/s) at B = "
        "bytes_per_element (the ideal traffic)."
    )


def run(archs, as_json):
    table = rows(archs)
    if as_json:
        print(json.dumps(table, indent=1))
    else:
        print_table(table)
        spills = sum(r["spill_bytes"] > 0 for r in table)
        print(f"\n{len(table)} compilations, {spills} with spills (compiled ahead of time: no GPU needed)")
    return table
