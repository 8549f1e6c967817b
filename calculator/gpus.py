"""A small catalogue of accelerators and their memory, plus parsing of custom sizes.

Capacities are the nominal figure on the product sheet, counted in GiB (HBM and GDDR parts are
binary-sized). The driver reports somewhat less (an H100 80GB shows about 79.2 GiB); the
memory-utilization fraction in ``capacity`` covers that and the runtime's own overhead.
"""
from __future__ import annotations

import re

GIB = 1 << 30

GPUS: dict[str, int] = {
    "H100 80GB": 80 * GIB,
    "H200 141GB": 141 * GIB,
    "A100 40GB": 40 * GIB,
    "A100 80GB": 80 * GIB,
    "L40S 48GB": 48 * GIB,
    "RTX 4090 24GB": 24 * GIB,
    "B200 180GB": 180 * GIB,
    "MI300X 192GB": 192 * GIB,
}

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(gib|gb|tib|tb|mib|mb)", re.IGNORECASE)
_SCALE = {"mib": 1 << 20, "gib": GIB, "tib": 1 << 40, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def gpu_memory(name: str) -> int:
    """Bytes of a catalogue GPU (case-insensitive, spaces optional) or a size like '96GiB'."""
    if not isinstance(name, str):
        raise ValueError(f"gpu: expected a name or a size, got {name!r}")
    key = name.replace(" ", "").lower()
    for gpu, size in GPUS.items():
        if gpu.replace(" ", "").lower() == key or gpu.split()[0].lower() == key:
            if gpu.split()[0].lower() == key and sum(g.split()[0].lower() == key for g in GPUS) > 1:
                raise ValueError(f"gpu: {name!r} is ambiguous; say e.g. 'A100 80GB'")
            return size
    size = _size(name)
    if size is not None:
        return size
    raise ValueError(f"gpu: unknown {name!r}; use one of {', '.join(GPUS)} or a size like '96GiB'")


def _size(text: str) -> int | None:
    match = _SIZE.fullmatch(text.strip())
    if match:
        whole, _, frac = match.group(1).partition(".")
        scale = _SCALE[match.group(2).lower()]
        size = int(whole) * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        if 0 < size <= 1 << 50:
            return size
    return None


def parse_memory(text: object, field: str = "kv-memory") -> int:
    """Bytes from '37.5GiB', '40GB', '512MiB' or a plain byte count (1 B to 1 PiB)."""
    if isinstance(text, int) and not isinstance(text, bool) and 0 < text <= 1 << 50:
        return text
    if isinstance(text, str):
        t = text.strip().replace(",", "").replace("_", "")
        if t.isdigit() and 0 < int(t) <= 1 << 50:
            return int(t)
        size = _size(t)
        if size is not None:
            return size
    raise ValueError(f"{field}: give a size like 37.5GiB, 40GB or a byte count, got {text!r}")
