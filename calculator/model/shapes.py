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
``DeepseekV2Attention`` / ``DeepseekV3MoE`` (MLA, shared experts, ``e_score_correction_bias``),
``GptOssAttention`` (sinks) / ``GptOssExperts`` (fused gate_up with biases), ``GPT2Block``,
``MiniMaxM2Attention`` (q/k norms over all heads) / ``MiniMaxM2SparseMoeBlock`` (sigmoid router with
``e_score_correction_bias``), ``Phi3Attention`` / ``Phi3MLP`` (fused qkv_proj and gate_up_proj),
``Lfm2ShortConv`` / ``Lfm2Attention`` / ``Lfm2MLP``, ``MiMoV2FlashAttention`` (sliding layers: twice
the KV heads, sinks; V 128 wide) / ``MiMoV2FlashMoE`` (no shared expert; ``mlp_layer_types`` dense first), and
Nemotron-NAS's per-block attention and MLP (remote code only: counted against the checkpoint).
The parameter count equals transformers' own on the meta device for every preset
(``tests/test_weights.py`` checks it against ``model_presets/param_counts.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any

from ..config_fields import MAX_DIM, MAX_LAYERS
from ..hf_config import normalize
from ..layer_pattern import DSA_TYPES, layer_kinds

# Roles: how a tensor is stored under quantization and split under tensor parallelism.
#   embed / lm_head   vocabulary rows (vocab-parallel in engines; never quantized by weight-only
#                     formats unless the config says so)
#   linear            a Linear weight [out, in] inside a layer (quantized by every format)
#   expert            a routed expert's Linear weight [out, in], one per expert (count = experts)
#   router            the MoE router's Linear weight [experts, hidden] (left in 16 bits by every
#                     shipped format)
#   bias / norm / other   small tensors kept in the model dtype
ROLES = ("embed", "lm_head", "linear", "expert", "router", "bias", "norm", "other")
# Parts, for the breakdown a user sees.
PARTS = ("embeddings", "attention", "mlp", "experts", "vision", "other")


@dataclass(frozen=True, kw_only=True)
class Param:
    """One checkpoint tensor (or ``count`` identical ones: the routed experts of a layer)."""

    name: str                  # checkpoint name; experts carry '{e}' where the index goes
    shape: tuple[int, ...]     # Linear weights are [out_features, in_features]
    role: str
    part: str
    count: int = 1
    split: str = "rep"         # tensor-parallel split: col (dim 0), row (dim 1), vocab, rep, qkv
    dtype: str = ""            # a dtype the checkpoint always uses for this tensor ('' = model's)

    @property
    def numel(self) -> int:
        return prod(self.shape) * self.count


# transformers' config-class defaults for keys that shape parameters and that official configs
# leave out (configuration_*.py of transformers 5.23.0).
TIED_DEFAULT = {"gemma": True, "gemma2": True, "gemma3_text": True, "gpt2": True}
VOCAB_DEFAULT = {"gemma3_text": 262_208, "gpt2": 50_257}
SUPPORTED = ("llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "qwen3_next", "gemma",
             "gemma2", "gemma3_text", "deepseek_v2", "deepseek_v3", "kimi_k2", "gpt_oss", "gpt2",
             "deepseek_v32", "glm_moe_dsa", "minimax_m2", "mimo_v2_flash", "nemotron-nas", "phi3",
             "lfm2")


def config_int(cfg: dict, key: str, default: Any = None, *, lo: int = 1, hi: int = MAX_DIM) -> int:
    value = cfg.get(key, default)
    if value is None:
        raise ValueError(f"{key}: missing from config (needed for the weights)")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{key}: must be an integer between {lo} and {hi}, got {value!r}")
    return value


def _bool(cfg: dict, key: str, default: bool) -> bool:
    value = cfg.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValueError(f"{key}: expected true or false, got {value!r}")
    return value


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
        return _gpt2(cfg)
    if mtype == "nemotron-nas":
        return _nemotron_nas(cfg)
    if mtype == "lfm2":
        return _lfm2(cfg)
    prefix = "model.language_model." if "text_config" in config and mtype == "gemma3_text" else "model."
    out = _decoder(cfg, mtype, prefix)
    if prefix == "model.language_model.":
        out = _siglip(config.get("vision_config") or {}, config_int(cfg, "hidden_size")) + out
    return out


def _decoder(cfg: dict, mtype: str, prefix: str) -> list[Param]:
    n = config_int(cfg, "num_hidden_layers", hi=MAX_LAYERS)
    hidden = config_int(cfg, "hidden_size")
    vocab = config_int(cfg, "vocab_size", VOCAB_DEFAULT.get(mtype), hi=1 << 26)
    tied = _bool(cfg, "tie_word_embeddings", TIED_DEFAULT.get(mtype, False))
    out = [Param(name=f"{prefix}embed_tokens.weight", shape=(vocab, hidden), role="embed",
                 part="embeddings", split="vocab")]
    kinds = _layer_kinds(cfg, mtype, n)
    for i in range(n):
        lp = f"{prefix}layers.{i}."
        if kinds[i] == "linear_attention":
            out += _gated_deltanet(cfg, lp + "linear_attn.", hidden)
        elif cfg.get("kv_lora_rank") is not None:
            out += _mla(cfg, lp + "self_attn.", hidden)
        else:
            out += _attention(cfg, mtype, lp + "self_attn.", hidden, kinds[i] == "sliding_attention")
        out += _mlp(cfg, mtype, lp + "mlp.", hidden, i)
        norms = ["input_layernorm", "post_attention_layernorm"]
        if mtype in ("gemma2", "gemma3_text"):
            norms += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
        out += [Param(name=f"{lp}{nm}.weight", shape=(hidden,), role="norm", part="other")
                for nm in norms]
    out.append(Param(name=f"{prefix}norm.weight", shape=(hidden,), role="norm", part="other"))
    if not tied:
        out.append(Param(name="lm_head.weight", shape=(vocab, hidden), role="lm_head",
                         part="embeddings", split="vocab"))
    return out


def _nemotron_nas(cfg: dict) -> list[Param]:
    """DeciLM / Nemotron-NAS (remote-code modeling_decilm.py; vLLM and SGLang nemotron_nas.py):
    per block, Llama attention with ``num_attention_heads // n_heads_in_group`` KV heads unless
    ``no_op`` (nothing, no norm) or ``replace_with_linear`` (one hidden × hidden Linear), and a
    Llama MLP of ``_find_multiple(int(2 · ffn_mult · hidden / 3), 256)`` (or the block's
    ``intermediate_size``) unless ``no_op`` / ``replace_with_linear``."""
    hidden = config_int(cfg, "hidden_size")
    heads = config_int(cfg, "num_attention_heads")
    hd = config_int(cfg, "head_dim", hidden // heads)
    vocab = config_int(cfg, "vocab_size", hi=1 << 26)
    out = [Param(name="model.embed_tokens.weight", shape=(vocab, hidden), role="embed",
                 part="embeddings", split="vocab")]
    for i, block in enumerate(cfg["block_configs"]):
        lp = f"model.layers.{i}."
        attn, ffn = block.get("attention") or {}, block.get("ffn") or {}
        if not isinstance(ffn, dict):
            raise ValueError(f"block_configs: layer {i}'s ffn must be an object")
        if attn.get("no_op") is not True:
            out.append(Param(name=lp + "input_layernorm.weight", shape=(hidden,), role="norm",
                             part="other"))
            if attn.get("replace_with_linear") is True:
                out += _linear(lp + "self_attn.linear_attn", hidden, hidden, "attention", "rep")
            else:
                kv = heads // config_int(attn, "n_heads_in_group", hi=heads)
                out += (_linear(lp + "self_attn.q_proj", heads * hd, hidden, "attention", "qkv")
                        + _linear(lp + "self_attn.k_proj", kv * hd, hidden, "attention", "qkv")
                        + _linear(lp + "self_attn.v_proj", kv * hd, hidden, "attention", "qkv")
                        + _linear(lp + "self_attn.o_proj", hidden, heads * hd, "attention", "row"))
        if ffn.get("no_op") is True:
            continue
        out.append(Param(name=lp + "post_attention_layernorm.weight", shape=(hidden,),
                         role="norm", part="other"))
        if ffn.get("replace_with_linear") is True:
            out += _linear(lp + "mlp.linear_mlp", hidden, hidden, "mlp", "rep")
            continue
        if ffn.get("intermediate_size") is not None:
            inter = config_int(ffn, "intermediate_size")
        else:
            mult = ffn.get("ffn_mult")
            if isinstance(mult, bool) or not isinstance(mult, (int, float)) or not 0 < mult <= 1024:
                raise ValueError(f"block_configs: layer {i}'s ffn_mult must be a positive number, "
                                 f"got {mult!r}")
            inter = int(2 * mult * hidden / 3)
            inter += -inter % 256  # _find_multiple(n, 256)
        out += _dense_mlp(lp + "mlp.", hidden, inter)
    out.append(Param(name="model.norm.weight", shape=(hidden,), role="norm", part="other"))
    if not _bool(cfg, "tie_word_embeddings", False):
        out.append(Param(name="lm_head.weight", shape=(vocab, hidden), role="lm_head",
                         part="embeddings", split="vocab"))
    return out


def _layer_kinds(cfg: dict, mtype: str, n: int) -> list[str]:
    if mtype == "qwen3_next":
        every = config_int(cfg, "full_attention_interval", 4, hi=MAX_LAYERS)
        return ["linear_attention" if (i + 1) % every else "full_attention" for i in range(n)]
    if mtype == "mimo_v2_flash":
        return layer_kinds(cfg, n)
    return ["full_attention"] * n


def _linear(name: str, out_f: int, in_f: int, part: str, split: str, *, bias: bool = False,
            role: str = "linear") -> list[Param]:
    ps = [Param(name=f"{name}.weight", shape=(out_f, in_f), role=role, part=part, split=split)]
    if bias:  # a column-parallel bias is split with its rows; a row-parallel one is whole
        ps.append(Param(name=f"{name}.bias", shape=(out_f,), role="bias", part=part,
                        split="col" if split in ("col", "qkv") else "rep"))
    return ps


def _attention(cfg: dict, mtype: str, p: str, hidden: int, sliding: bool = False) -> list[Param]:
    heads = config_int(cfg, "num_attention_heads")
    kv = config_int(cfg, "num_key_value_heads")
    hd = cfg.get("head_dim") or hidden // heads
    hd = config_int({"head_dim": hd}, "head_dim")
    vd = hd
    qkv_bias = mtype == "qwen2" or _bool(cfg, "attention_bias", False)
    o_bias = _bool(cfg, "attention_bias", False)
    if mtype == "mimo_v2_flash":  # MiMoV2FlashAttention: sliding layers 2 × KV heads, V narrower
        kv, vd, o_bias = kv * (2 if sliding else 1), config_int(cfg, "v_head_dim", hd), False
    q_out = heads * hd * (2 if mtype == "qwen3_next" else 1)  # Qwen3-Next: q and its gate
    if mtype == "phi3":  # Phi3Attention: one fused qkv_proj (no bias), then o_proj
        return (_linear(p + "qkv_proj", (heads + 2 * kv) * hd, hidden, "attention", "qkv")
                + _linear(p + "o_proj", hidden, heads * hd, "attention", "row"))
    out = (_linear(p + "q_proj", q_out, hidden, "attention", "qkv", bias=qkv_bias)
           + _linear(p + "k_proj", kv * hd, hidden, "attention", "qkv", bias=qkv_bias)
           + _linear(p + "v_proj", kv * vd, hidden, "attention", "qkv", bias=qkv_bias)
           + _linear(p + "o_proj", hidden, heads * vd, "attention", "row", bias=o_bias))
    if mtype == "minimax_m2":  # RMSNorm over all q / all k heads, split with them (vLLM TP norm)
        out += [Param(name=f"{p}q_norm.weight", shape=(heads * hd,), role="norm", part="attention",
                      split="col"),
                Param(name=f"{p}k_norm.weight", shape=(kv * hd,), role="norm", part="attention",
                      split="col")]
    if mtype == "mimo_v2_flash" and sliding:
        out.append(Param(name=p + "attention_sink_bias", shape=(heads,), role="other",
                         part="attention", split="col"))
    if mtype in ("qwen3", "qwen3_moe", "qwen3_next", "gemma3_text"):
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
        out += _linear(p + "q_proj", heads * (nope + rope), hidden, "attention", "col")
    else:
        q_rank = config_int(cfg, "q_lora_rank")
        out += _linear(p + "q_a_proj", q_rank, hidden, "attention", "rep")
        out.append(Param(name=p + "q_a_layernorm.weight", shape=(q_rank,), role="norm",
                         part="attention"))
        out += _linear(p + "q_b_proj", heads * (nope + rope), q_rank, "attention", "col")
    out += _linear(p + "kv_a_proj_with_mqa", rank + rope, hidden, "attention", "rep")
    out.append(Param(name=p + "kv_a_layernorm.weight", shape=(rank,), role="norm", part="attention"))
    out += _linear(p + "kv_b_proj", heads * (nope + v), rank, "attention", "col")
    out += _linear(p + "o_proj", hidden, heads * v, "attention", "row")
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
    return [*_linear(p + "wq_b", heads * dim, q_rank, "attention", "rep"),
            *_linear(p + "wk", dim, hidden, "attention", "rep"),
            Param(name=p + "k_norm.weight", shape=(dim,), role="norm", part="attention"),
            Param(name=p + "k_norm.bias", shape=(dim,), role="norm", part="attention"),
            Param(name=p + "weights_proj.weight", shape=(heads, hidden), role="other",
                  part="attention")]


def _gated_deltanet(cfg: dict, p: str, hidden: int) -> list[Param]:
    kh = config_int(cfg, "linear_num_key_heads")
    vh = config_int(cfg, "linear_num_value_heads")
    kd = config_int(cfg, "linear_key_head_dim")
    vd = config_int(cfg, "linear_value_head_dim")
    k_conv = config_int(cfg, "linear_conv_kernel_dim", hi=1024)
    conv_dim = 2 * kh * kd + vh * vd
    return [Param(name=p + "dt_bias", shape=(vh,), role="other", part="attention", split="col"),
            Param(name=p + "A_log", shape=(vh,), role="other", part="attention", split="col"),
            Param(name=p + "conv1d.weight", shape=(conv_dim, 1, k_conv), role="other",
                  part="attention", split="col"),
            *_linear(p + "in_proj_qkvz", 2 * kh * kd + 2 * vh * vd, hidden, "attention", "col"),
            *_linear(p + "in_proj_ba", 2 * vh, hidden, "attention", "col"),
            Param(name=p + "norm.weight", shape=(vd,), role="norm", part="attention"),
            *_linear(p + "out_proj", hidden, vh * vd, "attention", "row")]


def _dense_mlp(p: str, hidden: int, inter: int, part: str = "mlp") -> list[Param]:
    return (_linear(p + "gate_proj", inter, hidden, part, "col")
            + _linear(p + "up_proj", inter, hidden, part, "col")
            + _linear(p + "down_proj", hidden, inter, part, "row"))


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
            return _dense_mlp(p, hidden, config_int(cfg, "intermediate_size"))
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
    if mtype in ("qwen3_moe", "qwen3_next"):
        sparse = cfg.get("mlp_only_layers") or []
        if not isinstance(sparse, list) or not all(isinstance(x, int) for x in sparse):
            raise ValueError(f"mlp_only_layers: expected a list of layer indices, got {sparse!r}")
        step = config_int(cfg, "decoder_sparse_step", 1, hi=MAX_LAYERS)
        e = cfg.get("num_experts") or 0
        if i in sparse or not e or (i + 1) % step:
            return _dense_mlp(p, hidden, config_int(cfg, "intermediate_size"))
        e = config_int(cfg, "num_experts")
        out = [_router(p + "gate.weight", e, hidden)]
        out += _experts(p + "experts.", ("gate_proj", "up_proj", "down_proj"), hidden,
                        config_int(cfg, "moe_intermediate_size"), e)
        if mtype == "qwen3_next":
            out += _dense_mlp(p + "shared_expert.", hidden,
                              config_int(cfg, "shared_expert_intermediate_size"), "experts")
            out += _linear(p + "shared_expert_gate", 1, hidden, "experts", "rep", role="router")
        return out
    if mtype in ("deepseek_v2", "deepseek_v3", "kimi_k2", "deepseek_v32", "glm_moe_dsa"):
        e = cfg.get("n_routed_experts")
        first = config_int(cfg, "first_k_dense_replace", 0, lo=0, hi=MAX_LAYERS)
        freq = config_int(cfg, "moe_layer_freq", 1, hi=MAX_LAYERS)
        if e is None or i < first or i % freq:
            return _dense_mlp(p, hidden, config_int(cfg, "intermediate_size"))
        e = config_int(cfg, "n_routed_experts")
        inter = config_int(cfg, "moe_intermediate_size")
        out = [_router(p + "gate.weight", e, hidden)]
        if mtype != "deepseek_v2":  # noaux_tc routing keeps a per-expert correction bias (fp32)
            out.append(Param(name=p + "gate.e_score_correction_bias", shape=(e,), role="other",
                             part="experts", dtype="fp32"))
        out += _experts(p + "experts.", ("gate_proj", "up_proj", "down_proj"), hidden, inter, e)
        shared = config_int(cfg, "n_shared_experts", 0, lo=0, hi=1024)
        if shared:
            out += _dense_mlp(p + "shared_experts.", hidden, inter * shared, "experts")
        return out
    if mtype == "phi3":  # Phi3MLP: gate and up fused in one gate_up_proj
        inter = config_int(cfg, "intermediate_size")
        return (_linear(p + "gate_up_proj", 2 * inter, hidden, "mlp", "col")
                + _linear(p + "down_proj", hidden, inter, "mlp", "row"))
    return _dense_mlp(p, hidden, config_int(cfg, "intermediate_size"))


def _lfm2(cfg: dict) -> list[Param]:
    """LFM2 (transformers 5.23.0 ``modeling_lfm2.py``): per layer an operator (``Lfm2ShortConv``:
    in_proj 3·hidden, a depthwise Conv1d of ``conv_L_cache`` taps, out_proj; or ``Lfm2Attention``:
    q/k/v/out_proj with per-head q/k layernorms), ``operator_norm`` and ``ffn_norm``, and a SwiGLU
    ``feed_forward`` (w1, w3, w2) whose width ``Lfm2MLP`` derives from ``block_ff_dim``; the final
    norm is ``embedding_norm``; embeddings tied unless the config says otherwise."""
    n = config_int(cfg, "num_hidden_layers", hi=MAX_LAYERS)
    hidden = config_int(cfg, "hidden_size")
    vocab = config_int(cfg, "vocab_size", 65_536, hi=1 << 26)
    heads = config_int(cfg, "num_attention_heads")
    kv = config_int(cfg, "num_key_value_heads")
    hd = hidden // heads
    width = config_int(cfg, "conv_L_cache", 3, hi=1024)
    bias = _bool(cfg, "conv_bias", False)
    # Lfm2Config.__post_init__: block_ff_dim overrides intermediate_size; Lfm2MLP: 2/3 of it, times
    # block_ffn_dim_multiplier, rounded up to block_multiple_of (only when the multiplier is set)
    inter = config_int(cfg, "block_ff_dim", None) if cfg.get("block_ff_dim") is not None else \
        config_int(cfg, "intermediate_size", 12_288)
    if _bool(cfg, "block_auto_adjust_ff_dim", True):
        inter = int(2 * inter / 3)
        mult = cfg.get("block_ffn_dim_multiplier", 1.0)
        if mult is not None:
            if isinstance(mult, bool) or not isinstance(mult, (int, float)) or not 0 < mult <= 1024:
                raise ValueError(f"block_ffn_dim_multiplier: expected a positive number, got {mult!r}")
            step = config_int(cfg, "block_multiple_of", 256)
            inter = step * -(-int(mult * inter) // step)
    out = [Param(name="model.embed_tokens.weight", shape=(vocab, hidden), role="embed",
                 part="embeddings", split="vocab")]
    for i, kind in enumerate(layer_kinds(cfg, n)):
        lp = f"model.layers.{i}."
        if kind == "conv":
            out += (_linear(lp + "conv.in_proj", 3 * hidden, hidden, "attention", "col", bias=bias)
                    + [Param(name=lp + "conv.conv.weight", shape=(hidden, 1, width), role="other",
                             part="attention", split="col")]
                    + ([Param(name=lp + "conv.conv.bias", shape=(hidden,), role="bias",
                              part="attention", split="col")] if bias else [])
                    + _linear(lp + "conv.out_proj", hidden, hidden, "attention", "row", bias=bias))
        else:
            sp = lp + "self_attn."
            out += (_linear(sp + "q_proj", heads * hd, hidden, "attention", "qkv")
                    + _linear(sp + "k_proj", kv * hd, hidden, "attention", "qkv")
                    + _linear(sp + "v_proj", kv * hd, hidden, "attention", "qkv")
                    + _linear(sp + "out_proj", hidden, heads * hd, "attention", "row")
                    + [Param(name=f"{sp}{nm}.weight", shape=(hd,), role="norm", part="attention")
                       for nm in ("q_layernorm", "k_layernorm")])
        fp = lp + "feed_forward."
        out += (_linear(fp + "w1", inter, hidden, "mlp", "col")
                + _linear(fp + "w3", inter, hidden, "mlp", "col")
                + _linear(fp + "w2", hidden, inter, "mlp", "row")
                + [Param(name=f"{lp}{nm}.weight", shape=(hidden,), role="norm", part="other")
                   for nm in ("operator_norm", "ffn_norm")])
    out.append(Param(name="model.embedding_norm.weight", shape=(hidden,), role="norm", part="other"))
    tied = cfg.get("tie_embedding", cfg.get("tie_word_embeddings", True))
    if tied is not True:
        out.append(Param(name="lm_head.weight", shape=(vocab, hidden), role="lm_head",
                         part="embeddings", split="vocab"))
    return out


def _gpt2(cfg: dict) -> list[Param]:
    n = config_int(cfg, "num_hidden_layers", hi=MAX_LAYERS)
    d = config_int(cfg, "hidden_size")
    vocab = config_int(cfg, "vocab_size", VOCAB_DEFAULT["gpt2"], hi=1 << 26)
    ctx = config_int(cfg, "max_position_embeddings", hi=1 << 24)
    inner = cfg.get("n_inner") or 4 * d

    def conv1d(name: str, in_f: int, out_f: int, split: str) -> list[Param]:
        # GPT-2's Conv1D stores the transpose, [in, out]; kept here as the Linear's [out, in]
        # (same elements and bytes) so that splits and formats read it like any Linear.
        return [Param(name=f"{name}.weight", shape=(out_f, in_f), role="linear", part="attention"
                      if ".attn." in name else "mlp", split=split),
                Param(name=f"{name}.bias", shape=(out_f,), role="bias", part="other",
                      split="col" if split in ("col", "qkv") else "rep")]

    def ln(name: str) -> list[Param]:
        return [Param(name=f"{name}.{k}", shape=(d,), role="norm", part="other") for k in ("weight", "bias")]

    out = [Param(name="transformer.wte.weight", shape=(vocab, d), role="embed", part="embeddings",
                 split="vocab"),
           Param(name="transformer.wpe.weight", shape=(ctx, d), role="other", part="embeddings")]
    for i in range(n):
        p = f"transformer.h.{i}."
        out += (ln(p + "ln_1") + conv1d(p + "attn.c_attn", d, 3 * d, "qkv")
                + conv1d(p + "attn.c_proj", d, d, "row") + ln(p + "ln_2")
                + conv1d(p + "mlp.c_fc", d, inner, "col") + conv1d(p + "mlp.c_proj", inner, d, "row"))
    return out + ln("transformer.ln_f")


def _siglip(vision: dict, text_hidden: int) -> list[Param]:
    """Gemma 3's SigLIP vision tower (no head) and its multimodal projector."""
    if not isinstance(vision, dict):
        raise ValueError("vision_config: expected a JSON object")
    d = config_int(vision, "hidden_size", 768)
    inter = config_int(vision, "intermediate_size", 3072)
    n = config_int(vision, "num_hidden_layers", 12, hi=MAX_LAYERS)
    ch = config_int(vision, "num_channels", 3, hi=64)
    patch = config_int(vision, "patch_size", 16, hi=4096)
    image = config_int(vision, "image_size", 224, hi=1 << 16)
    vp = "model.vision_tower."

    def lin(name: str, out_f: int, in_f: int) -> list[Param]:
        return [Param(name=f"{name}.weight", shape=(out_f, in_f), role="other", part="vision"),
                Param(name=f"{name}.bias", shape=(out_f,), role="other", part="vision")]

    def ln(name: str) -> list[Param]:
        return [Param(name=f"{name}.{k}", shape=(d,), role="other", part="vision")
                for k in ("weight", "bias")]

    out = [Param(name=vp + "embeddings.patch_embedding.weight", shape=(d, ch, patch, patch),
                 role="other", part="vision"),
           Param(name=vp + "embeddings.patch_embedding.bias", shape=(d,), role="other", part="vision"),
           Param(name=vp + "embeddings.position_embedding.weight", shape=((image // patch) ** 2, d),
                 role="other", part="vision")]
    for i in range(n):
        lp = f"{vp}encoder.layers.{i}."
        out += ln(lp + "layer_norm1")
        for nm in ("k_proj", "v_proj", "q_proj", "out_proj"):
            out += lin(f"{lp}self_attn.{nm}", d, d)
        out += ln(lp + "layer_norm2") + lin(lp + "mlp.fc1", inter, d) + lin(lp + "mlp.fc2", d, inter)
    out += ln(vp + "post_layernorm")
    out += [Param(name="model.multi_modal_projector.mm_input_projection_weight",
                  shape=(d, text_hidden), role="other", part="vision"),
            Param(name="model.multi_modal_projector.mm_soft_emb_norm.weight", shape=(d,),
                  role="other", part="vision")]
    return out


def param_count(params: list[Param]) -> int:
    """Parameters (elements) of the listed tensors."""
    return sum(p.numel for p in params)
