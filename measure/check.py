"""Measure allocated caches against the calculator: expected / measured / match, per layer group.

Measured bytes are the sum of the allocated tensors' storages (``untyped_storage().nbytes()``);
on CUDA the allocator's ``memory_allocated`` delta is reported beside it (it rounds each block to
512 bytes). A group too big for the device is measured on a subset of layers and sequences,
checked for linear scaling between two sizes, and extrapolated; the row says so.
"""
from __future__ import annotations

import gc
import weakref
from dataclasses import asdict, dataclass

import torch

from calculator.dtypes import get_dtype
from calculator.specs import ModelSpec
from calculator.totals import kv_cache_bytes

from .alloc import allocate_layer, check_device_dtype

MARGIN = 0.5  # use at most this fraction of what the device reports free


@dataclass(frozen=True, kw_only=True)
class Row:
    model: str
    group: str
    kind: str
    layers: int
    device: str
    kv_dtype: str
    layout: str
    batch: int
    context: int
    expected_bytes: int
    measured_bytes: int
    allocator_bytes: int | None   # CUDA memory_allocated delta (512-byte blocks)
    reserved_bytes: int | None    # CUDA memory_reserved delta (the caching allocator's segments)
    match: bool
    extrapolated: bool
    measured_fraction: str  # "k/n" layer-sequences actually allocated

    def as_dict(self) -> dict:
        return asdict(self)


def resolve_device(name: str) -> torch.device:
    """'auto' → cuda, then mps, then cpu; asking for a missing device is a ``ValueError``."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: cuda was asked for but torch sees no CUDA device")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device: mps was asked for but is not available")
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device: must be auto, cpu, cuda or mps, got {name!r}")
    return torch.device(name)


def free_bytes(device: torch.device) -> int:
    """What the device can hold now, with a safety margin."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * MARGIN)
    if device.type == "mps":
        return int((torch.mps.recommended_max_memory() - torch.mps.current_allocated_memory()) * MARGIN)
    with open("/proc/meminfo", encoding="ascii") as f:
        info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
    return int(info["MemAvailable"] * MARGIN)


def storage_bytes(tensors: list[torch.Tensor]) -> int:
    """Bytes of the distinct storages behind ``tensors``."""
    seen: dict[int, int] = {}
    for t in tensors:
        s = t.untyped_storage()
        seen[s.data_ptr()] = s.nbytes()
    return sum(seen.values())


def _allocated(device: torch.device) -> int | None:
    return torch.cuda.memory_allocated(device) if device.type == "cuda" else None


def _reserved(device: torch.device) -> int | None:
    return torch.cuda.memory_reserved(device) if device.type == "cuda" else None


def _measure(spec, layers: int, batch: int, **kw) -> tuple[int, int | None, int | None]:
    """Allocate ``layers`` layers × ``batch`` sequences, measure, free, and check for leaks.

    Returns (storage bytes, CUDA allocated delta, CUDA reserved delta)."""
    device = kw["device"]
    before, reserved_before = _allocated(device), _reserved(device)
    tensors = [t for _ in range(layers) for t in allocate_layer(spec, batch=batch, **kw)]
    measured = storage_bytes(tensors)
    after, reserved_after = _allocated(device), _reserved(device)
    refs = [weakref.ref(t) for t in tensors]
    del tensors
    gc.collect()
    if any(r() is not None for r in refs) or _allocated(device) != before:
        raise RuntimeError("leak: cache tensors still alive after freeing")
    if device.type == "cuda":
        return measured, after - before, reserved_after - reserved_before
    return measured, None, None


def measure_model(model: ModelSpec, *, context: int, batch: int = 1, dtype: str = "bf16",
                  layout: str = "contiguous", block_size: int = 16, device: str = "auto",
                  budget: int | None = None) -> list[Row]:
    """One row per layer group plus a 'total' row; extrapolates groups that don't fit."""
    dev = resolve_device(device)
    kv = get_dtype(dtype)
    check_device_dtype(kv, dev)
    calc_layout = "theoretical" if layout == "contiguous" else layout
    expected = kv_cache_bytes(model, context, batch, kv, layout=calc_layout, block_size=block_size)
    budget = free_bytes(dev) if budget is None else budget
    kw = dict(context=context, dtype=kv, layout=layout, block_size=block_size, device=dev)
    rows = []
    for g, exp in zip(model.groups, expected.groups):
        want = exp.kv_bytes + exp.state_bytes
        unit = want // (g.count * batch)  # one layer of one sequence
        if want <= budget:
            measured, alloc, reserved = _measure(g.spec, g.count, batch, **kw)
            fraction, extrapolated = f"{g.count * batch}/{g.count * batch}", False
        else:
            if unit > budget:
                raise ValueError(f"context: one layer of one sequence needs {unit:,} bytes; "
                                 f"{dev} has {budget:,} to spare")
            # Largest subset that fits: k layers × b sequences; then check linear scaling.
            b = max(1, min(batch, budget // (unit * g.count)))
            k = max(1, min(g.count, budget // (unit * b)))
            m1, _, _ = _measure(g.spec, 1, 1, **kw)
            mk, alloc, reserved = _measure(g.spec, k, b, **kw)
            if mk != m1 * k * b:
                raise RuntimeError(f"{g.spec.label()}: bytes not linear ({mk} != {m1}·{k}·{b})")
            measured = mk // (k * b) * g.count * batch
            alloc = None if alloc is None else alloc // (k * b) * g.count * batch
            reserved = None  # segment reuse does not scale; not extrapolated
            fraction, extrapolated = f"{k * b}/{g.count * batch}", True
        rows.append(Row(model=model.name, group=g.spec.label(), kind=g.spec.kind, layers=g.count,
                        device=str(dev), kv_dtype=kv.name, layout=layout, batch=batch,
                        context=context, expected_bytes=want, measured_bytes=measured,
                        allocator_bytes=alloc, reserved_bytes=reserved, match=measured == want,
                        extrapolated=extrapolated, measured_fraction=fraction))
    allocs = [r.allocator_bytes for r in rows]
    rows.append(Row(model=model.name, group="total", kind="total", layers=model.num_layers,
                    device=str(dev), kv_dtype=kv.name, layout=layout, batch=batch, context=context,
                    expected_bytes=expected.total_bytes,
                    measured_bytes=sum(r.measured_bytes for r in rows),
                    allocator_bytes=None if None in allocs else sum(allocs),
                    reserved_bytes=None if None in [r.reserved_bytes for r in rows]
                    else sum(r.reserved_bytes for r in rows),
                    match=sum(r.measured_bytes for r in rows) == expected.total_bytes,
                    extrapolated=any(r.extrapolated for r in rows),
                    measured_fraction="/".join(r.measured_fraction for r in rows)))
    return rows
