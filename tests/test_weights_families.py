"""The 2025-2026 families listed tensor by tensor (Qwen3.5 / 3.6, Llama 4, Gemma 4 and their vision
towers, the Mamba-2 hybrids Nemotron-H and Granite 4.0-H): names and shapes as transformers 5.23.0 has them, and one GPU's TP share keeping whole
what vLLM replicates, checked by hand."""
import pytest

from calculator import plan
from calculator.capacity import weights_per_gpu
from calculator.model.shapes import param_shapes
from model_presets import checkpoint_config, load_preset
from model_presets.param_counts import checkpoint_tensors

GiB = 1 << 30


@pytest.mark.parametrize("name", ["qwen3.5-27b", "qwen3.5-35b-a3b", "gemma-4-26b-a4b"])
def test_listed_tensors_are_the_checkpoints_by_name_and_shape(name):
    # Qwen3.5's split in_proj_qkv / z / b / a, the gated q_proj, the ViT and its merger, and the
    # MoE's stacked experts (gate_up [E, 2I, H], down [E, H, I]); Gemma 4's per-layer head sizes,
    # its full layers without v_proj, the MoE beside the MLP and its ViT: as transformers 5.23.0
    # names and shapes them
    config = checkpoint_config(name)
    ref = {n: tuple(t.shape) for n, t in checkpoint_tensors(config).items()}
    ours = {p.name: ((p.count,) if p.count > 1 else ()) + p.shape for p in param_shapes(config)}
    assert ours == ref


def test_qwen35_tp_share_keeps_whole_what_vllm_replicates():
    # Qwen3.5-35B-A3B under TP 2. Whole on both GPUs: the ViT's patch conv 1,769,472 + its bias
    # 1,152 + the position table 2,304 · 1,152 = 2,654,208 + 27 blocks · (4 LayerNorm vectors +
    # the proj and linear_fc2 biases) · 1,152 = 186,624 + the merger's LayerNorm 2,304 and
    # linear_fc2 bias 2,048 = 4,615,808; the text model's 40 routers 256 · 2,048 = 20,971,520,
    # 40 shared-expert gates 2,048 = 81,920, 80 layer norms 163,840, the final norm 2,048, 30 gated
    # norms of 128 = 3,840 and 10 · (q_norm + k_norm) of 256 = 5,120: 21,228,288. 25,844,096 in all;
    # the other 35,107,181,936 − 25,844,096 = 35,081,337,840 halve (the vocabulary 248,320 is a
    # multiple of 64): 2 B · (25,844,096 + 17,540,668,920) = 35,133,026,032 per GPU
    model = load_preset("qwen3.5-35b-a3b")
    assert model.weight_bytes == 2 * 35_107_181_936
    assert weights_per_gpu(model, 2) == 35_133_026_032
    assert plan(model, gpu_bytes=80 * GiB, gpus=2).weights_per_gpu == 35_133_026_032


def test_llama4_tp_share_keeps_whole_what_vllm_replicates():
    # Llama-4-Scout under TP 4. Whole on every GPU: the ViT's class embedding 1,408, its position
    # table (336 / 14)² + 1 = 577 rows · 1,408 = 812,416, the pre / post LayerNorms 4 · 1,408 =
    # 5,632 and 34 layers · 6 vectors (2 LayerNorms, the o_proj and fc2 biases) · 1,408 = 287,232:
    # 1,106,688; the text model's 48 routers 16 · 5,120 = 3,932,160, 96 layer norms · 5,120 =
    # 491,520 and the final norm 5,120: 4,428,800. 5,535,488 in all; the other 108,641,793,536 −
    # 5,535,488 = 108,636,258,048 quarter (202,048 = 64 · 3,157 rows of vocabulary):
    # 2 B · (5,535,488 + 27,159,064,512) = 54,329,200,000 per GPU (an even split: 54,320,896,768)
    model = load_preset("llama-4-scout")
    assert model.weight_bytes == 2 * 108_641_793_536
    assert weights_per_gpu(model, 4) == 54_329_200_000


def test_gemma4_tp_share_splits_each_layer_by_its_own_kv_heads():
    # Gemma-4-26B-A4B under TP 4: the 5 full layers have 2 KV heads of 512, so each GPU keeps one
    # whole (k_proj 512 rows, not 1024 / 4 = 256); the 25 sliding ones 8 of 256 split to 2 each
    from calculator.model.sharding import sharded_params
    ranked = {p.name: p.shape for p in sharded_params(checkpoint_config("gemma-4-26b-a4b"), 4)}
    assert ranked["model.language_model.layers.5.self_attn.k_proj.weight"] == (512, 2816)
    assert ranked["model.language_model.layers.0.self_attn.k_proj.weight"] == (512, 2816)
    assert ranked["model.language_model.layers.5.self_attn.q_proj.weight"] == (16 * 512 // 4, 2816)
    # vLLM builds the ViT from transformers: whole on every GPU
    assert ranked["model.vision_tower.encoder.layers.0.mlp.gate_proj.linear.weight"] == (4304, 1152)


def test_pipeline_stages_keep_a_vision_tower_whole_on_the_first():
    # Llama 4's encoder layers are vision_model.model.layers.N and Qwen3.5's merger has a .norm.:
    # both stay with the tower on stage 0, and the stages split only the 48 / 40 decoder layers
    from calculator.model.sharding import stage_params
    for name, n in (("llama-4-scout", 48), ("qwen3.5-35b-a3b", 40)):
        params = param_shapes(checkpoint_config(name))
        first, last = stage_params(params, [range(0, n // 2), range(n // 2, n)])
        vision = [p for p in params if p.part == "vision"]
        assert vision and all(p in first for p in vision) and not any(p in last for p in vision)


def _per_layer_elements(named) -> dict[str, int]:
    """Elements per decoder layer and per tensor outside the layers; Nemotron-H's checkpoints say
    ``backbone.`` where transformers 5.23.0 says ``model.``."""
    import re
    from collections import defaultdict
    out: dict[str, int] = defaultdict(int)
    for name, size in named:
        m = re.search(r"layers\.(\d+)\.", name)
        out[f"layer {m.group(1)}" if m else name.replace("backbone.", "model.")] += size
    return dict(out)


@pytest.mark.parametrize("name", ["nemotron-3-nano-30b-a3b", "nemotron-h-56b", "granite-4.0-h-tiny"])
def test_mamba2_hybrid_tensors_match_transformers_layer_by_layer(name):
    # Nemotron-H's Mamba-2 (in_proj, conv1d, A_log / D / dt_bias, gated norm, out_proj), attention,
    # relu² MLP and MoE blocks (router + float32 correction bias, up/down experts, a shared
    # expert), each with its norm; Granite 4.0-H's mamba / self_attn with the MoE and shared MLP
    # on every layer: per layer, the elements transformers builds
    config = checkpoint_config(name)
    ours = _per_layer_elements((p.name, p.numel) for p in param_shapes(config))
    ref = _per_layer_elements((n, t.numel()) for n, t in checkpoint_tensors(config).items())
    assert ours == ref


# A Nemotron-3-Super-style toy: latent MoE (experts work in 64 wide between fc1 / fc2_latent_proj),
# one Mamba group, every block kind
LATENT_TOY = {"architectures": ["NemotronHForCausalLM"], "model_type": "nemotron_h",
              "hidden_size": 256, "vocab_size": 1000, "hybrid_override_pattern": "M*E-ME",
              "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64,
              "mamba_num_heads": 8, "mamba_head_dim": 32, "n_groups": 1, "ssm_state_size": 16,
              "conv_kernel": 4, "intermediate_size": 512, "moe_intermediate_size": 128,
              "moe_shared_expert_intermediate_size": 192, "n_routed_experts": 4,
              "num_experts_per_tok": 2, "moe_latent_size": 64, "n_shared_experts": 1,
              "tie_word_embeddings": False, "torch_dtype": "bfloat16"}


def test_nemotron_h_latent_moe_matches_transformers_layer_by_layer():
    ours = _per_layer_elements((p.name, p.numel) for p in param_shapes(LATENT_TOY))
    ref = _per_layer_elements((n, t.numel()) for n, t in checkpoint_tensors(LATENT_TOY).items())
    assert ours == ref
    # the MoE block: router 4 · 256 + bias 4, experts 2 · 4 · 128 · 64, shared expert
    # 2 · 192 · 256, latent projections 2 · 64 · 256, norm 256
    assert ours["layer 2"] == 1_024 + 4 + 65_536 + 98_304 + 32_768 + 256


def test_nemotron3_nano_tp_share_keeps_whole_what_vllm_replicates():
    # Nemotron-3-Nano-30B-A3B under TP 2. Whole on both GPUs: 23 MoE routers 128 · 2,688 =
    # 7,913,472 and their float32 correction biases 23 · 128 = 2,944, 52 block norms + norm_f
    # 53 · 2,688 = 142,464. The other 31,577,940,288 − 7,913,472 − 2,944 − 142,464 =
    # 31,569,881,408 halve (8 Mamba groups split 4 per GPU; 131,072 = 64 · 2,048 vocabulary rows):
    # 2 B · (7,913,472 + 142,464 + 15,784,940,704) + 4 B · 2,944 = 31,586,005,056 per GPU
    model = load_preset("nemotron-3-nano-30b-a3b")
    assert model.weight_bytes == 2 * 31_577_940_288 + 2 * 2_944
    assert weights_per_gpu(model, 2) == 31_586_005_056


def test_granite_hybrid_tp_share_copies_its_single_group():
    # Granite-4.0-H-Tiny under TP 2. Whole on both GPUs: 40 routers 64 · 1,536 = 3,932,160 and
    # 81 norms · 1,536 = 124,416 (4,056,576). Its one Mamba group (2 · 128 rows of B and C) is on
    # both GPUs, where half of it would be 128 rows: 36 Mamba layers · 128 · (1,536 in_proj + 4
    # conv taps + 1 conv bias) = 7,100,928 more. The other 6,939,037,248 − 4,056,576 halve
    # (100,352 = 64 · 1,568 tied vocabulary rows): 2 B · (4,056,576 + 3,467,490,336 + 7,100,928)
    # = 6,957,295,680 per GPU
    model = load_preset("granite-4.0-h-tiny")
    assert model.weight_bytes == 2 * 6_939_037_248
    assert weights_per_gpu(model, 2) == 6_957_295_680


def test_single_mamba_group_is_copied_to_every_rank():
    # vLLM's MambaMixer2 with n_groups 1 under TP 4 gives each rank the group's B and C rows
    # (2 · 256) next to its quarter of the rest: in_proj (2 · 16,384 + 256) / 4 + 512 = 8,768 rows,
    # conv1d 16,384 / 4 + 512 = 4,608; 2 groups over 4 ranks is refused, as vLLM asserts
    from calculator.model.sharding import sharded_params
    one = {**checkpoint_config("nemotron-h-56b"), "n_groups": 1}
    ranked = {p.name: p.shape for p in sharded_params(one, 4)}
    assert ranked["backbone.layers.0.mixer.in_proj.weight"] == (8768, 8192)
    assert ranked["backbone.layers.0.mixer.conv1d.weight"] == (4608, 1, 4)
    assert ranked["backbone.layers.0.mixer.norm.weight"] == (16384 // 4,)
    with pytest.raises(ValueError, match="tp: 4 does not divide the Mamba mixer's 2 groups"):
        sharded_params({**checkpoint_config("nemotron-h-56b"), "n_groups": 2}, 4)
