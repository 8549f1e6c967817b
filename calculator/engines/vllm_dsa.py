"""What vLLM allocates at load for DeepSeek sparse attention (DeepSeek-V3.2, GLM-5) beyond an MLA
model's weights, build by build; ``vllm_weights.vllm_load`` adds it.

Read in ``vllm/model_executor/models/deepseek_v2.py`` (``Indexer``, ``DeepseekV2MLAAttention``,
``DeepseekV2Model``; ``GlmMoeDsaForCausalLM`` is a ``DeepseekV2ForCausalLM``) along upstream
history (the 1CatAI/1Cat-vLLM mirror, to 811d80519):

- DeepSeek-V3.2 arrived with vllm-project/vllm#25896 (2025-09-30, v0.11.0): the "0.10" build has
  no DSA and is refused.
- ``Indexer``: ``wq_b`` and ``wk`` are ``ReplicatedLinear`` with the model's quantization (whole
  on every rank), ``weights_proj`` a ``ReplicatedLinear`` without it (model dtype), ``k_norm`` a
  LayerNorm (weight and bias): the checkpoint's own tensors, as ``sharded_params`` prices them.
  From #38684 (2026-04-01, after the v0.18 branch; builds "0.20" on) ``wk`` and ``weights_proj``
  are one ``MergedColumnParallelLinear`` ``[index_head_dim + index_n_heads, hidden]`` without
  quantization (``wk_weights_proj``, model dtype; an fp8 ``wk`` is upcast into it, #38928).
  v0.19 already has it; the "0.18" build keeps v0.18's two tensors (for DeepSeek-V3.2 the fused
  layout is 0.9 MB a layer more, about 55 MB at 61 layers).
- ``DeepseekV2Model.__init__``: ``topk_indices_buffer = torch.empty(max_num_batched_tokens,
  index_topk, dtype=int32)``, one per model, allocated while the model is built (so inside
  "Model loading took").
- The indexer's own rope, ``indexer_rope_emb = get_rope(qk_rope_head_dim, ..., is_neox_style=not
  indexer_rope_interleave)`` (#28968, 2025-11-19; the default False from #34353, 2026-02-12):
  ``get_rope`` caches by its arguments, so unless the config sets ``indexer_rope_interleave``
  (GLM-5.1 does) it is a second ``cos_sin_cache`` the size of the attention's, which is
  ``is_neox_style=False``. v0.11.0's indexer shares the attention's rope (build "0.11").
"""
from __future__ import annotations

from ..model.shapes import config_int

FUSED_WK = ("0.20", "0.21", "0.22", "0.23", "0.27")      # wk + weights_proj as one tensor
INDEXER_ROPE = ("0.17", "0.18", "0.20", "0.21", "0.22", "0.23", "0.27")


def dsa_allocations(cfg: dict, merged: dict[str, int], rope_bytes: int, *, build: str,
                    max_num_batched_tokens: int, item: int) -> tuple[dict[str, int],
                                                                     list[tuple[str, int]]]:
    """(the merged tensors with the indexer laid out as ``build`` holds it, the extra buffers).
    ``rope_bytes``: the attention rope's cache; ``item``: bytes of the model dtype."""
    if build == "0.10":
        raise ValueError("engine vllm: vLLM 0.10 has no DeepSeek sparse attention (DeepSeek-V3.2 "
                         "arrived in v0.11.0, vllm-project/vllm#25896)")
    if isinstance(max_num_batched_tokens, bool) or not isinstance(max_num_batched_tokens, int) \
            or max_num_batched_tokens < 1:
        raise ValueError("max-num-batched-tokens: must be at least 1")
    glm = cfg.get("model_type") == "glm_moe_dsa"
    heads = config_int(cfg, "index_n_heads", 32 if glm else 64)
    dim = config_int(cfg, "index_head_dim", 128)
    topk = config_int(cfg, "index_topk", 2048, hi=1 << 24)
    hidden = config_int(cfg, "hidden_size")
    out = dict(merged)
    if build in FUSED_WK:
        for key in [k for k in out if k.endswith(".indexer.weights_proj.weight")]:
            prefix = key[: -len("weights_proj.weight")]
            for old in [k for k in out if k.startswith(prefix + "wk.")] + [key]:
                del out[old]
            out[prefix + "wk_weights_proj.weight"] = (dim + heads) * hidden * item
    extra = [("model.topk_indices_buffer", max_num_batched_tokens * topk * 4)]
    if build in INDEXER_ROPE and cfg.get("indexer_rope_interleave") is not True:
        extra.append(("indexer_rope_emb.cos_sin_cache", rope_bytes))
    return out, extra
