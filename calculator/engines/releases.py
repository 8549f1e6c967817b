"""Which build's rules a release runs: ``--engine-version`` takes a release as users know it
(``0.11.0``, ``v0.19.1``, ``0.22.0rc1``, ``main``) or a build label itself, and this maps it to
the build whose rules were read (``vllm_startup.VERSIONS`` and ``vllm.POOL_VERSIONS``; SGLang's
``sglang_fraction.VERSIONS``).

The windows are those the builds are read for: "0.10" at v0.10.2 (v0.10.x), "0.11" for v0.11 –
v0.16 (the snapshot taken after NCCL, vllm-project/vllm#25359, in v0.11.0), "0.17" for v0.17
(the Triton top-k/top-p sampler, #33538), "0.18" for v0.18 – v0.19 (the same startup; MLA models
take their attention backend's block size, #35122 of 2026-03-09, after the v0.17 branch), "0.20", "0.21" and "0.22" one release each (the
CUDA-graph estimate deducted from v0.20, #38284; the load's split limit, the token line and the
sampler's second pass from v0.21; the V2 model runner for dense Qwen3 in v0.22) and "0.27" (pool
rules only) from v0.27, read at v0.27.1 and checked on a v0.29.0
log; ``main`` takes the newest read. v0.23 – v0.26 fall between two readings: "0.23" sizes their
full-attention and MLA pools, where the 0.22 and 0.27 rules agree, and refuses sliding-window and
state layers, whose rules changed on the way to 0.27. Releases before v0.10 were not read and are
refused with the windows named."""
from __future__ import annotations

import re

from .sglang_fraction import VERSIONS as SGLANG_BUILDS

# (first minor, last minor or None for open-ended, build)
VLLM_WINDOWS = ((10, 10, "0.10"), (11, 16, "0.11"), (17, 17, "0.17"), (18, 19, "0.18"),
                (20, 20, "0.20"), (21, 21, "0.21"), (22, 22, "0.22"), (23, 26, "0.23"),
                (27, None, "0.27"))
_RELEASE = re.compile(r"^v?0\.(\d+)(?:\.\d+)*(?:(?:rc|\.post|\.dev|post|dev)\d*)?(?:\+\S*)?$")


def vllm_build(release: str) -> str:
    """The build label whose rules vLLM ``release`` runs (``ValueError`` naming the windows)."""
    text = str(release).strip()
    if text.lower() in ("main", "latest", "nightly"):
        return VLLM_WINDOWS[-1][2]
    match = _RELEASE.match(text)
    if match:
        minor = int(match.group(1))
        for first, last, build in VLLM_WINDOWS:
            if minor >= first and (last is None or minor <= last):
                return build
    windows = ", ".join(f"{build} (v0.{first}" + (f" – v0.{last})" if last != first else ")")
                        if last is not None else f"{build} (v0.{first} and later, main)"
                        for first, last, build in VLLM_WINDOWS)
    raise ValueError(f"engine-version: vLLM {text!r} is not in a release window read here; "
                     f"the builds read are {windows}")


def sglang_build(release: str) -> str:
    """The SGLang build label for ``release``: the labels themselves and ``main`` / ``latest`` /
    ``nightly``. SGLang's patch releases are not mapped: its default fraction changed inside the
    v0.4 line (PR #5893 in April 2025, #7054 in June) and PR #10975 landed between tags, so a
    release number is refused with the builds' windows named rather than guessed."""
    text = str(release).strip()
    if text in SGLANG_BUILDS:
        return text
    if text.lower() in ("latest", "nightly"):
        return "main"
    raise ValueError(f"engine-version: SGLang {text!r} is not mapped to a build; give 0.4 (the "
                     "fraction from the TP size: v0.3 and v0.4), 0.5 (from the card, PR #10975: "
                     "October 2025 – February 2026) or main (prefill CUDA graphs on: March 2026 "
                     "on)")
