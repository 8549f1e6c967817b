"""SGLang's copies of an MLA model's kv_b_proj (post_load_weights' w_kc / w_vc), worked by hand."""
from __future__ import annotations

from dataclasses import replace

from calculator.capacity import weights_per_gpu
from calculator.engines.sglang_startup import mla_copies, predict
from calculator.gpus import GIB, GPU_SPECS
from model_presets import load_preset

H100, H200 = GPU_SPECS["H100 80GB"], GPU_SPECS["H200 141GB"]


def test_bf16_kv_b_proj_is_copied_once_more_deepseek_v2_lite():
    model = load_preset("deepseek-v2-lite")
    # 27 layers × 16 heads × (128 nope + 128 v) × kv_lora_rank 512 × 2 B (bf16, the weight's dtype)
    assert mla_copies(model) == 27 * 16 * 256 * 512 * 2 == 113_246_208
    s = predict(model, H100)
    assert s.mla_copies == 113_246_208
    # and the float32 rope cache of DeepseekScalingRotaryEmbedding: YaRN over 4,096 × 40 = 163,840
    # positions × qk_rope_head_dim 64 × 4 B = 41,943,040
    assert s.rope_cache == 163_840 * 64 * 4 == 41_943_040
    assert s.weights == weights_per_gpu(model, 1) + 113_246_208 + 41_943_040
    # "mem usage" carries them: weights + the TP 1 load growth
    assert s.mem_usage == s.weights + s.load_growth
    assert s.log_lines()[1].endswith(f"mem usage={s.mem_usage / GIB:.2f} GB.")


def test_fp8_blocks_are_dequantized_to_bf16_first_deepseek_v3_tp8():
    model = load_preset("deepseek-v3")
    # FP8 in 128 × 128 blocks on CUDA: block_quant_dequant to bf16, then the copies:
    # 61 layers × 128/8 heads × 256 × 512 × 2 B
    assert mla_copies(model, 8) == 61 * 16 * 256 * 512 * 2 == 255_852_544
    assert predict(model, H200, tp=8).mla_copies == 255_852_544


def test_other_fp8_layouts_are_requantized_per_tensor():
    model = load_preset("deepseek-v3")
    per_channel = {**model.config, "quantization_config": {
        **model.config["quantization_config"], "weight_block_size": [64, 64]}}
    # channel / non-128 blocks: block_quant_to_tensor_quant keeps FP8, 1 B per element
    assert mla_copies(replace(model, config=per_channel), 8) == 61 * 16 * 256 * 512


def test_no_copies_for_models_without_mla():
    assert mla_copies(load_preset("qwen3-8b")) == 0
    assert predict(load_preset("qwen3-8b"), H100).mla_copies == 0


def test_blackwell_runs_trtllm_mla_with_64_token_pages():
    """server_args.py: DeepseekV3ForCausalLM on compute capability 10 gets trtllm_mla, whose
    pages are 32 or 64 tokens (the default 1 becomes 64); Hopper keeps page 1, and DeepSeek-V2
    (DeepseekV2ForCausalLM) is not in the list."""
    from calculator.engines.sglang import pool, trtllm_mla_flags
    v3 = load_preset("deepseek-v3")
    assert trtllm_mla_flags(v3, 1, "B200") == (64, (
        "Use trtllm_mla as attention backend on sm100 for DeepseekV3ForCausalLM",
        "TensorRT-LLM MLA only supports page_size of 32 or 64, changing page_size from 1 to 64."))
    assert trtllm_mla_flags(v3, 32, "B300")[0] == 32   # 10.3 is sm100 too; 32 is taken
    assert trtllm_mla_flags(v3, 1, "H200") == (1, ())
    assert trtllm_mla_flags(load_preset("deepseek-v2-lite"), 1, "B200") == (1, ())
    # 61 layers × (512 + 64) × 2 B = 70,272 B a token (the latent is replicated over TP);
    # 10 GiB holds 152,797 tokens, rounded down to whole 64-token pages: 152,768
    assert 10 * GIB // 70_272 == 152_797 and 152_797 // 64 * 64 == 152_768
    assert pool(v3, kv_memory=10 * GIB, tp=8, gpu="B200").tokens == 152_768
    assert pool(v3, kv_memory=10 * GIB, tp=8, gpu="H200").tokens == 152_797
