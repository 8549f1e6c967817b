"""The 2025-2026 families listed tensor by tensor (Qwen3.5 / 3.6, Llama 4, Gemma 4 and their vision
towers): names and shapes as transformers 5.23.0 has them, and one GPU's TP share keeping whole
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
