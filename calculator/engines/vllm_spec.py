"""One layer's KV-cache spec as vLLM sizes it per rank (``v1/kv_cache_interface.py``: a page,
and the pages a request of max_model_len holds), shared by the pool (``engines/vllm.py``) and the
hybrid rules (``engines/vllm_hybrid.py``); the citations are in ``engines/vllm.py``."""
from __future__ import annotations

from dataclasses import dataclass


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class PageSpec:
    """One layer's vLLM KV-cache spec, per rank (hashable: equal specs share a group)."""

    kind: str            # "full", "sliding", "mla", "indexer" (DSA keys) or "mamba"
    block_size: int
    token_bytes: int     # bytes of one token of one layer on one rank (mamba: one request's state)
    window: int | None = None
    padded_page: int = 0  # mamba: the page after padding to the attention page (0: unpadded)
    state_pages: int = 1  # mamba: pages a request holds (2 in prefix caching's 'align' mode)

    @property
    def page_size_bytes(self) -> int:
        if self.kind == "mamba":
            return self.padded_page or self.token_bytes
        return self.block_size * self.token_bytes

    def max_memory_usage_bytes(self, max_model_len: int, in_flight_tokens: int) -> int:
        if self.kind == "mamba":  # MambaSpec: 1 page per request ('none'), 2 in 'align' mode
            return self.state_pages * self.page_size_bytes
        if self.kind == "sliding":
            assert self.window is not None
            tokens = min(self.window - 1 + in_flight_tokens, max_model_len)
            return (cdiv(tokens, self.block_size) + 1) * self.page_size_bytes
        return cdiv(max_model_len, self.block_size) * self.page_size_bytes

    def label(self) -> str:
        if self.kind == "mamba":
            return f"mamba state ({self.token_bytes:,} B/request/layer, page {self.page_size_bytes:,} B)"
        if self.kind == "indexer":
            return f"DSA indexer keys ({self.token_bytes:,} B/token/layer, block {self.block_size})"
        w = f", window {self.window}" if self.window else ""
        return f"{self.kind} ({self.token_bytes:,} B/token/layer, block {self.block_size}{w})"
