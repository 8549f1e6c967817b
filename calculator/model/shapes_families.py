"""Architectures listed whole rather than through ``shapes.py``'s generic decoder: Nemotron-NAS
(per-block attention and MLP), LFM2 (short convolutions beside attention), GPT-2 (Conv1D blocks)
Gemma 3's SigLIP vision tower, Mistral 3's Pixtral tower and Kimi-K2.5's MoonViT, each with its
projector (transformers 5.23.0 modeling files)."""
from __future__ import annotations

from ..config_fields import MAX_LAYERS
from ..layer_pattern import layer_kinds
from .shape_parts import (VOCAB_DEFAULT, Param, config_int, dense_mlp, final_norm_and_head, flag,
                          linear, vision_config)

def nemotron_nas(cfg: dict) -> list[Param]:
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
                out += linear(lp + "self_attn.linear_attn", hidden, hidden, "attention", "rep")
            else:
                kv = heads // config_int(attn, "n_heads_in_group", hi=heads)
                out += (linear(lp + "self_attn.q_proj", heads * hd, hidden, "attention", "qkv")
                        + linear(lp + "self_attn.k_proj", kv * hd, hidden, "attention", "qkv")
                        + linear(lp + "self_attn.v_proj", kv * hd, hidden, "attention", "qkv")
                        + linear(lp + "self_attn.o_proj", hidden, heads * hd, "attention", "row"))
        if ffn.get("no_op") is True:
            continue
        out.append(Param(name=lp + "post_attention_layernorm.weight", shape=(hidden,),
                         role="norm", part="other"))
        if ffn.get("replace_with_linear") is True:
            out += linear(lp + "mlp.linear_mlp", hidden, hidden, "mlp", "rep")
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
        out += dense_mlp(lp + "mlp.", hidden, inter)
    return out + final_norm_and_head("model.norm.weight", vocab, hidden,
                                     flag(cfg, "tie_word_embeddings", False))

def lfm2(cfg: dict) -> list[Param]:
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
    bias = flag(cfg, "conv_bias", False)
    # Lfm2Config.__post_init__: block_ff_dim overrides intermediate_size; Lfm2MLP: 2/3 of it, times
    # block_ffn_dim_multiplier, rounded up to block_multiple_of (only when the multiplier is set)
    inter = config_int(cfg, "block_ff_dim", None) if cfg.get("block_ff_dim") is not None else \
        config_int(cfg, "intermediate_size", 12_288)
    if flag(cfg, "block_auto_adjust_ff_dim", True):
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
            out += (linear(lp + "conv.in_proj", 3 * hidden, hidden, "attention", "col", bias=bias)
                    + [Param(name=lp + "conv.conv.weight", shape=(hidden, 1, width), role="other",
                             part="attention", split="col")]
                    + ([Param(name=lp + "conv.conv.bias", shape=(hidden,), role="bias",
                              part="attention", split="col")] if bias else [])
                    + linear(lp + "conv.out_proj", hidden, hidden, "attention", "row", bias=bias))
        else:
            sp = lp + "self_attn."
            out += (linear(sp + "q_proj", heads * hd, hidden, "attention", "qkv")
                    + linear(sp + "k_proj", kv * hd, hidden, "attention", "qkv")
                    + linear(sp + "v_proj", kv * hd, hidden, "attention", "qkv")
                    + linear(sp + "out_proj", hidden, heads * hd, "attention", "row")
                    + [Param(name=f"{sp}{nm}.weight", shape=(hd,), role="norm", part="attention")
                       for nm in ("q_layernorm", "k_layernorm")])
        fp = lp + "feed_forward."
        out += (linear(fp + "w1", inter, hidden, "mlp", "col")
                + linear(fp + "w3", inter, hidden, "mlp", "col")
                + linear(fp + "w2", hidden, inter, "mlp", "row")
                + [Param(name=f"{lp}{nm}.weight", shape=(hidden,), role="norm", part="other")
                   for nm in ("operator_norm", "ffn_norm")])
    out.append(Param(name="model.embedding_norm.weight", shape=(hidden,), role="norm", part="other"))
    tied = cfg.get("tie_embedding", cfg.get("tie_word_embeddings", True))
    if tied is not True:
        out.append(Param(name="lm_head.weight", shape=(vocab, hidden), role="lm_head",
                         part="embeddings", split="vocab"))
    return out

def gpt2(cfg: dict) -> list[Param]:
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

def siglip(vision: dict, text_hidden: int) -> list[Param]:
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

    def lin(name: str, out_f: int, in_f: int, split: str) -> list[Param]:
        return linear(name, out_f, in_f, "vision", split, bias=True, role="other")

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
        # vLLM's siglip.py splits the tower over TP unless the encoder runs data-parallel
        # (mm_encoder_tp_mode "data"): SiglipAttention's qkv_proj QKVParallelLinear (every head
        # a KV head) and out_proj RowParallelLinear, SiglipMLP's fc1 Column / fc2 Row; the
        # embeddings, LayerNorms and Gemma 3's projector stay whole
        for nm in ("k_proj", "v_proj", "q_proj"):
            out += lin(f"{lp}self_attn.{nm}", d, d, "col")
        out += lin(f"{lp}self_attn.out_proj", d, d, "row")
        out += ln(lp + "layer_norm2") + lin(lp + "mlp.fc1", inter, d, "col") \
            + lin(lp + "mlp.fc2", d, inter, "row")
    out += ln(vp + "post_layernorm")
    out += [Param(name="model.multi_modal_projector.mm_input_projection_weight",
                  shape=(d, text_hidden), role="other", part="vision"),
            Param(name="model.multi_modal_projector.mm_soft_emb_norm.weight", shape=(d,),
                  role="other", part="vision")]
    return out


def pixtral(config: dict, text_hidden: int) -> list[Param]:
    """Mistral 3's Pixtral vision tower and its multimodal projector (transformers 5.23.0
    ``PixtralVisionModel``: conv patches without bias, RMSNorm ``ln_pre``, per layer RMSNorms
    around bias-free q/k/v/o and a gated MLP; ``Mistral3MultiModalProjector``: RMSNorm, a
    patch merger of ``spatial_merge_size``² patches, then linear_1 / linear_2)."""
    vision = vision_config(config)
    d = config_int(vision, "hidden_size", 1024)
    inter = config_int(vision, "intermediate_size", 4096)
    n = config_int(vision, "num_hidden_layers", 24, hi=MAX_LAYERS)
    heads = config_int(vision, "num_attention_heads", 16)
    hd = config_int(vision, "head_dim", d // heads)
    ch = config_int(vision, "num_channels", 3, hi=64)
    patch = config_int(vision, "patch_size", 16, hi=4096)
    merge = config_int(config, "spatial_merge_size", 2, hi=64)
    bias = flag(config, "multimodal_projector_bias", False)
    vp, pp = "model.vision_tower.", "model.multi_modal_projector."

    def p(name: str, *shape: int, split: str = "rep") -> Param:
        return Param(name=name, shape=shape, role="other", part="vision", split=split)

    # vLLM's pixtral.py (PixtralHFAttention, PixtralHFMLP) splits the tower over TP: qkv_proj
    # QKVParallelLinear, o_proj Row, gate_up_proj MergedColumnParallelLinear, down_proj Row;
    # mistral3.py's projector: linear_1 Column, linear_2 Row, its norm and patch merger whole
    out = [p(vp + "patch_conv.weight", d, ch, patch, patch), p(vp + "ln_pre.weight", d)]
    for i in range(n):
        lp = f"{vp}transformer.layers.{i}."
        out += [p(lp + "attention_norm.weight", d), p(lp + "ffn_norm.weight", d),
                p(lp + "feed_forward.gate_proj.weight", inter, d, split="col"),
                p(lp + "feed_forward.up_proj.weight", inter, d, split="col"),
                p(lp + "feed_forward.down_proj.weight", d, inter, split="row")]
        out += [p(f"{lp}attention.{nm}.weight", heads * hd, d, split="col")
                for nm in ("q_proj", "k_proj", "v_proj")]
        out.append(p(lp + "attention.o_proj.weight", d, heads * hd, split="row"))
    out += [p(pp + "norm.weight", d), p(pp + "patch_merger.merging_layer.weight", d, d * merge * merge),
            p(pp + "linear_1.weight", text_hidden, d, split="col"),
            p(pp + "linear_2.weight", text_hidden, text_hidden, split="row")]
    if bias:
        out += [p(pp + "linear_1.bias", text_hidden, split="col"), p(pp + "linear_2.bias", text_hidden)]
    return out


def moonvit(config: dict, text_hidden: int) -> list[Param]:
    """Kimi-K2.5's MoonViT vision tower and its patch-merger projector (transformers 5.23.0
    ``Kimi_K25VisionModel``: a biased conv patch embedding, a learned ``pos_emb_height`` ×
    ``pos_emb_width`` position grid, per layer two LayerNorms around biased q/k/v/proj and a
    fc1/fc2 MLP, a final LayerNorm; ``Kimi_K25MultimodalProjection``: LayerNorm, then biased
    in_proj / out_proj over ``merge_kernel_size``-merged patches). The shipped config names the
    tower's sizes ``vt_*`` (as vLLM's ``kimi_k25`` reads them); transformers' own names are the
    fallback, and its defaults (1152 wide, 27 layers, 4304 MLP) are the checkpoint's."""
    vision = vision_config(config)

    def size(shipped: str, name: str, default: int, hi: int = 1 << 20) -> int:
        return config_int(vision, shipped if shipped in vision else name, default, hi=hi)

    d = size("vt_hidden_size", "hidden_size", 1152)
    inter = size("vt_intermediate_size", "intermediate_size", 4304)
    n = size("vt_num_hidden_layers", "num_hidden_layers", 27, hi=MAX_LAYERS)
    grid_h = size("init_pos_emb_height", "pos_emb_height", 64, hi=1 << 12)
    grid_w = size("init_pos_emb_width", "pos_emb_width", 64, hi=1 << 12)
    patch = config_int(vision, "patch_size", 14, hi=4096)
    merge = vision.get("merge_kernel_size", [2, 2])
    if (not isinstance(merge, (list, tuple)) or len(merge) != 2
            or not all(isinstance(k, int) and not isinstance(k, bool) and 0 < k <= 64 for k in merge)):
        raise ValueError("vision_config.merge_kernel_size: expected two integers between 1 and 64")
    merged = d * merge[0] * merge[1]
    norm = config_int(vision, "mm_hidden_size", d)
    vp, pp = "model.vision_tower.", "model.mm_projector."

    def p(name: str, *shape: int) -> Param:
        return Param(name=name, shape=shape, role="other", part="vision")

    def lin(name: str, out_f: int, in_f: int, split: str = "rep") -> list[Param]:
        return linear(name, out_f, in_f, "vision", split, bias=True, role="other")

    def ln(name: str, width: int = d) -> list[Param]:
        return [p(f"{name}.weight", width), p(f"{name}.bias", width)]

    out = [p(vp + "patch_embed.proj.weight", d, 3, patch, patch), p(vp + "patch_embed.proj.bias", d),
           p(vp + "patch_embed.pos_emb.position_embeddings", grid_h, grid_w, d)]
    for i in range(n):
        lp = f"{vp}layers.{i}."
        out += ln(lp + "norm1") + ln(lp + "norm2")
        # vLLM's moonvit.py (MoonVitEncoderLayer, MLP2) splits the tower over TP unless the
        # encoder runs data-parallel: wqkv QKVParallelLinear, wo / fc1 RowParallelLinear, fc0
        # ColumnParallelLinear (transformers' q/k/v, proj, fc1, fc2 here)
        for nm in ("q_proj", "k_proj", "v_proj"):
            out += lin(f"{lp}attn.{nm}", d, d, "col")
        out += lin(f"{lp}attn.proj", d, d, "row")
        out += lin(lp + "mlp.fc1", inter, d, "col") + lin(lp + "mlp.fc2", d, inter, "row")
    out += ln(vp + "final_layernorm")
    return out + ln(pp + "pre_norm", norm) + lin(pp + "in_proj", merged, merged) \
        + lin(pp + "out_proj", text_hidden, merged)


def qwen35_vision(config: dict) -> list[Param]:
    """Qwen3.5's vision tower (transformers 5.23.0 ``Qwen3_5VisionModel``): a biased Conv3d patch
    embedding over ``temporal_patch_size`` frames, a learned position table, ``depth`` blocks of two
    LayerNorms around a biased fused qkv / proj and a biased linear_fc1 / linear_fc2 MLP, and the
    patch merger (LayerNorm over the tower width, then ``spatial_merge_size``² patches through
    linear_fc1 and linear_fc2 to ``out_hidden_size``). No deepstack mergers: the model class has
    none, whatever ``deepstack_visual_indexes`` says. vLLM's ``qwen3_vl.py`` splits it over TP
    unless the encoder runs data-parallel: qkv QKVParallelLinear (every head a KV head), proj and
    linear_fc2 RowParallelLinear, linear_fc1 ColumnParallelLinear; the embeddings and LayerNorms
    stay whole."""
    vision = vision_config(config)
    d = config_int(vision, "hidden_size", 1152)
    inter = config_int(vision, "intermediate_size", 4304)
    n = config_int(vision, "depth", 27, hi=MAX_LAYERS)
    ch = config_int(vision, "in_channels", 3, hi=64)
    patch = config_int(vision, "patch_size", 16, hi=4096)
    frames = config_int(vision, "temporal_patch_size", 2, hi=64)
    merge = config_int(vision, "spatial_merge_size", 2, hi=64)
    out_d = config_int(vision, "out_hidden_size", 3584)
    positions = config_int(vision, "num_position_embeddings", 2304, hi=1 << 24)
    merged = d * merge * merge
    vp = "model.visual."

    def p(name: str, *shape: int) -> Param:
        return Param(name=name, shape=shape, role="other", part="vision")

    def lin(name: str, out_f: int, in_f: int, split: str) -> list[Param]:
        return linear(name, out_f, in_f, "vision", split, bias=True, role="other")

    def ln(name: str) -> list[Param]:
        return [p(f"{name}.weight", d), p(f"{name}.bias", d)]

    out = [p(vp + "patch_embed.proj.weight", d, ch, frames, patch, patch),
           p(vp + "patch_embed.proj.bias", d), p(vp + "pos_embed.weight", positions, d)]
    for i in range(n):
        lp = f"{vp}blocks.{i}."
        out += ln(lp + "norm1") + ln(lp + "norm2")
        out += lin(lp + "attn.qkv", 3 * d, d, "col") + lin(lp + "attn.proj", d, d, "row")
        out += lin(lp + "mlp.linear_fc1", inter, d, "col") + lin(lp + "mlp.linear_fc2", d, inter, "row")
    return out + ln(vp + "merger.norm") + lin(vp + "merger.linear_fc1", merged, merged, "col") \
        + lin(vp + "merger.linear_fc2", out_d, merged, "row")
