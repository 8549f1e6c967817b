"""Qwen3.5's gated-DeltaNet recurrent state in its config's mamba_ssm_dtype (float32), in every
mode; Qwen3-Next's config has none and keeps the model dtype."""
from calculator import kv_cache_bytes
from calculator.engines import vllm_plan
from model_presets import load_preset


def test_theoretical_state_is_fp32_ssm_and_bf16_conv():
    r = kv_cache_bytes(load_preset("qwen3.5-27b"), 32_768)
    # 48 DeltaNet layers · (conv (2·16·128 + 48·128 = 10,240) × 3 · 2 B + 48 × 128 × 128 · 4 B)
    assert r.state_bytes == 48 * (10_240 * 3 * 2 + 48 * 128 * 128 * 4) == 153_944_064


def test_vllm_0_19_qwen35_27b_log_needs_the_fp32_state():
    # vllm-project/vllm#40691 (vLLM 0.19.0, H20): `vllm serve Qwen3.5-27B --max-model-len 32768
    # --max-num-seqs 16 --max-num-batched-token 16384` logged "GPU KV cache size: 290,864 tokens"
    # and "Maximum concurrency for 32,768 tokens per request: 33.04x" (its KV memory not quoted).
    qwen = load_preset("qwen3.5-27b")
    p = vllm_plan(qwen, max_model_len=32_768, kv_memory=40 << 30, max_num_batched_tokens=16_384)
    # state 10,240 · 3 · 2 + 48 · 128 · 128 · 4 = 3,207,168 B; attention 4 heads · 512 · 2 B
    # = 4,096 B/token → block 16 · cdiv(3,207,168, 65,536) = 784 (a bf16 state gives 400)
    assert (p.block_size, p.page_size) == (784, 784 * 4096)
    # 16 full + 48 state layers → 4 groups of 16; a request: cdiv(32,768, 784) = 42 + 3 pages
    assert (len(p.groups), p.group_size, p.blocks_per_request) == (4, 16, 45)
    # both lines pin the pool: tokens = blocks // 4 · 784 = 290,864 → 1484..1487 blocks, and
    # 33.04x = blocks / 45 → 1487 (1486 prints 33.02x); at block 400 no count gives 290,864
    fits = [n for n in range(1, 10_000)
            if n // 4 * 784 == 290_864 and f"{n / 45:.2f}" == "33.04"]
    assert fits == [1487] and 290_864 % 400
    q = vllm_plan(qwen, max_model_len=32_768, kv_memory=1487 * p.page_size * 16,
                  max_num_batched_tokens=16_384)
    assert q.log_lines()[-2:] == ["GPU KV cache size: 290,864 tokens",
                                  "Maximum concurrency for 32,768 tokens per request: 33.04x"]


def test_qwen3_next_keeps_the_model_dtype():
    # no mamba_ssm_dtype in its config: 36 layers · (8,192 · 3 · 2 + 32 · 128 · 128 · 2 B)
    r = kv_cache_bytes(load_preset("qwen3-next-80b-a3b"), 8192)
    assert r.state_bytes == 36 * (8192 * 3 * 2 + 32 * 128 * 128 * 2)
