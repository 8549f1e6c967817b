"""KV-cache element formats and their exact storage cost, per-group scales included.

A format stores elements in groups: ``group_size`` elements take ``group_bytes`` bytes (payload
plus any per-group scale / zero-point). Plain types are groups of one. Groups run along one
head's vector of one token (llama.cpp blocks of 32 and KIVI-style groups both do), so the cost of
a row of ``n`` elements is ``ceil(n / group_size) * group_bytes`` — a partial group is padded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, kw_only=True)
class KVDtype:
    """One storage format: ``group_size`` elements occupy ``group_bytes`` bytes."""

    name: str
    group_size: int
    group_bytes: int
    description: str
    scale_bytes: int = 0  # of group_bytes, the fp16 scale (and zero-point) per group

    @property
    def payload_bytes(self) -> int:
        """Bytes of packed values per group (group_bytes less the scale)."""
        return self.group_bytes - self.scale_bytes

    @property
    def bits_per_element(self) -> Fraction:
        return Fraction(8 * self.group_bytes, self.group_size)

    def row_bytes(self, elements: int) -> int:
        """Exact bytes of one row (one head of one token) of ``elements`` values."""
        groups = -(-elements // self.group_size)
        return groups * self.group_bytes


def _plain(name: str, nbytes: int, description: str) -> KVDtype:
    return KVDtype(name=name, group_size=1, group_bytes=nbytes, description=description)


def grouped_int(bits: int, group: int) -> KVDtype:
    """int4/int2 with an fp16 scale and an fp16 zero-point per ``group`` elements."""
    if bits not in (2, 4):
        raise ValueError(f"kv dtype: grouped integer width must be 2 or 4 bits, got {bits}")
    per_byte = 8 // bits
    if group < per_byte or group % per_byte or group > 65536:
        raise ValueError(
            f"kv dtype: int{bits} group size must be a multiple of {per_byte} between "
            f"{per_byte} and 65536, got {group}")
    return KVDtype(name=f"int{bits}_g{group}", group_size=group,
                   group_bytes=group // per_byte + 4, scale_bytes=4,
                   description=f"int{bits}, fp16 scale + fp16 zero per {group} elements")


DTYPES: dict[str, KVDtype] = {d.name: d for d in (
    _plain("fp32", 4, "IEEE float32"),
    _plain("fp16", 2, "IEEE float16"),
    _plain("bf16", 2, "bfloat16"),
    _plain("fp8_e4m3", 1, "float8 e4m3 (per-tensor scale, not counted)"),
    _plain("fp8_e5m2", 1, "float8 e5m2 (per-tensor scale, not counted)"),
    _plain("int8", 1, "int8 (per-tensor scale, not counted)"),
    KVDtype(name="q8_0", group_size=32, group_bytes=34,
            description="llama.cpp q8_0: 32 int8 + fp16 scale = 8.5 bits", scale_bytes=2),
    KVDtype(name="q4_0", group_size=32, group_bytes=18,
            description="llama.cpp q4_0: 32 int4 + fp16 scale = 4.5 bits", scale_bytes=2),
    grouped_int(4, 128),
    grouped_int(2, 128),
)}

ALIASES = {
    "float32": "fp32", "float": "fp32", "float16": "fp16", "half": "fp16",
    "bfloat16": "bf16", "fp8": "fp8_e4m3", "float8_e4m3fn": "fp8_e4m3", "e4m3": "fp8_e4m3",
    "float8_e5m2": "fp8_e5m2", "e5m2": "fp8_e5m2", "int4": "int4_g128", "int2": "int2_g128",
}

_GROUPED = re.compile(r"int([24])[_-]g(\d{1,6})")


def get_dtype(name: object) -> KVDtype:
    """Look a format up by name or alias; ``int4_g64`` style names build grouped formats."""
    if isinstance(name, KVDtype):
        return name
    if not isinstance(name, str):
        raise ValueError(f"kv dtype: expected a name such as 'bf16', got {name!r}")
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key in DTYPES:
        return DTYPES[key]
    match = _GROUPED.fullmatch(key)
    if match:
        return grouped_int(int(match.group(1)), int(match.group(2)))
    known = ", ".join(list(DTYPES) + ["int4_gN", "int2_gN"])
    raise ValueError(f"kv dtype: unknown {name!r}; known: {known}")


def model_dtype_name(value: object) -> str:
    """Map a config's ``torch_dtype`` string to a format name (bf16 when absent)."""
    if value is None:
        return "bf16"
    if not isinstance(value, str):
        raise ValueError(f"torch_dtype: expected a string such as 'bfloat16', got {value!r}")
    try:
        name = get_dtype(value).name
    except ValueError:
        raise ValueError(f"torch_dtype: unknown {value!r}") from None
    if name not in ("fp32", "fp16", "bf16"):  # weights and state are in a float dtype, not q8_0
        raise ValueError(f"torch_dtype: {value!r} is no model dtype (float32, float16 or bfloat16)")
    return name
