"""Integer fields of a config.json, checked: one ``ValueError`` whose message starts with the
field's name for a missing, non-integer or out-of-range value. Shared by the config reader
(``hf_config``), its per-layer pattern (``layer_pattern``) and its state specs (``state_specs``).
"""
from __future__ import annotations

MAX_LAYERS = 10_000
MAX_DIM = 1 << 24


def int_field(cfg: dict, key: str, *, lo: int = 1, hi: int = MAX_DIM) -> int:
    value = cfg.get(key)
    if value is None:
        raise ValueError(f"{key}: missing from config")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key}: must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{key}: must be between {lo} and {hi}, got {value}")
    return value


def opt_int_field(cfg: dict, key: str, **kw: int) -> int | None:
    return None if cfg.get(key) is None else int_field(cfg, key, **kw)
