"""Every stored tensor of a Gemma 4 checkpoint (text, or text + vision), from config.json alone.

Read from transformers 5.23.0 ``models/gemma4/modeling_gemma4.py``:

- ``Gemma4TextAttention``: sliding layers use ``head_dim`` and ``num_key_value_heads``, full
  layers ``global_head_dim`` and ``num_global_key_value_heads``; with ``attention_k_eq_v`` a full
  layer has no v_proj (its keys are its values); q_norm / k_norm over the head (v_norm has no
  weight).
- ``Gemma4TextDecoderLayer``: four RMSNorms, a ``layer_scalar`` buffer, the dense
  ``Gemma4TextMLP`` and, with ``enable_moe_block``, a router (``proj`` [E, H], ``scale`` [H],
  ``per_expert_scale`` [E]), stacked experts (``gate_up_proj`` [E, 2I, H], ``down_proj``
  [E, H, I]) and three more RMSNorms.
- ``Gemma4VisionModel``: a bias-free patch Linear over 3 · patch² values, a 2 × ``position_
  embedding_size`` position table, layers of q/k/v/o and gate/up/down ``Gemma4ClippableLinear``
  (``.linear.weight``, four scalar bounds each with ``use_clipped_linears``), q/k norms over the
  head and four RMSNorms; ``std_bias`` / ``std_scale`` with ``standardize``;
  ``Gemma4MultimodalEmbedder``'s ``embedding_projection`` to the text width.

vLLM (``gemma4.py``, ``gemma4_mm.py`` at 811d80519) splits the text layers as any decoder
(per-layer head counts: ``Param.kv_heads``), builds the vision tower from transformers (whole on
every GPU) and the projection as a ReplicatedLinear. Per-layer input embeddings (Gemma 3n style),
KV-shared layers and audio towers are not listed: such configs raise ``UnknownArchitecture``.
"""
from __future__ import annotations

from ..config_fields import MAX_LAYERS
from ..layer_pattern import layer_kinds
from .shape_parts import Param, config_int, dense_mlp, final_norm_and_head, flag, linear, vision_config


def unlisted(config: dict, cfg: dict) -> str | None:
    """The field that makes a Gemma 4 config one whose tensors are not listed here, if any."""
    if config_int(cfg, "hidden_size_per_layer_input", 0, lo=0):
        return "hidden_size_per_layer_input"
    if config_int(cfg, "num_kv_shared_layers", 0, lo=0, hi=MAX_LAYERS):
        return "num_kv_shared_layers"
    if config.get("audio_config"):
        return "audio_config"
    return None


def gemma4_text(cfg: dict, prefix: str) -> list[Param]:
    n = config_int(cfg, "num_hidden_layers", hi=MAX_LAYERS)
    hidden = config_int(cfg, "hidden_size")
    vocab = config_int(cfg, "vocab_size", 262_144, hi=1 << 26)
    heads = config_int(cfg, "num_attention_heads")
    bias = flag(cfg, "attention_bias", False)
    k_eq_v = flag(cfg, "attention_k_eq_v", False)
    moe = flag(cfg, "enable_moe_block", False)
    kinds = layer_kinds(cfg, n)
    out = [Param(name=f"{prefix}embed_tokens.weight", shape=(vocab, hidden), role="embed",
                 part="embeddings", split="vocab")]
    for i in range(n):
        lp, ap = f"{prefix}layers.{i}.", f"{prefix}layers.{i}.self_attn."
        full = kinds[i] == "full_attention"
        hd = config_int(cfg, "global_head_dim" if full else "head_dim",
                        cfg.get("head_dim") if full else None)
        kv = config_int(cfg, "num_global_key_value_heads" if full else "num_key_value_heads",
                        cfg.get("num_key_value_heads") if full else None)

        def qkv(name: str, rows: int) -> list[Param]:
            return [Param(name=f"{ap}{name}.weight", shape=(rows, hidden), role="linear",
                          part="attention", split="qkv", kv_heads=kv)]

        out.append(Param(name=lp + "layer_scalar", shape=(1,), role="other", part="other"))
        out += qkv("q_proj", heads * hd) + qkv("k_proj", kv * hd)
        if not (full and k_eq_v):
            out += qkv("v_proj", kv * hd)
        if bias:
            raise ValueError("attention_bias: Gemma 4 with attention biases is not listed")
        out += linear(ap + "o_proj", hidden, heads * hd, "attention", "row")
        out += [Param(name=f"{ap}{nm}.weight", shape=(hd,), role="norm", part="attention")
                for nm in ("q_norm", "k_norm")]
        out += dense_mlp(lp + "mlp.", hidden, config_int(cfg, "intermediate_size"))
        norms = ["input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                 "post_feedforward_layernorm"]
        if moe:
            e = config_int(cfg, "num_experts")
            inter = config_int(cfg, "moe_intermediate_size")
            out += [Param(name=lp + "router.scale", shape=(hidden,), role="other", part="experts"),
                    Param(name=lp + "router.per_expert_scale", shape=(e,), role="other",
                          part="experts"),
                    Param(name=lp + "router.proj.weight", shape=(e, hidden), role="router",
                          part="experts"),
                    Param(name=lp + "experts.gate_up_proj", shape=(2 * inter, hidden),
                          role="expert", part="experts", count=e, split="col"),
                    Param(name=lp + "experts.down_proj", shape=(hidden, inter), role="expert",
                          part="experts", count=e, split="row")]
            norms += ["post_feedforward_layernorm_1", "post_feedforward_layernorm_2",
                      "pre_feedforward_layernorm_2"]
        out += [Param(name=f"{lp}{nm}.weight", shape=(hidden,), role="norm", part="other")
                for nm in norms]
    return out + final_norm_and_head(f"{prefix}norm.weight", vocab, hidden,
                                     flag(cfg, "tie_word_embeddings", True))


def gemma4_vision(config: dict, text_hidden: int) -> list[Param]:
    vision = vision_config(config)
    d = config_int(vision, "hidden_size", 768)
    inter = config_int(vision, "intermediate_size", 3072)
    n = config_int(vision, "num_hidden_layers", 16, hi=MAX_LAYERS)
    heads = config_int(vision, "num_attention_heads", 12)
    kv = config_int(vision, "num_key_value_heads", heads)
    hd = config_int(vision, "head_dim", 64)
    patch = config_int(vision, "patch_size", 16, hi=4096)
    positions = config_int(vision, "position_embedding_size", 10240, hi=1 << 24)
    clipped = flag(vision, "use_clipped_linears", False)
    vp = "model.vision_tower."

    def p(name: str, *shape: int) -> Param:
        return Param(name=name, shape=shape, role="other", part="vision")

    def lin(name: str, out_f: int, in_f: int) -> list[Param]:
        bounds = ("input_min", "input_max", "output_min", "output_max") if clipped else ()
        return [p(f"{name}.linear.weight", out_f, in_f)] + [p(f"{name}.{b}") for b in bounds]

    out = [p(vp + "std_bias", d), p(vp + "std_scale", d)] if flag(vision, "standardize", False) else []
    out += [p(vp + "patch_embedder.position_embedding_table", 2, positions, d),
            p(vp + "patch_embedder.input_proj.weight", d, 3 * patch * patch)]
    for i in range(n):
        lp = f"{vp}encoder.layers.{i}."
        out += (lin(lp + "self_attn.q_proj", heads * hd, d) + lin(lp + "self_attn.k_proj", kv * hd, d)
                + lin(lp + "self_attn.v_proj", kv * hd, d) + lin(lp + "self_attn.o_proj", d, heads * hd))
        out += [p(lp + "self_attn.q_norm.weight", hd), p(lp + "self_attn.k_norm.weight", hd)]
        out += (lin(lp + "mlp.gate_proj", inter, d) + lin(lp + "mlp.up_proj", inter, d)
                + lin(lp + "mlp.down_proj", d, inter))
        out += [p(f"{lp}{nm}.weight", d) for nm in ("input_layernorm", "post_attention_layernorm",
                                                     "pre_feedforward_layernorm",
                                                     "post_feedforward_layernorm")]
    out.append(p("model.embed_vision.embedding_projection.weight", text_hidden,
                 config_int(vision, "output_proj_dims", d)))
    return out


def gemma4(config: dict, cfg: dict) -> list[Param]:
    """``Gemma4ForConditionalGeneration`` (``model.language_model.*``, ``model.vision_tower.*``)
    or a text-only ``Gemma4ForCausalLM`` (``model.*``); ``cfg`` is the normalized text config."""
    if config.get("vision_config"):
        return (gemma4_vision(config, config_int(cfg, "hidden_size"))
                + gemma4_text(cfg, "model.language_model."))
    return gemma4_text(cfg, "model.")
