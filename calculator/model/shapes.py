"""Every stored tensor of a checkpoint, from its config.json alone (no torch, no transformers).

``param_shapes(config)`` lists the model's tensors as the Hugging Face checkpoint names them, with
their logical shapes and the role each plays. The role decides how a quantization format stores
it (``calculator/model/quant.py``: only ``linear`` and ``expert`` weights are quantized) and how an
engine splits it across GPUs (``calculator/model/sharding.py``). Per-expert tensors are one
``Param`` with ``count`` = experts, as checkpoints store one tensor per expert.

The shapes follow transformers' modeling files (5.23.0): ``LlamaAttention`` / ``LlamaMLP``,
``Qwen2Attention`` (q/k/v bias), ``Qwen3Attention`` (q/k norms), ``Gemma2DecoderLayer`` (four
norms), ``Gemma3ForConditionalGeneration`` (SigLIP tower + projector), ``MixtralSparseMoeBlock``,
``Qwen3MoeSparseMoeBlock``, ``Qwen3NextGatedDeltaNet`` / ``Qwen3NextAttention`` (gated q),
``Qwen3_5GatedDeltaNet`` (in_proj_qkv / z / b / a apart) / ``Qwen3_5MoeSparseMoeBlock`` (stacked
experts, as Qwen3.5's checkpoints ship them),
``DeepseekV2Attention`` / ``DeepseekV3MoE`` (MLA, shared experts, ``e_score_correction_bias``),
``GptOssAttention`` (sinks) / ``GptOssExperts`` (fused gate_up with biases), ``GPT2Block``,
``MiniMaxM2Attention`` (q/k norms over all heads) / ``MiniMaxM2SparseMoeBlock`` (sigmoid router with
``e_score_correction_bias``), ``Phi3Attention`` / ``Phi3MLP`` (fused qkv_proj and gate_up_proj),
``Lfm2ShortConv`` / ``Lfm2Attention`` / ``Lfm2MLP``, ``Olmo2Attention`` / ``Olmo2DecoderLayer`` (OLMo 2
and 3: q/k norms over all heads, norms after attention and MLP, no input norm), ``MiMoV2FlashAttention`` (sliding layers: twice
the KV heads, sinks; V 128 wide) / ``MiMoV2FlashMoE`` (no shared expert; ``mlp_layer_types`` dense first), and
Nemotron-NAS's per-block attention and MLP (remote code only: counted against the checkpoint);
Nemotron-H's and Granite 4.0-H's Mamba-2 hybrids are in ``shapes_nemotron_h.py``.
The parameter count equals transformers' own on the meta device for every preset
(``tests/test_weights.py`` checks it against ``model_presets/param_counts.py``). The building blocks
(``Param``, Linear and dense-MLP tensors) are in ``shape_parts.py``; the architectures listed whole
(Nemotron-NAS, LFM2, GPT-2, Gemma 3's SigLIP tower, Mistral 3's Pixtral tower, Kimi-K2.5's
MoonViT, Qwen3.5's ViT) in
``shapes_families.py``.
"""
from __future__ import annotations

from ..config_fields import MAX_LAYERS
from ..hf_config import normalize
from ..layer_pattern import DSA_TYPES, layer_kinds
from .shape_parts import (PARTS, ROLES, TIED_DEFAULT, VOCAB_DEFAULT, Param, config_int,  # noqa: F401
                          dense_mlp, final_norm_and_head, flag, linear)
from .shapes_families import gpt2, lfm2, moonvit, nemotron_nas, pixtral, qwen35_vision, siglip
from .shapes_gemma4 import gemma4, unlisted
from .shapes_llama4 import llama4
from .shapes_nemotron_h import granite_hybrid, nemotron_h

SUPPORTED = ("llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "qwen3_next", "gemma",
             "gemma2", "gemma3_text", "deepseek_v2", "deepseek_v3", "kimi_k2", "gpt_oss", "gpt2",
             "deepseek_v32", "glm_moe_dsa", "minimax_m2", "mimo_v2_flash", "nemotron-nas", "phi3",
             "lfm2", "olmo2", "olmo3", "qwen3_5_text", "qwen3_5_moe_text",
             "llama4_text", "gemma4_text", "nemotron_h", "granitemoehybrid")
QWEN35 = ("qwen3_5_text", "qwen3_5_moe_text")  # Qwen3.5 / 3.6: gated DeltaNet + gated attention
GATED_Q = ("qwen3_next",) + QWEN35             # q_proj carries the output gate: 2 × heads × dim


def architecture(config: dict) -> str:
    """The model_type whose shapes apply (the text model's, for multimodal wrappers)."""
    cfg = normalize(config)
    return str(cfg.get("model_type") or "")


class UnknownArchitecture(ValueError):
    """The config is well formed but its architecture's tensors are not listed here."""


def param_shapes(config: object) -> list[Param]:
    """All stored tensors of the model the config describes. ``ValueError`` names the field, or
    says the architecture's shapes are not known here."""
    if not isinstance(config, dict):
        raise ValueError("config: expected a JSON object")
    cfg = normalize(config)
    mtype = str(cfg.get("model_type") or "")
    if mtype not in SUPPORTED:
        raise UnknownArchitecture(f"model_type: weights of {mtype or 'this model'!r} are not known from the "
                         f"config alone (known: {', '.join(SUPPORTED)}); give a parameter count")
    if mtype == "gpt2":
        return gpt2(cfg)
    if mtype == "nemotron-nas":
        return nemotron_nas(cfg)
    if mtype == "lfm2":
        return lfm2(cfg)
    if mtype == "nemotron_h":  # Mamba-2 / attention / MLP / MoE blocks: shapes_nemotron_h.py
        return nemotron_h(cfg)
    if mtype == "granitemoehybrid":  # Granite 4.0-H: the same Mamba-2 mixer, shapes_nemotron_h.py
        return granite_hybrid(cfg)
    if mtype == "llama4_text":  # its own names (feed_forward, vision_model): shapes_llama4.py
        return llama4(config, cfg)
    if mtype == "gemma4_text":  # per-layer head sizes, MoE beside the MLP: shapes_gemma4.py
        if (field := unlisted(config, cfg)) is not None:
            raise UnknownArchitecture(f"{field}: this Gemma 4 variant's tensors are not listed; "
                                      "give a parameter count")
        return gemma4(config, cfg)
    gemma3 = "text_config" in config and mtype == "gemma3_text"
    mistral3 = config.get("model_type") == "mistral3"  # Mistral Small 3.1 / 3.2: Pixtral + text
    kimi = config.get("model_type") == "kimi_k25"      # Kimi-K2.5 / K2.6: MoonViT + Kimi-K2 text
    qwen35 = config.get("model_type") in ("qwen3_5", "qwen3_5_moe")  # Qwen3.5 / 3.6 + their ViT
    if config.get("vision_config") and not (gemma3 or mistral3 or kimi or qwen35):
        # a wrapper whose text model is listed but whose tower is not (LLaVA, Kimi-K2.5, ...):
        # the text model alone would price the checkpoint short by the tower
        raise UnknownArchitecture(f"vision_config: the vision tower of {config.get('model_type') or mtype!r} "
                                  "is not listed; give a parameter count")
    prefix = "model.language_model." if gemma3 or mistral3 or kimi or qwen35 else "model."
    out = _decoder(cfg, mtype, prefix)
    if gemma3:
        out = siglip(config.get("vision_config") or {}, config_int(cfg, "hidden_size")) + out
    if mistral3:
        out = pixtral(config, config_int(cfg, "hidden_size")) + out
    if kimi:
        out = moonvit(config, config_int(cfg, "hidden_size")) + out
    if qwen35:
        out = qwen35_vision(config) + out
    return out


def _decoder(cfg: dict, mtype: str, prefix: str) -> list[Param]:
    n = config_int(cfg, "num_hidden_layers", hi=MAX_LAYERS)
    hidden = config_int(cfg, "hidden_size")
    vocab = config_int(cfg, "vocab_size", VOCAB_DEFAULT.get(mtype), hi=1 << 26)
    tied = flag(cfg, "tie_word_embeddings", TIED_DEFAULT.get(mtype, False))
    out = [Param(name=f"{prefix}embed_tokens.weight", shape=(vocab, hidden), role="embed",
                 part="embeddings", split="vocab")]
    kinds = _layer_kinds(cfg, mtype, n)
    for i in range(n):
        lp = f"{prefix}layers.{i}."
        if kinds[i] == "linear_attention":
            out += _gated_deltanet(cfg, lp + "linear_attn.", hidden, split_in=mtype in QWEN35)
        elif cfg.get("kv_lora_rank") is not None:
            out += _mla(cfg, lp + "self_attn.", hidden)
        else:
            out += _attention(cfg, mtype, lp + "self_attn.", hidden, kinds[i] == "sliding_attention")
        out += _mlp(cfg, mtype, lp + "mlp.", hidden, i)
        norms = ["input_layernorm", "post_attention_layernorm"]
        if mtype in ("olmo2", "olmo3"):  # Olmo2DecoderLayer normalises each sublayer's output only
            norms = ["post_attention_layernorm", "post_feedforward_layernorm"]
        if mtype in ("gemma2", "gemma3_text"):
            norms += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
        out += [Param(name=f"{lp}{nm}.weight", shape=(hidden,), role="norm", part="other")
                for nm in norms]
    return out + final_norm_and_head(f"{prefix}norm.weight", vocab, hidden, tied)


def _layer_kinds(cfg: dict, mtype: str, n: int) -> list[str]:
    if mtype in QWEN35 and cfg.get("layer_types") is not None:
        return layer_kinds(cfg, n)
    if mtype in ("qwen3_next",) + QWEN35:  # Qwen3_5TextConfig: the same interval when unlisted
        every = config_int(cfg, "full_attention_interval", 4, hi=MAX_LAYERS)
        return ["linear_attention" if (i + 1) % every else "full_attention" for i in range(n)]
    if mtype == "mimo_v2_flash":
        return layer_kinds(cfg, n)
    return ["full_attention"] * n


def _attention(cfg: dict, mtype: str, p: str, hidden: int, sliding: bool = False) -> list[Param]:
    heads = config_int(cfg, "num_attention_heads")
    kv = config_int(cfg, "num_key_value_heads")
    hd = cfg.get("head_dim") or hidden // heads
    hd = config_int({"head_dim": hd}, "head_dim")
    vd = hd
    qkv_bias = mtype == "qwen2" or flag(cfg, "attention_bias", False)
    o_bias = flag(cfg, "attention_bias", False)
    if mtype == "mimo_v2_flash":  # MiMoV2FlashAttention: sliding layers 2 × KV heads, V narrower
        kv, vd, o_bias = kv * (2 if sliding else 1), config_int(cfg, "v_head_dim", hd), False
    q_out = heads * hd * (2 if mtype in GATED_Q else 1)  # Qwen3-Next / 3.5: q and its gate
    if mtype == "phi3":  # Phi3Attention: one fused qkv_proj (no bias), then o_proj
        return (linear(p + "qkv_proj", (heads + 2 * kv) * hd, hidden, "attention", "qkv")
                + linear(p + "o_proj", hidden, heads * hd, "attention", "row"))
    out = (linear(p + "q_proj", q_out, hidden, "attention", "qkv", bias=qkv_bias)
           + linear(p + "k_proj", kv * hd, hidden, "attention", "qkv", bias=qkv_bias)
           + linear(p + "v_proj", kv * vd, hidden, "attention", "qkv", bias=qkv_bias)
           + linear(p + "o_proj", hidden, heads * vd, "attention", "row", bias=o_bias))
    if mtype == "minimax_m2":  # RMSNorm over all q / all k heads, split with them (vLLM TP norm)
        out += [Param(name=f"{p}q_norm.weight", shape=(heads * hd,), role="norm", part="attention",
                      split="col"),
                Param(name=f"{p}k_norm.weight", shape=(kv * hd,), role="norm", part="attention",
                      split="col")]
    if mtype in ("olmo2", "olmo3"):  # RMSNorm over all q / all k heads; vLLM's olmo2.py keeps both
        # whole on every rank (all-gathers q and k under TP, normalises, splits again)
        out += [Param(name=f"{p}q_norm.weight", shape=(heads * hd,), role="norm", part="attention"),
                Param(name=f"{p}k_norm.weight", shape=(kv * hd,), role="norm", part="attention")]
    if mtype == "mimo_v2_flash" and sliding:
        out.append(Param(name=p + "attention_sink_bias", shape=(heads,), role="other",
                         part="attention", split="col"))
    if mtype in ("qwen3", "qwen3_moe", "qwen3_next", "gemma3_text") + QWEN35:
        out += [Param(name=f"{p}{nm}.weight", shape=(hd,), role="norm", part="attention")
                for nm in ("q_norm", "k_norm")]
    if mtype == "gpt_oss":
        out.append(Param(name=p + "sinks", shape=(heads,), role="other", part="attention",
                         split="col"))
    return out


def _mla(cfg: dict, p: str, hidden: int) -> list[Param]:
    heads = config_int(cfg, "num_attention_heads")
    rank = config_int(cfg, "kv_lora_rank")
    rope = config_int(cfg, "qk_rope_head_dim")
    nope = config_int(cfg, "qk_nope_head_dim")
    v = config_int(cfg, "v_head_dim")
    out: list[Param] = []
    if cfg.get("q_lora_rank") is None:
        out += linear(p + "q_proj", heads * (nope + rope), hidden, "attention", "col")
    else:
        q_rank = config_int(cfg, "q_lora_rank")
        out += linear(p + "q_a_proj", q_rank, hidden, "attention", "rep")
        out.append(Param(name=p + "q_a_layernorm.weight", shape=(q_rank,), role="norm",
                         part="attention"))
        out += linear(p + "q_b_proj", heads * (nope + rope), q_rank, "attention", "col")
    out += linear(p + "kv_a_proj_with_mqa", rank + rope, hidden, "attention", "rep")
    out.append(Param(name=p + "kv_a_layernorm.weight", shape=(rank,), role="norm", part="attention"))
    out += linear(p + "kv_b_proj", heads * (nope + v), rank, "attention", "col")
    out += linear(p + "o_proj", hidden, heads * v, "attention", "row")
    if cfg.get("index_topk") is not None or cfg.get("model_type") in DSA_TYPES:
        out += _indexer(cfg, p + "indexer.", hidden)
    return out


def _indexer(cfg: dict, p: str, hidden: int) -> list[Param]:
    """DSA lightning indexer (``DeepseekV32Indexer`` / ``GlmMoeDsaIndexer``): wq_b from the query
    latent, wk, a LayerNorm on the key and the per-head weights_proj, all replicated (vLLM builds
    them as ReplicatedLinear). Defaults as DeepseekV32Config (64 heads) / GlmMoeDsaConfig (32)."""
    heads = config_int(cfg, "index_n_heads", 32 if cfg.get("model_type") == "glm_moe_dsa" else 64)
    dim = config_int(cfg, "index_head_dim", 128)
    q_rank = config_int(cfg, "q_lora_rank")
    return [*linear(p + "wq_b", heads * dim, q_rank, "attention", "rep"),
            *linear(p + "wk", dim, hidden, "attention", "rep"),
            Param(name=p + "k_norm.weight", shape=(dim,), role="norm", part="attention"),
            Param(name=p + "k_norm.bias", shape=(dim,), role="norm", part="attention"),
            Param(name=p + "weights_proj.weight", shape=(heads, hidden), role="other",
                  part="attention")]


def _gated_deltanet(cfg: dict, p: str, hidden: int, split_in: bool = False) -> list[Param]:
    """``Qwen3NextGatedDeltaNet``: q/k/v/z and b/a in two fused projections. ``split_in``
    (``Qwen3_5GatedDeltaNet``): the same rows as in_proj_qkv, in_proj_z, in_proj_b and in_proj_a,
    which vLLM's ``qwen3_5.py`` loads into its in_proj_qkvz / in_proj_ba (column-parallel)."""
    kh = config_int(cfg, "linear_num_key_heads")
    vh = config_int(cfg, "linear_num_value_heads")
    kd = config_int(cfg, "linear_key_head_dim")
    vd = config_int(cfg, "linear_value_head_dim")
    k_conv = config_int(cfg, "linear_conv_kernel_dim", hi=1024)
    conv_dim = 2 * kh * kd + vh * vd
    if split_in:
        proj = (linear(p + "in_proj_qkv", conv_dim, hidden, "attention", "col")
                + linear(p + "in_proj_z", vh * vd, hidden, "attention", "col")
                + linear(p + "in_proj_b", vh, hidden, "attention", "col")
                + linear(p + "in_proj_a", vh, hidden, "attention", "col"))
    else:
        proj = (linear(p + "in_proj_qkvz", conv_dim + vh * vd, hidden, "attention", "col")
                + linear(p + "in_proj_ba", 2 * vh, hidden, "attention", "col"))
    return [Param(name=p + "dt_bias", shape=(vh,), role="other", part="attention", split="col"),
            Param(name=p + "A_log", shape=(vh,), role="other", part="attention", split="col"),
            Param(name=p + "conv1d.weight", shape=(conv_dim, 1, k_conv), role="other",
                  part="attention", split="col"),
            *proj,
            Param(name=p + "norm.weight", shape=(vd,), role="norm", part="attention"),
            *linear(p + "out_proj", hidden, vh * vd, "attention", "row")]


def _experts(p: str, names: tuple[str, str, str], hidden: int, inter: int, count: int) -> list[Param]:
    gate, up, down = names
    return [Param(name=f"{p}{{e}}.{gate}.weight", shape=(inter, hidden), role="expert",
                  part="experts", count=count, split="col"),
            Param(name=f"{p}{{e}}.{up}.weight", shape=(inter, hidden), role="expert",
                  part="experts", count=count, split="col"),
            Param(name=f"{p}{{e}}.{down}.weight", shape=(hidden, inter), role="expert",
                  part="experts", count=count, split="row")]


def _router(name: str, experts: int, hidden: int) -> Param:
    return Param(name=name, shape=(experts, hidden), role="router", part="experts")


def _mlp(cfg: dict, mtype: str, p: str, hidden: int, i: int) -> list[Param]:
    if mtype == "mixtral":
        e = config_int(cfg, "num_local_experts")
        bp = p.replace("mlp.", "block_sparse_moe.")
        return ([_router(bp + "gate.weight", e, hidden)]
                + _experts(bp + "experts.", ("w1", "w3", "w2"), hidden,
                           config_int(cfg, "intermediate_size"), e))
    if mtype == "minimax_m2":  # every layer sparse; sigmoid router with a correction bias
        e = config_int(cfg, "num_local_experts")
        bp = p.replace("mlp.", "block_sparse_moe.")
        return ([_router(bp + "gate.weight", e, hidden),
                 Param(name=bp + "e_score_correction_bias", shape=(e,), role="other",
                       part="experts", dtype="fp32")]
                + _experts(bp + "experts.", ("w1", "w3", "w2"), hidden,
                           config_int(cfg, "intermediate_size"), e))
    if mtype == "mimo_v2_flash":
        kinds = cfg.get("mlp_layer_types")
        if kinds is None:  # MiMoV2FlashConfig: moe_layer_freq as a 0/1 list, else dense first
            freq = cfg.get("moe_layer_freq")
            kinds = (["sparse" if f else "dense" for f in freq] if isinstance(freq, list)
                     else ["dense"] + ["sparse"] * (config_int(cfg, "num_hidden_layers") - 1))
        if not isinstance(kinds, list) or len(kinds) <= i or kinds[i] not in ("dense", "sparse"):
            raise ValueError(f"mlp_layer_types: expected 'dense' / 'sparse' for every layer, got {kinds!r}")
        if kinds[i] == "dense":
            return dense_mlp(p, hidden, config_int(cfg, "intermediate_size"))
        e = config_int(cfg, "n_routed_experts")
        return ([_router(p + "gate.weight", e, hidden),
                 Param(name=p + "gate.e_score_correction_bias", shape=(e,), role="other",
                       part="experts", dtype="fp32")]
                + _experts(p + "experts.", ("gate_proj", "up_proj", "down_proj"), hidden,
                           config_int(cfg, "moe_intermediate_size"), e))
    if mtype == "gpt_oss":
        e = config_int(cfg, "num_local_experts")
        inter = config_int(cfg, "intermediate_size")
        # Fused, as the checkpoint stores them: gate_up [E, 2I, H] and down [E, H, I] (as [out, in]
        # per expert), each with a bias per expert.
        return [_router(p + "router.weight", e, hidden),
                Param(name=p + "router.bias", shape=(e,), role="bias", part="experts"),
                Param(name=p + "experts.gate_up_proj", shape=(2 * inter, hidden), role="expert",
                      part="experts", count=e, split="col"),
                Param(name=p + "experts.gate_up_proj_bias", shape=(2 * inter,), role="bias",
                      part="experts", count=e, split="col"),
                Param(name=p + "experts.down_proj", shape=(hidden, inter), role="expert",
                      part="experts", count=e, split="row"),
                Param(name=p + "experts.down_proj_bias", shape=(hidden,), role="bias",
                      part="experts", count=e)]
    if mtype in ("qwen3_moe", "qwen3_next", "qwen3_5_moe_text"):
        sparse = cfg.get("mlp_only_layers") or []
        if not isinstance(sparse, list) or not all(isinstance(x, int) for x in sparse):
            raise ValueError(f"mlp_only_layers: expected a list of layer indices, got {sparse!r}")
        step = config_int(cfg, "decoder_sparse_step", 1, hi=MAX_LAYERS)
        e = cfg.get("num_experts") or 0
        if i in sparse or not e or (i + 1) % step:
            return dense_mlp(p, hidden, config_int(cfg, "intermediate_size"))
        e = config_int(cfg, "num_experts")
        out = [_router(p + "gate.weight", e, hidden)]
        inter = config_int(cfg, "moe_intermediate_size")
        if mtype == "qwen3_5_moe_text":
            # the shipped checkpoints stack each layer's experts, as transformers 5 holds them:
            # experts.gate_up_proj [E, 2I, H] and experts.down_proj [E, H, I]
            out += [Param(name=p + "experts.gate_up_proj", shape=(2 * inter, hidden),
                          role="expert", part="experts", count=e, split="col"),
                    Param(name=p + "experts.down_proj", shape=(hidden, inter), role="expert",
                          part="experts", count=e, split="row")]
        else:
            out += _experts(p + "experts.", ("gate_proj", "up_proj", "down_proj"), hidden, inter, e)
        if mtype in ("qwen3_next", "qwen3_5_moe_text"):
            out += dense_mlp(p + "shared_expert.", hidden,
                              config_int(cfg, "shared_expert_intermediate_size"), "experts")
            out += linear(p + "shared_expert_gate", 1, hidden, "experts", "rep", role="router")
        return out
    if mtype in ("deepseek_v2", "deepseek_v3", "kimi_k2", "deepseek_v32", "glm_moe_dsa"):
        e = cfg.get("n_routed_experts")
        first = config_int(cfg, "first_k_dense_replace", 0, lo=0, hi=MAX_LAYERS)
        freq = config_int(cfg, "moe_layer_freq", 1, hi=MAX_LAYERS)
        if e is None or i < first or i % freq:
            return dense_mlp(p, hidden, config_int(cfg, "intermediate_size"))
        e = config_int(cfg, "n_routed_experts")
        inter = config_int(cfg, "moe_intermediate_size")
        out = [_router(p + "gate.weight", e, hidden)]
        if mtype != "deepseek_v2":  # noaux_tc routing keeps a per-expert correction bias (fp32)
            out.append(Param(name=p + "gate.e_score_correction_bias", shape=(e,), role="other",
                             part="experts", dtype="fp32"))
        out += _experts(p + "experts.", ("gate_proj", "up_proj", "down_proj"), hidden, inter, e)
        shared = config_int(cfg, "n_shared_experts", 0, lo=0, hi=1024)
        if shared:
            out += dense_mlp(p + "shared_experts.", hidden, inter * shared, "experts")
        return out
    if mtype == "phi3":  # Phi3MLP: gate and up fused in one gate_up_proj
        inter = config_int(cfg, "intermediate_size")
        return (linear(p + "gate_up_proj", 2 * inter, hidden, "mlp", "col")
                + linear(p + "down_proj", hidden, inter, "mlp", "row"))
    return dense_mlp(p, hidden, config_int(cfg, "intermediate_size"))


def param_count(params: list[Param]) -> int:
    """Parameters (elements) of the listed tensors."""
    return sum(p.numel for p in params)
