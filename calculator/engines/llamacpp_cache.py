"""One cache llama.cpp allocates and the lines it logs, with the GGML arithmetic every llama.cpp
rule shares (cache types in GGML blocks, ``GGML_PAD``, ``ggml_row_size``, single-precision MiB).

``llamacpp.py`` decides which caches a model gets; ``llamacpp_dsv4.py`` builds DeepSeek-V4's. The
line formats are ``llama-kv-cache.cpp``'s, ``llama-kv-cache-iswa.cpp``'s, ``llama-memory-recurrent.cpp``'s,
``llama-kv-cache-dsa.cpp``'s and ``llama-kv-cache-dsv4.cpp``'s (see those modules for the versions).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

# -ctk/-ctv types (common/arg.cpp kv_cache_types): (bytes per block, values per block), ggml.c type_traits
CACHE_TYPES = {"f32": (4, 1), "f16": (2, 1), "bf16": (2, 1), "q8_0": (34, 32), "q4_0": (18, 32),
               "q4_1": (20, 32), "iq4_nl": (18, 32), "q5_0": (22, 32), "q5_1": (24, 32)}
MIB = 1024 * 1024


def ggml_pad(x: int, n: int) -> int:
    return (x + n - 1) // n * n


def row_size(cache_type: str, n: int, flag: str) -> int:
    """``ggml_row_size``: bytes of ``n`` values of ``cache_type``."""
    size, block = CACHE_TYPES[cache_type]
    if n % block:
        raise ValueError(f"{flag}: {cache_type} stores blocks of {block} values; a row of {n} does not divide")
    return n // block * size


def mib(nbytes: int) -> float:
    """``(float) nbytes / (1024.0f * 1024.0f)`` as C computes it: the bytes rounded to float32."""
    return struct.unpack("f", struct.pack("f", float(nbytes)))[0] / MIB


@dataclass(frozen=True)
class LlamaCppCache:
    """One cache llama.cpp allocates: a KV cache (``kind`` base / swa / kv) or the recurrent memory."""

    kind: str          # "kv" (no windows), "base" / "swa" (iSWA pair), "recurrent", dsa_* / dsv4_*
    cells: int         # kv_size (recurrent: mem_size)
    layers: int        # layers in the log line (recurrent: every model layer)
    n_seq_max: int
    n_stream: int
    type_k: str        # recurrent: R's type
    type_v: str        # recurrent: S's type
    k_bytes: int       # recurrent: R bytes
    v_bytes: int       # recurrent: S bytes
    announced: int = 0  # DeepSeek-V4: the cells its "creating" line announces (before padding)
    width: int = 0      # DeepSeek-V4 compressor state: n_embd_state (its rows: ``cells``)

    @property
    def total_bytes(self) -> int:
        return self.k_bytes + self.v_bytes

    def log_lines(self, legacy: bool = False) -> list[str]:
        """The lines this cache logs; ``legacy``: builds before the llama_kv_cache_unified rename."""
        name = "llama_kv_cache_unified" if legacy else "llama_kv_cache"
        if self.kind == "recurrent":
            return [f"llama_memory_recurrent: size = {mib(self.total_bytes):7.2f} MiB ({self.cells:6d} cells, "
                    f"{self.layers:3d} layers, {self.n_seq_max:2d} seqs), R ({self.type_k}): "
                    f"{mib(self.k_bytes):7.2f} MiB, S ({self.type_v}): {mib(self.v_bytes):7.2f} MiB"]
        lines = []
        if self.kind.startswith("dsv4_"):
            lines += _dsv4_lines(self)
            if self.kind.startswith("dsv4_state"):
                return lines
        if self.kind in ("dsa_main", "dsa_index"):
            what = "main" if self.kind == "dsa_main" else "indexer"
            lines.append(f"{name}_dsa: creating {what} KV cache, size = {self.cells} cells")
        if self.kind in ("base", "swa", "dsv4_base", "dsv4_swa"):
            what = "non-SWA" if self.kind.endswith("base") else "    SWA"
            lines.append(f"{name}_iswa: creating {what} KV cache, size = {self.cells} cells")
        lines.append(f"{name}: size = {mib(self.total_bytes):7.2f} MiB ({self.cells:6d} cells, "
                     f"{self.layers:3d} layers, {self.n_seq_max:2d}/{self.n_stream} seqs), "
                     f"K ({self.type_k}): {mib(self.k_bytes):7.2f} MiB, "
                     f"V ({self.type_v}): {mib(self.v_bytes):7.2f} MiB")
        return lines


CSA_RATIO, HCA_RATIO = 4, 128        # DSV4_CSA_RATIO / DSV4_HCA_RATIO: fixed in llama.cpp
_DSV4_NAMES = {"dsv4_csa": "CSA compressed", "dsv4_hca": "HCA compressed",
               "dsv4_lid": "lightning-indexer", "dsv4_state_csa": "CSA compressor state",
               "dsv4_state_hca": "HCA compressor state",
               "dsv4_state_lid": "lightning-indexer compressor state"}


def _dsv4_lines(cache: LlamaCppCache) -> list[str]:
    """``llama-kv-cache-dsv4.cpp``'s lines before a DeepSeek-V4 cache's size line (a compressor
    state's lines instead of one: ``llama_dsv4_comp_state`` prints its size in double precision)."""
    if cache.kind == "dsv4_base":
        return ["llama_kv_cache_dsv4: creating DSV4 raw KV cache"]
    if cache.kind == "dsv4_swa":
        return []
    name = _DSV4_NAMES[cache.kind]
    if cache.kind.startswith("dsv4_state"):
        short = cache.kind.rsplit("_", 1)[1]
        ratio = HCA_RATIO if short == "hca" else CSA_RATIO
        return [f"llama_kv_cache_dsv4: creating DSV4 {name}",
                f"llama_dsv4_comp_state: {short} ratio = {ratio}, state = {cache.cells} x "
                f"{cache.width}, streams = {cache.n_stream}, rs_seq = 0, layers = {cache.layers}, "
                f"size = {cache.total_bytes / 1024.0 / 1024.0:7.2f} MiB"]
    return [f"llama_kv_cache_dsv4: creating DSV4 {name} KV cache, size = {cache.announced} cells"]
