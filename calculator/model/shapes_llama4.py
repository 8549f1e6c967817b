"""Every stored tensor of a Llama 4 checkpoint (Scout, Maverick), from its config.json alone.

Read from transformers 5.23.0 ``models/llama4/modeling_llama4.py``:

- ``Llama4TextDecoderLayer``: bias-free q/k/v/o (``use_qk_norm`` is an L2 norm without weights),
  two RMSNorms, and a feed-forward that is ``Llama4TextMoe`` on the layers of ``moe_layers``
  (by default every ``interleave_moe_layer_step``-th: ``(i + 1) % step == 0``) and a dense
  ``Llama4TextMLP`` of ``intermediate_size_mlp`` elsewhere (Maverick alternates, Scout is all MoE).
- ``Llama4TextMoe``: a router [E, H], the routed experts stacked per layer (``Llama4TextExperts``:
  ``gate_up_proj`` [E, H, 2I] and ``down_proj`` [E, I, H], stored as the input-major transpose
  of a Linear; listed here as [2I, H] / [H, I] per expert, the same elements, so that they
  split like vLLM's w13 / w2) and one shared expert of ``intermediate_size``.
- ``Llama4VisionModel``: an unfolded-patch Linear (no bias), a class embedding, a position table
  of (image / patch)² + 1 rows, LayerNorms before and after ``num_hidden_layers`` encoder layers
  (biased q/k/v/o, biased fc1 / fc2, two LayerNorms), then the pixel-shuffle adapter's bias-free
  fc1 [projector_input_dim, intermediate_size] and fc2 [out, out];
  ``Llama4MultiModalProjector``'s linear_1 maps ``vision_output_dim`` to the text width.

vLLM's ``llama4.py`` / ``mllama4.py`` split the tower over TP unless the encoder runs
data-parallel: the patch Linear, fc1 and the projector ColumnParallelLinear, q/k/v
QKVParallelLinear (every head a KV head), o_proj and fc2 RowParallelLinear; the embeddings and
LayerNorms stay whole; the router is a ReplicatedLinear.
"""
from __future__ import annotations

from ..config_fields import MAX_LAYERS
from .shape_parts import (Param, config_int, dense_mlp, final_norm_and_head, flag, linear,
                          stacked_experts, vision_config)


def _moe_layers(cfg: dict, n: int) -> set[int]:
    listed = cfg.get("moe_layers")
    if listed is not None:
        if not isinstance(listed, list) or any(isinstance(i, bool) or not isinstance(i, int)
                                               or not 0 <= i < n for i in listed):
            raise ValueError(f"moe_layers: expected layer indices below {n}")
        return set(listed)
    step = config_int(cfg, "interleave_moe_layer_step", 1, hi=MAX_LAYERS)
    return set(range(step - 1, n, step))


def llama4_text(cfg: dict, prefix: str, head: str) -> list[Param]:
    """The language model: ``prefix`` before ``embed_tokens`` / ``layers`` / ``norm``, ``head``
    the lm_head's name."""
    n = config_int(cfg, "num_hidden_layers", hi=MAX_LAYERS)
    hidden = config_int(cfg, "hidden_size")
    vocab = config_int(cfg, "vocab_size", hi=1 << 26)
    heads = config_int(cfg, "num_attention_heads")
    kv = config_int(cfg, "num_key_value_heads")
    hd = config_int(cfg, "head_dim", hidden // heads)
    bias = flag(cfg, "attention_bias", False)
    moe = _moe_layers(cfg, n)
    out = [Param(name=f"{prefix}embed_tokens.weight", shape=(vocab, hidden), role="embed",
                 part="embeddings", split="vocab")]
    for i in range(n):
        lp = f"{prefix}layers.{i}."
        ap, fp = lp + "self_attn.", lp + "feed_forward."
        out += (linear(ap + "q_proj", heads * hd, hidden, "attention", "qkv", bias=bias)
                + linear(ap + "k_proj", kv * hd, hidden, "attention", "qkv", bias=bias)
                + linear(ap + "v_proj", kv * hd, hidden, "attention", "qkv", bias=bias)
                + linear(ap + "o_proj", hidden, heads * hd, "attention", "row", bias=bias))
        if i in moe:
            e = config_int(cfg, "num_local_experts")
            inter = config_int(cfg, "intermediate_size")
            out += stacked_experts(fp + "router.weight", fp + "experts.gate_up_proj",
                                   fp + "experts.down_proj", e, hidden, inter)
            out += dense_mlp(fp + "shared_expert.", hidden, inter, "experts")
        else:
            out += dense_mlp(fp, hidden, config_int(cfg, "intermediate_size_mlp", 16384))
        out += [Param(name=f"{lp}{nm}.weight", shape=(hidden,), role="norm", part="other")
                for nm in ("input_layernorm", "post_attention_layernorm")]
    return out + final_norm_and_head(f"{prefix}norm.weight", vocab, hidden,
                                     flag(cfg, "tie_word_embeddings", False), head)


def llama4_vision(config: dict, text_hidden: int) -> list[Param]:
    """The vision tower, its pixel-shuffle adapter and the projector (``Llama4VisionConfig``'s
    defaults where the config leaves a size out)."""
    vision = vision_config(config)
    d = config_int(vision, "hidden_size", 768)
    inter = config_int(vision, "intermediate_size", 5632)
    n = config_int(vision, "num_hidden_layers", 34, hi=MAX_LAYERS)
    ch = config_int(vision, "num_channels", 3, hi=64)
    patch = config_int(vision, "patch_size", 14, hi=4096)
    image = config_int(vision, "image_size", 448, hi=1 << 16)
    proj_in = config_int(vision, "projector_input_dim", 4096)
    proj_out = config_int(vision, "projector_output_dim", 4096)
    vision_out = config_int(vision, "vision_output_dim", 7680)
    vp = "vision_model."

    def p(name: str, *shape: int) -> Param:
        return Param(name=name, shape=shape, role="other", part="vision")

    def lin(name: str, out_f: int, in_f: int, split: str, bias: bool = True) -> list[Param]:
        return linear(name, out_f, in_f, "vision", split, bias=bias, role="other")

    def ln(name: str) -> list[Param]:
        return [p(f"{name}.weight", d), p(f"{name}.bias", d)]

    out = [p(vp + "class_embedding", d), p(vp + "positional_embedding_vlm", (image // patch) ** 2 + 1, d),
           *lin(vp + "patch_embedding.linear", d, ch * patch * patch, "col", bias=False),
           *ln(vp + "layernorm_pre"), *ln(vp + "layernorm_post")]
    for i in range(n):
        lp = f"{vp}model.layers.{i}."
        for nm in ("q_proj", "k_proj", "v_proj"):
            out += lin(f"{lp}self_attn.{nm}", d, d, "col")
        out += lin(lp + "self_attn.o_proj", d, d, "row")
        out += lin(lp + "mlp.fc1", inter, d, "col") + lin(lp + "mlp.fc2", d, inter, "row")
        out += ln(lp + "input_layernorm") + ln(lp + "post_attention_layernorm")
    out += lin(vp + "vision_adapter.mlp.fc1", proj_in, inter, "col", bias=False)
    out += lin(vp + "vision_adapter.mlp.fc2", proj_out, proj_out, "row", bias=False)
    return out + lin("multi_modal_projector.linear_1", text_hidden, vision_out, "col", bias=False)


def llama4(config: dict, cfg: dict) -> list[Param]:
    """``Llama4ForConditionalGeneration`` (``language_model.model.*``, ``vision_model.*``) or a
    text-only ``Llama4ForCausalLM`` (``model.*``); ``cfg`` is the normalized text config."""
    if config.get("vision_config"):
        return (llama4_vision(config, config_int(cfg, "hidden_size"))
                + llama4_text(cfg, "language_model.model.", "language_model.lm_head.weight"))
    return llama4_text(cfg, "model.", "lm_head.weight")
