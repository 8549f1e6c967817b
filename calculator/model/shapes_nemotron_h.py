"""Every stored tensor of the Mamba-2 hybrids, from config.json alone: Nemotron-H (Nemotron-H 8B /
47B / 56B, Nemotron-Nano-9B / 12B v2, Nemotron-3-Nano-30B-A3B, Nemotron-3-Super's latent MoE) and
Granite 4.0-H (``granitemoehybrid``, at the end).

Read from transformers 5.23.0 ``models/nemotron_h/modeling_nemotron_h.py`` (names as the
checkpoints ship them: ``backbone.embeddings``, ``backbone.layers.N.mixer.*``, ``backbone.norm_f``,
``lm_head``) and vLLM 811d80519 ``model_executor/models/nemotron_h.py`` /
``layers/mamba/mamba_mixer2.py`` (how each tensor splits over TP). One block per layer, from
``layers_block_type`` or the older ``hybrid_override_pattern`` (``M`` Mamba-2, ``*`` attention,
``-`` MLP, ``E`` MoE), each with one RMSNorm ``norm``:

- Mamba-2 (``NemotronHMamba2Mixer`` / vLLM ``MambaMixer2``): ``in_proj`` [2·I + 2·G·N + H, hidden]
  (I = mamba_num_heads × mamba_head_dim, G = n_groups, N = ssm_state_size, H = mamba_num_heads;
  bias with ``use_bias``), a depthwise ``conv1d`` [I + 2·G·N, 1, conv_kernel] (bias with
  ``use_conv_bias``; vLLM builds it with ``quant_config=None``, so it stays in the model dtype),
  ``A_log`` / ``D`` / ``dt_bias`` [H], the gated norm [I] and ``out_proj`` [hidden, I]. vLLM splits
  in_proj and conv1d by groups and heads; when TP does not divide G (only G = 1 is allowed) it
  gives every rank a copy of the group (``extra_groups_for_head_shards``): split ``mamba`` below.
- attention: bias-free q/k/v/o, no rope (``head_dim``, else hidden / heads).
- MLP (``NemotronHMLP``): non-gated relu² ``up_proj`` / ``down_proj``; ``intermediate_size`` may be
  a list indexed by the MLP block's position.
- MoE (``NemotronHMoE``): a router ``gate`` [E, hidden] with a float32 ``e_score_correction_bias``,
  routed experts of ``moe_intermediate_size`` with ``up_proj`` / ``down_proj`` only (vLLM's
  ``FusedMoE(is_act_and_mul=False)``: w13 is [E, I/tp, h]), a shared expert of
  ``moe_shared_expert_intermediate_size × n_shared_experts``, and with ``moe_latent_size`` the
  routed experts work in that width between ``fc1_latent_proj`` / ``fc2_latent_proj``
  (``ReplicatedLinear`` in vLLM: whole on every rank).

MTP layers (``num_nextn_predict_layers``) are neither built by transformers nor loaded by vLLM
without speculative decoding (``skip_prefixes=["mtp"]``), so they are not listed.
"""
from __future__ import annotations

from ..config_fields import MAX_LAYERS
from ..hf_config import NEMOTRON_BLOCK_TYPES
from .shape_parts import Param, config_int, final_norm_and_head, flag, linear, stacked_experts


def blocks(cfg: dict) -> list[str]:
    """One of mamba / attention / mlp / moe per layer."""
    listed = cfg.get("layers_block_type") or cfg.get("hybrid_override_pattern")
    if not isinstance(listed, (list, str)) or not 0 < len(listed) <= MAX_LAYERS or \
            any(not isinstance(b, str) or b not in NEMOTRON_BLOCK_TYPES for b in listed):
        raise ValueError("layers_block_type: expected blocks among "
                         + ", ".join(repr(k) for k in NEMOTRON_BLOCK_TYPES))
    return [NEMOTRON_BLOCK_TYPES[b] for b in listed]


def _mamba(cfg: dict, p: str, hidden: int, *, heads: int, inner: int, groups: int, state: int,
           kernel: int, bias: bool, conv_bias: bool) -> list[Param]:
    """One ``MambaMixer2``'s tensors (``heads`` SSM heads, width ``inner``, ``groups`` B/C groups
    of ``state``)."""
    if inner % groups:
        raise ValueError(f"n_groups: {groups} does not divide the Mamba width {inner}")
    conv = inner + 2 * groups * state
    g = (groups, state)
    out = [Param(name=p + "in_proj.weight", shape=(inner + conv + heads, hidden), role="linear",
                 part="attention", split="mamba", groups=g)]
    if bias:
        out.append(Param(name=p + "in_proj.bias", shape=(inner + conv + heads,), role="bias",
                         part="attention", split="mamba", groups=g))
    out.append(Param(name=p + "conv1d.weight", shape=(conv, 1, kernel), role="other",
                     part="attention", split="mamba", groups=g))
    if conv_bias:
        out.append(Param(name=p + "conv1d.bias", shape=(conv,), role="bias", part="attention",
                         split="mamba", groups=g))
    out += [Param(name=p + nm, shape=(heads,), role="other", part="attention", split="col")
            for nm in ("dt_bias", "A_log", "D")]
    out.append(Param(name=p + "norm.weight", shape=(inner,), role="norm", part="attention",
                     split="col"))
    return out + linear(p + "out_proj", hidden, inner, "attention", "row", bias=bias)


def _attention(cfg: dict, p: str, hidden: int, bias: bool = False, head_dim: bool = True
               ) -> list[Param]:
    """q/k/v/o without rope; ``head_dim``: the config's field sets it (else hidden / heads)."""
    heads = config_int(cfg, "num_attention_heads")
    kv = config_int(cfg, "num_key_value_heads")
    hd = config_int(cfg, "head_dim", hidden // heads) if head_dim else hidden // heads
    return (linear(p + "q_proj", heads * hd, hidden, "attention", "qkv", bias=bias)
            + linear(p + "k_proj", kv * hd, hidden, "attention", "qkv", bias=bias)
            + linear(p + "v_proj", kv * hd, hidden, "attention", "qkv", bias=bias)
            + linear(p + "o_proj", hidden, heads * hd, "attention", "row", bias=bias))


def _mlp(p: str, hidden: int, inter: int, part: str, bias: bool) -> list[Param]:
    return (linear(p + "up_proj", inter, hidden, part, "col", bias=bias)
            + linear(p + "down_proj", hidden, inter, part, "row", bias=bias))


def _mlp_width(cfg: dict, index: int) -> int:
    inter = cfg.get("intermediate_size", 21504)
    if isinstance(inter, list):
        if not inter:
            raise ValueError("intermediate_size: expected a number or a non-empty list")
        if len(inter) != 1 and index >= len(inter):
            raise ValueError(f"intermediate_size: {len(inter)} widths for more MLP blocks")
        return config_int({"intermediate_size": inter[0 if len(inter) == 1 else index]},
                          "intermediate_size")
    return config_int(cfg, "intermediate_size", 21504)


def _moe(cfg: dict, p: str, hidden: int, bias: bool) -> list[Param]:
    e = config_int(cfg, "n_routed_experts", 8)
    inter = config_int(cfg, "moe_intermediate_size", 7688)
    latent = cfg.get("moe_latent_size")
    width = hidden if latent is None else config_int(cfg, "moe_latent_size")
    out = [Param(name=p + "gate.weight", shape=(e, hidden), role="router", part="experts"),
           Param(name=p + "gate.e_score_correction_bias", shape=(e,), role="other",
                 part="experts", dtype="fp32"),
           Param(name=p + "experts.{e}.up_proj.weight", shape=(inter, width), role="expert",
                 part="experts", count=e, split="col"),
           Param(name=p + "experts.{e}.down_proj.weight", shape=(width, inter), role="expert",
                 part="experts", count=e, split="row")]
    shared = config_int(cfg, "n_shared_experts", 1, lo=0)
    if shared:
        width_shared = config_int(cfg, "moe_shared_expert_intermediate_size", 7688) * shared
        out += _mlp(p + "shared_experts.", hidden, width_shared, "experts", bias)
    if latent is not None:
        out += (linear(p + "fc1_latent_proj", width, hidden, "experts", "rep", bias=bias)
                + linear(p + "fc2_latent_proj", hidden, width, "experts", "rep", bias=bias))
    return out


def nemotron_h(cfg: dict) -> list[Param]:
    """The checkpoint's tensors, ``cfg`` normalised."""
    hidden = config_int(cfg, "hidden_size")
    vocab = config_int(cfg, "vocab_size", 131_072, hi=1 << 26)
    bias = flag(cfg, "mlp_bias", False)
    out = [Param(name="backbone.embeddings.weight", shape=(vocab, hidden), role="embed",
                 part="embeddings", split="vocab")]
    mlps = 0
    for i, kind in enumerate(blocks(cfg)):
        p = f"backbone.layers.{i}.mixer."
        if kind == "mamba":
            heads = config_int(cfg, "mamba_num_heads")
            out += _mamba(cfg, p, hidden, heads=heads,
                          inner=heads * config_int(cfg, "mamba_head_dim"),
                          groups=config_int(cfg, "n_groups", 8),
                          state=config_int(cfg, "ssm_state_size", 128),
                          kernel=config_int(cfg, "conv_kernel", 4, hi=1024),
                          bias=flag(cfg, "use_bias", False),
                          conv_bias=flag(cfg, "use_conv_bias", True))
        elif kind == "attention":
            out += _attention(cfg, p, hidden)
        elif kind == "mlp":
            out += _mlp(p, hidden, _mlp_width(cfg, mlps), "mlp", bias)
            mlps += 1
        else:
            out += _moe(cfg, p, hidden, bias)
        out.append(Param(name=f"backbone.layers.{i}.norm.weight", shape=(hidden,), role="norm",
                         part="other"))
    return out + final_norm_and_head("backbone.norm_f.weight", vocab, hidden,
                                     flag(cfg, "tie_word_embeddings", False))


def granite_hybrid(cfg: dict) -> list[Param]:
    """Granite 4.0-H (transformers 5.23.0 ``modeling_granitemoehybrid.py``; vLLM 811d80519
    ``granitemoehybrid.py``), names as its checkpoints ship them: per ``layer_types`` entry a
    ``mamba`` mixer (width ``mamba_expand × hidden``, ``mamba_n_heads`` of ``mamba_d_head``,
    ``mamba_n_groups`` groups of ``mamba_d_state``; Granite-4.0-H-Tiny has one group, which vLLM
    copies to every TP rank) or ``self_attn`` (q/k/v/o, bias with ``attention_bias``), then with
    ``num_local_experts`` a ``block_sparse_moe`` (``router.layer`` [E, hidden], ``input_linear``
    [E, 2·I, hidden] and ``output_linear`` [E, hidden, I]: vLLM's w13 / w2), with
    ``shared_intermediate_size`` a ``shared_mlp`` (``input_linear`` [2·S, hidden],
    ``output_linear`` [hidden, S]), and the input / post-attention RMSNorms."""
    n = config_int(cfg, "num_hidden_layers", hi=MAX_LAYERS)
    hidden = config_int(cfg, "hidden_size")
    vocab = config_int(cfg, "vocab_size", 32_000, hi=1 << 26)
    kinds = cfg.get("layer_types") or ["mamba"] * n
    if not isinstance(kinds, list) or len(kinds) != n or \
            any(k not in ("mamba", "attention") for k in kinds):
        raise ValueError(f"layer_types: expected {n} entries of 'mamba' / 'attention'")
    experts = config_int(cfg, "num_local_experts", 0, lo=0)
    shared = config_int(cfg, "shared_intermediate_size", 0, lo=0)
    attn_bias = flag(cfg, "attention_bias", False)
    out = [Param(name="model.embed_tokens.weight", shape=(vocab, hidden), role="embed",
                 part="embeddings", split="vocab")]
    for i, kind in enumerate(kinds):
        lp = f"model.layers.{i}."
        if kind == "mamba":
            m_heads = config_int(cfg, "mamba_n_heads", 128)
            out += _mamba(cfg, lp + "mamba.", hidden, heads=m_heads,
                          inner=config_int(cfg, "mamba_expand", 2) * hidden,
                          groups=config_int(cfg, "mamba_n_groups", 1),
                          state=config_int(cfg, "mamba_d_state", 256),
                          kernel=config_int(cfg, "mamba_d_conv", 4, hi=1024),
                          bias=flag(cfg, "mamba_proj_bias", False),
                          conv_bias=flag(cfg, "mamba_conv_bias", True))
        else:  # GraniteMoeHybridAttention: head size hidden / heads
            out += _attention(cfg, lp + "self_attn.", hidden, attn_bias, head_dim=False)
        if experts:
            inter = config_int(cfg, "intermediate_size")
            mp = lp + "block_sparse_moe."
            out += stacked_experts(mp + "router.layer.weight", mp + "input_linear.weight",
                                   mp + "output_linear.weight", experts, hidden, inter)
        if shared:
            out += (linear(lp + "shared_mlp.input_linear", 2 * shared, hidden, "mlp", "col")
                    + linear(lp + "shared_mlp.output_linear", hidden, shared, "mlp", "row"))
        out += [Param(name=f"{lp}{nm}.weight", shape=(hidden,), role="norm", part="other")
                for nm in ("input_layernorm", "post_attention_layernorm")]
    return out + final_norm_and_head("model.norm.weight", vocab, hidden,
                                     flag(cfg, "tie_word_embeddings", False))
