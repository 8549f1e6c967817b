"""The tensors a checkpoint stores, and the small readers every format shares.

``Stored`` is one tensor as the checkpoint holds it (safetensors dtype and shape, ``count`` of
them for per-expert tensors) and ``Checkpoint`` the whole set with its bytes; the helpers read a
``quantization_config`` field with a one-line error naming it. The formats themselves live in
``quant.py`` and ``compressed_tensors.py``.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod

from .shapes import Param

# Bits per element of each safetensors dtype.
ST_BITS = {"F64": 64, "I64": 64, "F32": 32, "I32": 32, "F16": 16, "BF16": 16, "I16": 16,
           "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8, "I8": 8, "U8": 8, "BOOL": 8}
MODEL_ST = {"bf16": "BF16", "fp16": "F16", "fp32": "F32"}


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, kw_only=True)
class Stored:
    """One tensor as the checkpoint stores it (``count`` identical ones for per-expert tensors)."""

    name: str
    dtype: str                 # safetensors dtype
    shape: tuple[int, ...]
    count: int
    source: Param              # the logical tensor it stores (or a scale / zero point of)

    @property
    def nbytes(self) -> int:
        return self.count * _cdiv(prod(self.shape) * ST_BITS[self.dtype], 8)


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """A model's checkpoint: format label, logical parameter count and stored tensors."""

    format: str
    param_count: int
    tensors: tuple[Stored, ...]
    model_dtype: str

    @property
    def weight_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    def by_part(self) -> dict[str, int]:
        """Bytes per part (embeddings, attention, mlp, experts, vision, other)."""
        out: dict[str, int] = {}
        for t in self.tensors:
            out[t.source.part] = out.get(t.source.part, 0) + t.nbytes
        return out

    def stored_dtypes(self, suffix: str) -> dict[str, tuple[Param, frozenset[str]]]:
        """Each logical tensor whose name ends in ``suffix``, with the safetensors dtypes it is
        stored in (a quantized one's scales included): how engines tell a quantized weight."""
        out: dict[str, tuple[Param, set[str]]] = {}
        for t in self.tensors:
            if t.source.name.endswith(suffix):
                out.setdefault(t.source.name, (t.source, set()))[1].add(t.dtype)
        return {name: (p, frozenset(d)) for name, (p, d) in out.items()}

    def by_dtype(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.tensors:
            out[t.dtype] = out.get(t.dtype, 0) + t.nbytes
        return out


def _module(p: Param) -> str:
    """The module a weight belongs to, as exclusion lists name it (expert index 0 stands for all)."""
    name = p.name.replace("{e}", "0")
    for suffix in (".weight", ".bias"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _quantizable(p: Param) -> bool:
    return p.role in ("linear", "expert") and len(p.shape) == 2


def _list(qc: dict, key: str) -> list[str]:
    value = qc.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"quantization_config.{key}: expected a list of module names")
    return value


def _qint(qc: dict, key: str, default: int | None = None, *, allowed: tuple[int, ...] = ()) -> int:
    value = qc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or (allowed and value not in allowed):
        want = f" one of {', '.join(map(str, allowed))}" if allowed else " an integer"
        raise ValueError(f"quantization_config.{key}: expected{want}, got {value!r}")
    return value


def _group(qc: dict, key: str, default: int | None = None, *, alias: str | None = None) -> int:
    """A group size: -1 (one group per row) or 1 … 2**20 elements."""
    value = qc.get(key, qc.get(alias, default) if alias else default)
    if isinstance(value, bool) or not isinstance(value, int) or not (value == -1 or 1 <= value <= 1 << 20):
        raise ValueError(f"quantization_config.{key}: expected -1 or a group size from 1 to "
                         f"{1 << 20}, got {value!r}")
    return value


def _plain(p: Param, model_st: str) -> list[Stored]:
    dtype = MODEL_ST[p.dtype] if p.dtype else model_st
    return [Stored(name=p.name, dtype=dtype, shape=p.shape, count=p.count, source=p)]


def _t(p: Param, suffix: str, dtype: str, shape: tuple[int, ...]) -> Stored:
    base = p.name[: -len(".weight")] if p.name.endswith(".weight") else p.name
    return Stored(name=f"{base}.{suffix}" if p.name.endswith(".weight") else f"{base}_{suffix}",
                  dtype=dtype, shape=shape, count=p.count, source=p)


# ---- one function per format: (param, config, model safetensors dtype) -> stored tensors ----
