"""Ahead-of-time compilation of the kernels for a GPU architecture, without a GPU.

``triton.compile`` lowers a kernel to PTX and a cubin on any machine (the
triton wheel ships ptxas); ``cuobjdump --dump-resource-usage`` then reads the
registers, stack (spills) and shared memory of the cubin, and the PTX shows
the widest global load and store.
"""

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass

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
    """One kernel with concrete argument types, ready to compile.

    pointers: pointer argument -> element dtype name (a key of POINTER_TYPES);
    ints / floats: names of the integer and float scalar arguments; every other
    argument must be given in ``constexprs``.  All pointers (and the integer
    arguments) are compiled as 16-divisible, the specialisation Triton makes at
    run time for aligned contiguous tensors and lengths that are multiples of 16.
    """

    name: str
    fn: object
    pointers: dict
    constexprs: dict
    ints: tuple = ()
    floats: tuple = ()
    dtype: str = ""
    bytes_per_element: float = 0

    def source(self):
        signature, attrs = {}, {}
        for index, arg in enumerate(self.fn.arg_names):
            if arg in self.pointers:
                signature[arg] = "*" + POINTER_TYPES[self.pointers[arg]]
                attrs[(index,)] = [["tt.divisibility", 16]]
            elif arg in self.ints:
                signature[arg] = self.fn.params[index].annotation_type or "i32"  # i64 where annotated
                attrs[(index,)] = [["tt.divisibility", 16]]
            elif arg in self.floats:
                signature[arg] = "fp32"
            elif arg in self.constexprs:
                signature[arg] = "constexpr"
            else:
                raise ValueError(f"{self.name}: argument {arg!r} has no type (pointers, ints, floats or constexprs)")
        return ASTSource(self.fn, signature, self.constexprs, attrs)


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


def compile_variant(variant, arch, num_warps):
    """Compiles ``variant`` for sm_<arch>; returns its resource usage and widest loads/stores."""
    options = {"num_warps": num_warps, "enable_fp_fusion": True}  # Triton's run-time default, said explicitly
    compiled = triton.compile(variant.source(), target=GPUTarget("cuda", arch, 32), options=options)
    ptx = compiled.asm["ptx"]
    usage = resource_usage(compiled.asm["cubin"])
    usage["shared_bytes"] = max(usage["shared_bytes"], compiled.metadata.shared)
    usage["load_bits"] = widest_access_bits(ptx, "ld")
    usage["store_bits"] = widest_access_bits(ptx, "st")
    return usage
