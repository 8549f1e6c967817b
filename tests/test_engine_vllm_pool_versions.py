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
