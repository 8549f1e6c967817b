"""vLLM's pool rules by release: 0.11 (sliding layers keep max_num_batched_tokens beyond the
window; tokens = num_blocks // groups × block) against 0.27 (async scheduling's in-flight tokens,
vllm-project/vllm#47728; tokens = int(concurrency × max_model_len), vllm-project/vllm#40694),
checked on a public vLLM 0.29.0 log."""
import json
import subprocess
import sys

import pytest

from calculator.cli_startup import vllm_max_context
from calculator.engines import vllm_plan
from model_presets import load_preset

# A public deployment note for the upstream vLLM 0.29.0 XPU image (find_string ids 68560421603
# and 70872795696): gemma-4 26B-A4B (25 sliding layers of window 1024, 5 full), its pool pinned
# with --kv-cache-memory-bytes 4.25 GiB, --max-num-batched-tokens 2496 (the default there), async
# scheduling on. It logged "GPU KV cache size" and "Maximum concurrency" at three max_model_len.
KV = 4_563_402_752  # 4.25 GiB = 4.25 · 2³⁰
LOGGED = {32_768: (78_433, "2.39"), 65_536: (116_025, "1.77"), 131_072: (152_592, "1.16")}


@pytest.mark.parametrize("ctx", sorted(LOGGED))
def test_gemma4_on_vllm_029_reproduces_the_log(ctx):
    p = vllm_plan(load_preset("gemma-4-26b-a4b"), max_model_len=ctx, kv_memory=KV,
                  max_num_batched_tokens=2496, version="0.27")
    tokens, conc = LOGGED[ctx]
    assert p.num_tokens == tokens and f"{p.max_concurrency:.2f}" == conc


def test_gemma4_arithmetic_by_hand():
    p = vllm_plan(load_preset("gemma-4-26b-a4b"), max_model_len=32_768, kv_memory=KV,
                  max_num_batched_tokens=2496, version="0.27")
    # sliding page 16 tokens · 8 heads · (256 + 256) · 2 B = 131,072 B; the full layers' page
    # (2 heads · (512 + 512) · 2 B per token) reaches it at block 32; 25 + 5 layers → 6 groups of 5
    assert (p.page_size, p.group_size, len(p.groups)) == (131_072, 5, 6)
    assert p.num_blocks == KV // 131_072 // 5 == 6963
    # in flight: 2 batches · 2496 = 4992; sliding: cdiv(1023 + 4992, 16) + 1 = 377 blocks in each
    # of 5 groups; full: cdiv(32,768, 32) = 1024
    assert p.in_flight_tokens == 4992
    assert p.blocks_per_request == 5 * 377 + 1024 == 2909
    assert p.num_tokens == int(6963 / 2909 * 32_768) == 78_433
    # the same pool under the 0.11 rules: 5 · (cdiv(1023 + 2496, 16) + 1) + 1024 = 2134 blocks,
    # 6963 / 2134 = 3.26x, and tokens 6963 // 6 · 16 = 18,560
    old = vllm_plan(load_preset("gemma-4-26b-a4b"), max_model_len=32_768, kv_memory=KV,
                    max_num_batched_tokens=2496, version="0.11")
    assert old.blocks_per_request == 5 * 221 + 1024 == 2129
    assert old.num_tokens == 6963 // 6 * 16 == 18_560


def test_gemma4_ceilings_the_note_gives():
    # "162,496 | 1.00× | hard ceiling" at 2496; "at 8192 the ceiling collapses to 48,576"
    gemma = load_preset("gemma-4-26b-a4b")
    assert vllm_max_context(gemma, KV, 1, max_num_batched_tokens=2496, version="0.27") == 162_496
    assert vllm_max_context(gemma, KV, 1, max_num_batched_tokens=8192, version="0.27") == 48_576


def test_without_async_scheduling_one_batch_is_in_flight():
    p = vllm_plan(load_preset("gemma-4-26b-a4b"), max_model_len=32_768, kv_memory=KV,
                  max_num_batched_tokens=2496, version="0.27", async_scheduling=False)
    # cdiv(1023 + 2496, 16) + 1 = 221 per sliding group, as the 0.11 rule; tokens from concurrency
    assert p.blocks_per_request == 5 * 221 + 1024 == 2129
    assert p.num_tokens == int(6963 / 2129 * 32_768) == 107_169


def test_full_attention_models_differ_only_in_the_token_rounding():
    # Llama-3.1-8B: page 16 tokens · 8 heads · (128 + 128) · 2 B = 65,536 B; one group of 32 layers
    llama = load_preset("llama-3.1-8b")
    new = vllm_plan(llama, max_model_len=16_000, kv_memory=40 << 30, version="0.27")
    old = vllm_plan(llama, max_model_len=16_000, kv_memory=40 << 30, version="0.11")
    assert new.num_blocks == old.num_blocks == (40 << 30) // 65_536 // 32 == 20_480
    assert new.max_concurrency == old.max_concurrency == 20_480 / 1000
    assert old.num_tokens == 20_480 * 16 == 327_680
    assert new.num_tokens == int(20.48 * 16_000) == 327_680
    # max_model_len 16,001 takes 1001 blocks: 20,480 · 16,001 / 1001 = 327,373.1
    new_odd = vllm_plan(llama, max_model_len=16_001, kv_memory=40 << 30, version="0.27")
    assert new_odd.num_tokens == int(20_480 / 1001 * 16_001) == 327_373


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "calculator", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_takes_0_27_with_kv_memory_and_refuses_to_guess_its_startup():
    out = _cli("--preset", "gemma-4-26b-a4b", "--engine", "vllm", "--kv-memory", "4.25GiB",
               "--context", "32768", "--max-num-batched-tokens", "2496", "--engine-version",
               "0.27", "--format", "json")
    row = json.loads(out.stdout)
    assert (row["engine_tokens"], row["engine_version"], row["in_flight_tokens"]) == \
        (78_433, "0.27", 4992)
    for args, field in ((("--gpu", "H100", "--engine-version", "0.27"), "--engine-version"),
                        (("--kv-memory", "4GiB", "--engine-version", "0.9"), "--engine-version"),
                        (("--kv-memory", "4GiB", "--no-async-scheduling"), "--no-async-scheduling")):
        bad = _cli("--preset", "gemma-4-26b-a4b", "--engine", "vllm", *args)
        assert bad.returncode == 2 and bad.stderr.startswith(f"error: {field}:") \
            and len(bad.stderr.strip().splitlines()) == 1, bad.stderr


def test_0_27_refuses_state_layers_it_has_not_read():
    # Qwen3.5's gated DeltaNet layers: the 0.11 rules size them; 0.27's are not read
    qwen = load_preset("qwen3.5-27b")
    assert vllm_plan(qwen, max_model_len=32_768, kv_memory=20 << 30, version="0.11").num_blocks
    with pytest.raises(ValueError, match=r"^engine-version: vLLM 0\.27's pools for state layers"):
        vllm_plan(qwen, max_model_len=32_768, kv_memory=20 << 30, version="0.27")


# Qwen3.5-4B's text config, field for field as public fixtures copy it (find_string ids
# 51836052333, 60353904873 and 71227075817: hidden 2560, 32 layers of which every 4th is full
# attention, 4 KV heads of 256, gated DeltaNet with 16 key / 32 value heads of 128, conv 4,
# mamba_ssm_dtype float32); the log below prints the block size and padding those fields give.
QWEN35_4B = {
    "architectures": ["Qwen3_5ForConditionalGeneration"], "model_type": "qwen3_5",
    "tie_word_embeddings": True, "vision_config": {"hidden_size": 1024, "depth": 24},
    "text_config": {
        "model_type": "qwen3_5_text", "hidden_size": 2560, "intermediate_size": 9216,
        "num_hidden_layers": 32, "num_attention_heads": 16, "num_key_value_heads": 4,
        "head_dim": 256, "layer_types": (["linear_attention"] * 3 + ["full_attention"]) * 8,
        "linear_num_key_heads": 16, "linear_num_value_heads": 32, "linear_key_head_dim": 128,
        "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4, "mamba_ssm_dtype": "float32",
        "vocab_size": 248320, "max_position_embeddings": 262144, "dtype": "bfloat16",
        "tie_word_embeddings": True}}


def test_0_22_state_layers_reproduce_a_public_v0_22_0_qwen35_4b_start():
    # find_string id 55770092662: vLLM v0.22.0, max_model_len 1024, enable_prefix_caching=False
    # (hybrid default), "Setting attention block size to 528 tokens", "Padding mamba page size by
    # 0.76%", "Available KV cache memory: 11.11 GiB", "GPU KV cache size: 141,107 tokens",
    # "Maximum concurrency for 1,024 tokens per request: 137.80x"
    from calculator.hf_config import from_hf_config
    model = from_hf_config(QWEN35_4B, name="Qwen3.5-4B")
    p = vllm_plan(model, max_model_len=1024, kv_memory=int(11.11 * (1 << 30)), version="0.22")
    # state page: conv (2·16·128 + 32·128) · 3 · 2 B = 49,152 + ssm 32·128·128 · 4 B = 2,097,152
    # = 2,146,304 B; attention 4 heads · (256 + 256) · 2 B = 4,096 B per token →
    # block 16 · cdiv(2,146,304, 16 · 4,096) = 16 · 33 = 528; pad 16,384 / 2,146,304 = 0.76 %
    assert p.block_size == 528
    assert p.hybrid_lines == (
        "Setting attention block size to 528 tokens to ensure that attention page size is >= "
        "mamba page size.",
        "Padding mamba page size by 0.76% to ensure that mamba page size and attention page size "
        "are exactly equal.")
    # 24 state + 8 full layers → 4 groups of 8; page 528 · 4,096 = 2,162,688 B;
    # blocks = 11.11 GiB // 2,162,688 // 8 = 689 (any figure that prints as 11.11 gives 689)
    assert p.num_blocks == 689
    # per request: cdiv(1024, 528) = 2 attention pages + 1 page in each of 3 state groups = 5;
    # 689 / 5 = 137.8; tokens = int(137.8 · 1024) = 141,107
    assert f"{p.max_concurrency:.2f}" == "137.80" and p.num_tokens == 141_107


def test_0_22_takes_a_larger_block_size_as_the_grain():
    qwen = load_preset("qwen3.5-27b")
    # state page 3,207,168 B, attention 4,096 B per token: grain 16 → 16 · cdiv(783.0, 16) = 784
    # in either build; with --block-size 64 vLLM 0.22 aligns to 64 · cdiv(3,207,168, 262,144)
    # = 64 · 13 = 832 (Platform._align_hybrid_block_size, #37467), 0.17 keeps 784
    assert vllm_plan(qwen, max_model_len=8192, kv_memory=20 << 30, version="0.22").block_size == 784
    assert vllm_plan(qwen, max_model_len=8192, kv_memory=20 << 30, version="0.22",
                     block_size=64).block_size == 832
    assert vllm_plan(qwen, max_model_len=8192, kv_memory=20 << 30, version="0.17",
                     block_size=64).block_size == 784


def test_hybrid_block_lines_sit_where_each_build_prints_them():
    qwen = load_preset("qwen3.5-27b")
    startup = ["Model loading took 50.96 GiB memory", "Available KV cache memory: 20.0 GiB"]
    old = vllm_plan(qwen, max_model_len=8192, kv_memory=20 << 30, version="0.17")
    new = vllm_plan(qwen, max_model_len=8192, kv_memory=20 << 30, version="0.22")
    setting, padding = old.hybrid_lines
    # up to 0.17 HybridAttentionMambaModelConfig logs while the config is built, before loading;
    # the 0.22.0 Qwen3.5-4B start prints them right after "Model loading took" (interface.py)
    assert old.log_lines(startup)[:4] == [setting, padding, *startup]
    assert new.log_lines(startup)[:4] == [startup[0], setting, padding, startup[1]]
    assert new.log_lines(startup)[4].startswith("GPU KV cache size: ")


def test_v0_20_0_hybrid_start_with_prefix_caching_reproduces():
    # A public vLLM v0.20.0 start (find_string id 51995050688): RedHatAI/Qwen3.6-35B-A3B-NVFP4
    # (Qwen3.5-35B-A3B's architecture: 30 gated-DeltaNet + 10 attention layers), fp8_e4m3 KV,
    # max_model_len 8192, --max-num-batched-tokens 4096, --enable-prefix-caching ("Mamba cache
    # mode is set to 'align'"), "Setting attention block size to 2096 tokens" (no padding line),
    # "Available KV cache memory: 2.95 GiB", "GPU KV cache size: 75,456 tokens", "Maximum
    # concurrency for 8,192 tokens per request: 14.70x"
    p = vllm_plan(load_preset("qwen3.5-35b-a3b"), max_model_len=8192,
                  kv_memory=int(2.95 * (1 << 30)), kv_cache_dtype="fp8_e4m3",
                  max_num_batched_tokens=4096, version="0.20", prefix_caching=True)
    # state page = 2096 · (2 heads · 512 · 1 B) exactly: block 16 · cdiv(2096, 16) = 2096
    assert p.block_size == 2096 and len(p.hybrid_lines) == 1
    # 4 groups of 10; page 2096 · 1,024 = 2,146,304 B; 2.95 GiB // page // 10 = 147 blocks
    assert (len(p.groups), p.group_size, p.page_size, p.num_blocks) == (4, 10, 2_146_304, 147)
    # align mode: cdiv(8192, 2096) = 4 attention pages + 2 state pages in each of 3 state groups
    # = 10 per request → 14.70x; v0.20.0 still printed 147 // 4 groups · 2096 = 75,456 tokens
    assert p.blocks_per_request == 10 and f"{p.max_concurrency:.2f}" == "14.70"
    assert p.num_tokens == 75_456
    start = ["Model loading took 21.86 GiB memory", "Estimated CUDA graph memory: 0.45 GiB total",
             "Available KV cache memory: 2.95 GiB"]
    assert p.log_lines(start) == [
        "Mamba cache mode is set to 'align' for Qwen3_5MoeForConditionalGeneration by default "
        "when prefix caching is enabled",
        "Warning: Prefix caching in Mamba cache 'align' mode is currently enabled. Its support "
        "for Mamba layers is experimental. Please report any issues you may observe.",
        start[0], "Setting attention block size to 2096 tokens to ensure that attention page size "
        "is >= mamba page size.", start[1], start[2], "GPU KV cache size: 75,456 tokens",
        "Maximum concurrency for 8,192 tokens per request: 14.70x"]
    # without prefix caching one state page per request: 147 / 7 = 21.0x; from 0.21 the token
    # line is int(concurrency × max_model_len) (#41069)
    plain = vllm_plan(load_preset("qwen3.5-35b-a3b"), max_model_len=8192,
                      kv_memory=int(2.95 * (1 << 30)), kv_cache_dtype="fp8_e4m3",
                      max_num_batched_tokens=4096, version="0.21", prefix_caching=False)
    assert plain.blocks_per_request == 7 and plain.num_tokens == int(147 / 7 * 8192) == 172_032


def test_prefix_caching_refusals_name_the_flag():
    with pytest.raises(ValueError, match=r"^enable-prefix-caching: GraniteMoeHybridForCausalLM "
                                         r"caches its state in vLLM's 'all' mode"):
        vllm_plan(load_preset("granite-4.0-h-tiny"), max_model_len=8192, kv_memory=4 << 30,
                  version="0.22", prefix_caching=True)
    with pytest.raises(ValueError, match=r"^enable-prefix-caching: vLLM 0\.11's prefix caching"):
        vllm_plan(load_preset("qwen3.5-27b"), max_model_len=8192, kv_memory=4 << 30,
                  version="0.11", prefix_caching=True)
    # an attention-only model caches prefixes by default: the flag changes nothing there
    llama = load_preset("llama-3.1-8b")
    on, off = (vllm_plan(llama, max_model_len=8192, kv_memory=4 << 30, version="0.22",
                         prefix_caching=flag) for flag in (True, False))
    assert (on.num_blocks, on.num_tokens, on.cache_mode_lines) == (off.num_blocks,
                                                                   off.num_tokens, ())
