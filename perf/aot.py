"""Ahead-of-time compilation of the kernels for a GPU architecture, without a GPU.

``triton.compile`` lowers a kernel to PTX and a cubin on any machine (the
triton wheel ships ptxas); ``cuobjdump --dump-resource-usage`` then reads the
registers, stack (spills) and shared memory of the cubin, and the PTX shows
the widest global load and store.
"""

import hashlib
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

TRITON_BIN = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin")
POINTER_TYPES = {
    "float32": "fp32",
    "float16": "fp16",
    "bfloat16": "bf16",
    "float64": "fp64",
    "uint8": "u8",
    "int64": "i64",
    "int32": "i32",
}
_GLOBAL_ACCESS = re.compile(r"\b(ld|st)\.global(?:\.[a-z0-9_:]+)*?(?:\.v(\d))?\.(?:b|f|u|s)(\d+)\b")


@dataclass
class KernelVariant:
    """One kernel with concrete argument types, ready to compile (perf/catalog.py records them
    from the launches).

    pointers: pointer argument -> element dtype name (a key of POINTER_TYPES); ints: integer
    argument -> its value at the launch; floats: the names of the float scalar arguments; every
    other argument is a constexpr given in ``constexprs`` (None for a missing operand, 1 for an
    integer equal to 1, as Triton specialises them).  Pointers are compiled as 16-byte aligned
    (the specialisation Triton makes at run time for torch's allocations); an integer as
    16-divisible when its value is (unless the kernel says ``do_not_specialize``), 64-bit when it
    does not fit in 32 bits or is annotated so, as Triton specialises it, so a row
    of C = 1000 classes or a stride of 2 compiles to the code it runs.
    """

    name: str
    fn: object
    pointers: dict
    constexprs: dict
    ints: dict = field(default_factory=dict)
    floats: tuple = ()
    dtype: str = ""
    bytes_per_element: float = 0
    elements_per_program: int = 0  # logits one program handles per pass (0: not an element-wise walk)
    grid_stride: bool = False  # the program loops over its passes: count the loop body (per_element)
    case: str = ""  # the id under which tests/test_compiled_code.py holds its ceilings, if any

    def source(self):
        signature, attrs, constexprs = {}, {}, dict(self.constexprs)
        for index, arg in enumerate(self.fn.arg_names):
            if arg in self.pointers:
                signature[arg] = "*" + POINTER_TYPES[self.pointers[arg]]
                attrs[(index,)] = [["tt.divisibility", 16]]
            elif arg in self.ints:
                value = self.ints[arg]
                wide = not -(2**31) <= value < 2**31
                signature[arg] = self.fn.params[index].annotation_type or ("i64" if wide else "i32")
                if value % 16 == 0 and not self.fn.params[index].do_not_specialize:  # as Triton specialises it
                    attrs[(index,)] = [["tt.divisibility", 16]]
            elif arg in self.floats:
                signature[arg] = "fp32"
            elif arg in self.constexprs:
                signature[arg] = "constexpr"
            else:
                raise ValueError(f"{self.name}: argument {arg!r} has no value")
        return ASTSource(self.fn, signature, constexprs, attrs)


def widest_access_bits(ptx, op):
    """Widest global ``op`` ('ld' or 'st') in the PTX, in bits (vector width x element bits)."""
    widths = [int(v or 1) * int(bits) for kind, v, bits in _GLOBAL_ACCESS.findall(ptx) if kind == op]
    return max(widths, default=0)


def resource_usage(cubin):
    """Registers per thread, spilled (stack + local) bytes and static shared bytes of a cubin."""
    with tempfile.NamedTemporaryFile(suffix=".cubin") as handle:
        handle.write(cubin)
        handle.flush()
        out = subprocess.run(
            [os.path.join(TRITON_BIN, "cuobjdump"), "--dump-resource-usage", handle.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    fields = dict(re.findall(r"(REG|STACK|SHARED|LOCAL):(\d+)", out))
    return {
        "registers": int(fields["REG"]),
        "spill_bytes": int(fields["STACK"]) + int(fields["LOCAL"]),
        "shared_bytes": int(fields["SHARED"]),
    }


# One SASS instruction of ``cuobjdump -sass``: /*0a40*/  @!P0 FFMA R3, R2, R5, R3 ;  (a branch: BRA 0x300)
_SASS_LINE = re.compile(
    r"/\*([0-9a-f]{4,})\*/\s+(?:@!?U?P[T0-9]+\s+)?([A-Z][A-Z0-9_]*)[A-Z0-9_.]*(?:\s+(?:`\()?(0x[0-9a-f]+))?"
)


SASS_CACHE = Path(os.environ.get("TRITON_CACHE_DIR", Path.home() / ".triton" / "cache")) / "focal_triton_sass"


def disassemble(cubin):
    """The cubin's SASS as (address, opcode) pairs, NOPs left out (``cuobjdump -sass``, shipped in
    the triton wheel; ~0.65 s)."""
    with tempfile.NamedTemporaryFile(suffix=".cubin") as handle:
        handle.write(cubin)
        handle.flush()
        out = subprocess.run(
            [os.path.join(TRITON_BIN, "cuobjdump"), "-sass", handle.name], capture_output=True, text=True, check=True
        ).stdout
    return [(int(address, 16), op, target) for address, op, target in _SASS_LINE.findall(out) if op != "NOP"]


def loop_span(instructions):
    """(first, last) address of the outermost loop: the widest backward branch, or None."""
    spans = [
        (int(target, 16), address)
        for address, op, target in instructions
        if op == "BRA" and target and int(target, 16) < address
    ]
    return max(spans, key=lambda span: span[1] - span[0], default=None)


def sass_counts(cubin):
    """(instructions, MUFU instructions, loop instructions, loop MUFU instructions) of a cubin's SASS,
    NOPs left out; the loop ones count the body of its outermost loop (0 without a loop).  Kept on
    disk by the cubin's hash."""
    cached = SASS_CACHE / f"{hashlib.sha256(cubin).hexdigest()}.v2.json"
    if cached.exists():
        return tuple(json.loads(cached.read_text()))
    instructions = disassemble(cubin)
    span = loop_span(instructions)
    loop = [op for address, op, _ in instructions if span and span[0] <= address <= span[1]]
    opcodes = [op for _, op, _ in instructions]
    counts = (
        len(opcodes),
        sum(op.startswith("MUFU") for op in opcodes),
        len(loop),
        sum(op.startswith("MUFU") for op in loop),
    )
    SASS_CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(counts))
    return counts


def per_element(variant, num_warps, counts):
    """{"sass_per_element", "mufu_per_element", "counted"}: static instructions over the logits one
    thread handles in a pass: of the loop body for a grid-stride kernel (``variant.grid_stride``:
    the steady state; its once-per-program prologue and final reduction are left out), else of
    the whole kernel (a loop body counts once); None for kernels that are not element walks."""
    per_thread = variant.elements_per_program / (32 * num_warps)
    if not per_thread:
        return {"sass_per_element": None, "mufu_per_element": None, "counted": None}
    instructions, mufu, loop, loop_mufu = counts
    if variant.grid_stride:
        if not loop:
            raise ValueError(f"{variant.name}: a grid-stride kernel without a loop in its SASS")
        instructions, mufu, counted = loop, loop_mufu, "loop body"
    else:
        counted = "kernel"
    return {
        "sass_per_element": round(instructions / per_thread, 1),
        "mufu_per_element": round(mufu / per_thread, 2),
        "counted": counted,
    }


# Per-SM limits of the occupancy model (CUDA C Programming Guide, "Compute capabilities"): 64K
# registers allocated per warp in 256-register units, 64 warps, 32 blocks, and shared memory of
# 228 KB (sm_90) / 164 KB (sm_80) with 1 KB reserved per block.
SM_REGISTERS, SM_WARPS, SM_BLOCKS = 65536, 64, 32
SM_SHARED = {80: 164 * 1024, 90: 228 * 1024}


def resident_warps(registers, shared_bytes, num_warps, arch):
    """Warps of this kernel resident on one SM at once: blocks limited by registers, warps, blocks
    and shared memory, times the block's warps."""
    warp_registers = -(-registers * 32 // 256) * 256
    blocks = min(
        SM_BLOCKS,
        SM_WARPS // num_warps,
        SM_REGISTERS // (warp_registers * num_warps),
        SM_SHARED[arch] // (shared_bytes + 1024),
    )
    return blocks * num_warps


# The H200's budget (an H100 has the same SMs at ~1.755 GHz and ~3.0 TB/s): 132 SMs x 4 schedulers
# x 32 lanes x ~1.98 GHz = ~33.4 T thread-instructions/s against ~4.3 TB/s copied, so a kernel
# moving B bytes per element is issue-bound above ~7.78 B SASS instructions per element and
# MUFU-bound above ~7.78 B / 8 (the special-function unit issues at 1/8 of the rate).
INSTRUCTIONS_PER_BYTE = 33.4e12 / 4.3e12


def predicted_of_copy(bytes_per_element, sass_per_element, mufu_per_element):
    """The fraction of copy bandwidth the instruction counts allow: min(1, budget / SASS,
    budget / (8 MUFU)), budget = 7.78 x bytes per element."""
    if not sass_per_element or not bytes_per_element:
        return None
    budget = INSTRUCTIONS_PER_BYTE * bytes_per_element
    return round(min(1.0, budget / sass_per_element, budget / (8 * mufu_per_element) if mufu_per_element else 1.0), 2)


def compile_variant(variant, arch, num_warps):
    """Compiles ``variant`` for sm_<arch>; returns its resource usage, widest loads/stores and
    (under "cubin") the cubin itself."""
    options = {"num_warps": num_warps, "enable_fp_fusion": True}  # Triton's run-time default, said explicitly
    compiled = triton.compile(variant.source(), target=GPUTarget("cuda", arch, 32), options=options)
    ptx = compiled.asm["ptx"]
    usage = resource_usage(compiled.asm["cubin"])
    usage["shared_bytes"] = max(usage["shared_bytes"], compiled.metadata.shared)
    usage["warps_per_sm"] = resident_warps(usage["registers"], usage["shared_bytes"], num_warps, arch)
    usage["load_bits"] = widest_access_bits(ptx, "ld")
    usage["store_bits"] = widest_access_bits(ptx, "st")
    usage["cubin"] = compiled.asm["cubin"]
    return usage
