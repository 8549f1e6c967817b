"""vLLM's rules for hybrid models' state layers (gated DeltaNet, mamba, short conv) beside
attention: the attention block raised so one page holds a request's state, the state page padded
to it, and prefix caching's 'align' mode. ``engines/vllm.py`` builds the pool around them; the
citations for each build are in its docstring."""
from __future__ import annotations

from dataclasses import replace

from ..specs import ModelSpec
from .vllm_spec import PageSpec, cdiv

HYBRID_USER_ALIGN = ("0.20", "0.21", "0.22")  # a user --block-size is the hybrid grain (#37467)
# block lines logged after the load (Platform.update_block_size_for_backend, #35122, from v0.18)
HYBRID_AFTER_LOAD = ("0.18", "0.20", "0.21", "0.22", "0.23", "0.27")
PREFIX_ALIGN = ("0.17", "0.18", "0.20", "0.21", "0.22")  # --enable-prefix-caching's 'align' mode read
# architectures implementing SupportsMambaPrefixCaching at 811d80519 ('all' mode, not modelled)
MAMBA_ALL_MODE = ("BambaForCausalLM", "FalconH1ForCausalLM", "GraniteMoeHybridForCausalLM",
                  "JambaForCausalLM", "MambaForCausalLM", "Mamba2ForCausalLM",
                  "NemotronHForCausalLM", "Zamba2ForCausalLM")


def hybrid_block(specs: list[PageSpec], block_size: int, max_model_len: int,
                 user_aligns: bool = False) -> tuple[list[PageSpec], tuple[str, ...]]:
    """HybridAttentionMambaModelConfig.verify_and_update_config: raise the attention block size
    so an attention page holds a mamba page, then pad the mamba page to the attention page.
    ``user_aligns`` (0.20 – 0.22, ``Platform._align_hybrid_block_size``): the grain is
    ``max(16, block_size)``, so a larger ``--block-size`` is rounded up to a multiple of itself."""
    attn = {s for s in specs if s.kind != "mamba"}
    if len(attn) != 1 or next(iter(attn)).kind != "full":
        raise ValueError("engine vllm: hybrid state models are modelled with one kind of full "
                         "attention only (not MLA or sliding windows)")
    per_token = next(iter(attn)).token_bytes
    mamba_page = max(s.token_bytes for s in specs if s.kind == "mamba")
    if len({s.token_bytes for s in specs if s.kind == "mamba"}) != 1:
        raise ValueError("engine vllm: state layers of different sizes are not modelled")
    lines = []
    grain = max(16, block_size) if user_aligns else 16
    need = grain * cdiv(mamba_page, grain * per_token)
    if block_size < need:
        block_size = need
        lines.append(f"Setting attention block size to {need} tokens to ensure that attention page "
                     "size is >= mamba page size.")
    page = block_size * per_token
    if page != mamba_page:
        lines.append(f"Padding mamba page size by {100 * (page - mamba_page) / mamba_page:.2f}% to "
                     "ensure that mamba page size and attention page size are exactly equal.")
    out = [replace(s, block_size=max_model_len, padded_page=page) if s.kind == "mamba"
           else replace(s, block_size=block_size) for s in specs]
    return out, tuple(lines)


def align_mode(model: ModelSpec, specs: list[PageSpec],
               version: str) -> tuple[list[PageSpec], tuple[str, ...]]:
    """``--enable-prefix-caching`` on a hybrid model (``MambaModelConfig.verify_and_update_config``
    at 811d80519): 'all' mode for architectures that implement ``SupportsMambaPrefixCaching``
    (Mamba-2 and Mamba-1 families: a state per chunk, not modelled), else 'align', where
    ``MambaSpec.max_memory_usage_bytes`` keeps two state pages per request; the block sizes are
    those of the default mode. Read for the 0.17 – 0.22 builds (align mode: #30877, v0.15)."""
    if version not in PREFIX_ALIGN:
        raise ValueError(f"enable-prefix-caching: vLLM {version}'s prefix caching for state layers "
                         f"is not read; it is for {', '.join(PREFIX_ALIGN)}")
    archs = (model.config or {}).get("architectures") or [model.name]
    arch = str(archs[0]) if isinstance(archs, list) and archs else model.name
    if arch in MAMBA_ALL_MODE or "NemotronH" in arch:
        raise ValueError(f"enable-prefix-caching: {arch} caches its state in vLLM's 'all' mode (a "
                         "state per block of the chunk size), which is not modelled")
    out = [replace(s, state_pages=2) if s.kind == "mamba" else s for s in specs]
    return out, (f"Mamba cache mode is set to 'align' for {arch} by default when prefix caching "
                 "is enabled",
                 "Warning: Prefix caching in Mamba cache 'align' mode is currently enabled. Its "
                 "support for Mamba layers is experimental. Please report any issues you may "
                 "observe.")
