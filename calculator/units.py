"""Token counts in, human-readable sizes out: the only place numbers meet text.

Contexts are written the way model cards count them: k = 1024, M = 1024² ("128k" = 131,072);
plain integers are exact. Sizes are formatted in binary (GiB) or decimal (GB) units on request.
"""
from __future__ import annotations

import re
from fractions import Fraction

_TOKENS = re.compile(r"(\d+(?:\.\d+)?)([kKmM]?)")
_MULT = {"": 1, "k": 1024, "m": 1024 * 1024}
BINARY = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))
DECIMAL = (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3))
SCALES = dict(BINARY + DECIMAL + (("B", 1),))


def parse_tokens(text: object, field: str = "context") -> int:
    """'128k' → 131072, '1M' → 1048576, '1000' → 1000; anything else is a ``ValueError``."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = _TOKENS.fullmatch(str(text).strip().replace(",", "").replace("_", ""))
        if not match:
            raise ValueError(f"{field}: expected a token count like 8192, 128k or 1M, got {text!r}")
        whole, _, frac = match.group(1).partition(".")
        mult = _MULT[match.group(2).lower()]
        numerator = int(whole + frac) * mult
        denominator = 10 ** len(frac)
        if numerator % denominator:
            raise ValueError(f"{field}: {text!r} is not a whole number of tokens")
        value = numerator // denominator
    if value < 1:
        raise ValueError(f"{field}: must be at least 1 token, got {value}")
    return value


_COUNT = re.compile(r"(\d+(?:\.\d+)?)(?:e(\d{1,2}))?\s*([kKmMbBtT]?)")
_COUNT_MULT = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}


def parse_count(text: object, field: str = "params") -> int:
    """Parameter counts as people write them (decimal): '8030261248', '8.03e9', '70B', '1.2T'."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = _COUNT.fullmatch(str(text).strip().replace(",", "").replace("_", "").lower())
        if not match:
            raise ValueError(f"{field}: expected a count like 8030261248, 8.03e9 or 70B, got {text!r}")
        whole, _, frac = match.group(1).partition(".")
        mult = 10 ** int(match.group(2) or 0) * _COUNT_MULT[match.group(3)]
        numerator, denominator = int(whole + frac) * mult, 10 ** len(frac)
        if numerator % denominator:
            raise ValueError(f"{field}: {text!r} is not a whole number")
        value = numerator // denominator
    if not 1 <= value <= 1 << 50:
        raise ValueError(f"{field}: must be between 1 and {1 << 50:,}, got {value:,}")
    return value


def format_bytes(n: int, unit: str = "auto-binary", digits: int = 2) -> str:
    """Format ``n`` bytes: a fixed unit ('GiB', 'GB', ...) or 'auto-binary' / 'auto-decimal'."""
    if unit in ("auto-binary", "auto-decimal"):
        table = BINARY if unit == "auto-binary" else DECIMAL
        unit = next((name for name, scale in table if abs(n) >= scale), "B")
    if unit not in SCALES:
        raise ValueError(f"unit: unknown {unit!r}")
    if unit == "B":
        return f"{n:,} B"
    return f"{n / SCALES[unit]:,.{digits}f} {unit}"


def format_per_token(value: Fraction) -> str:
    """Bytes per token: '6,880' when whole, '12.25' when a compressed entry does not divide."""
    return f"{int(value):,}" if value.denominator == 1 else f"{float(value):,.2f}"
