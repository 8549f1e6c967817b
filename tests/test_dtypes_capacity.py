"""Quantized formats (scales counted), TP/PP/paged totals, capacity answers."""
import pytest

from calculator import (get_dtype, gpu_memory, kv_cache_bytes, per_token_bytes, plan,
                        weights_bytes)
from calculator.totals import pp_stages
from calculator.gpus import gpu_spec
from model_presets import load_preset

L8B = load_preset("llama-3.1-8b")


@pytest.mark.parametrize("name, bits", [("fp32", 32), ("bf16", 16), ("fp8", 8), ("int8", 8),
                                        ("q8_0", 8.5), ("q4_0", 4.5), ("int4_g128", 4.25),
                                        ("int2_g64", 2.5), ("int4_g32", 5)])
def test_bits_per_element_include_scales(name, bits):
    # q8_0: (32 + 2) B / 32; q4_0: (16 + 2) / 32; int4_g128: (64 + 4) / 128; int2_g64: (16 + 4) / 64
    assert get_dtype(name).bits_per_element == bits


def test_q8_0_llama31_8b_per_token():
    # 32 layers · 8 heads · 2 (K,V) · 128 dims = 65,536 elements = 2048 blocks of 34 B
    assert per_token_bytes(L8B, "q8_0") == 2048 * 34 == 69_632


def test_partial_group_is_padded():
    # 576-element MLA latent with int4_g128: ceil(576/128) = 5 groups × (64 + 4) B = 340 B/layer
    assert per_token_bytes(load_preset("deepseek-v3"), "int4_g128") == 61 * 5 * 68


@pytest.mark.parametrize("bad", ["int3", "fp9", "int4_g3", "int2_g2", "", None, 4])
def test_unknown_dtype(bad):
    with pytest.raises(ValueError, match="kv dtype"):
        get_dtype(bad)


def test_paged_rounds_each_sequence_to_blocks():
    # 1000 tokens → 63 blocks of 16 = 1008 tokens per sequence, × 3 sequences
    b = kv_cache_bytes(L8B, 1000, 3, layout="paged", block_size=16)
    assert b.kv_bytes == 3 * 1008 * 131_072
    assert b.groups[0].tokens_per_seq == 1008


def test_tp_replicates_heads_beyond_kv_count():
    # 8 KV heads on 16 ranks: each rank holds 1 head (replicated), 32 layers · 256 · 2 B per token
    b = kv_cache_bytes(L8B, 1, 1, tp=16)
    assert b.per_gpu_kv_bytes == 32 * 1 * 256 * 2
    # 8 heads on 3 ranks: ceil(8/3) = 3 heads per rank
    assert kv_cache_bytes(L8B, 1, 1, tp=3).per_gpu_kv_bytes == 32 * 3 * 256 * 2


def test_mla_latent_replicated_per_rank():
    v3 = load_preset("deepseek-v3")
    assert kv_cache_bytes(v3, 10, 1, tp=8).per_gpu_kv_bytes == kv_cache_bytes(v3, 10, 1).kv_bytes


def test_pp_reports_largest_stage():
    assert [len(r) for r in pp_stages(61, 4)] == [16, 15, 15, 15]
    # DeepSeek-V3 61 layers on pp=4: busiest stage has 16 layers · 576 · 2 B per token
    assert kv_cache_bytes(load_preset("deepseek-v3"), 1, 1, pp=4).per_gpu_kv_bytes == 16 * 1152
    with pytest.raises(ValueError, match="^pp"):
        kv_cache_bytes(L8B, 1, 1, pp=33)


@pytest.mark.parametrize("kwargs, field", [
    ({"context": 0}, "context"), ({"context": 2**41}, "context"), ({"batch": -1}, "batch"),
    ({"tp": 0}, "tp"), ({"layout": "ring"}, "layout"), ({"context": 1.5}, "context"),
])
def test_bad_totals_arguments(kwargs, field):
    args = {"context": 10, "batch": 1, **kwargs}
    with pytest.raises(ValueError, match=f"^{field}"):
        kv_cache_bytes(L8B, **args)


def test_weights_bytes():
    assert weights_bytes(8_030_261_248, "bf16") == 16_060_522_496
    assert weights_bytes(1001, "q4_0") == -(-1001 * 18 // 32)  # 564 bytes, rounded up


def test_capacity_llama31_8b_on_h100():
    cap = plan(L8B, gpu_bytes=gpu_memory("H100 80GB"), gpus=1, mem_util="0.9")
    # the driver's total: 79.19 GiB → 81,091 MiB = 85,030,076,416 B (calculator/gpus.py)
    # budget: floor(85,030,076,416 · 0.9) = 76,527,068,774; weights 8,030,261,248 · 2 B = 16,060,522,496
    assert cap.budget_per_gpu == 76_527_068_774
    assert cap.free_per_gpu == 76_527_068_774 - 16_060_522_496 == 60_466_546_278
    # one 8192-token sequence = 8192 · 131,072 B = 1 GiB → floor(60,466,546,278 / 2^30) = 56
    assert cap.max_batch(8192) == 56
    # batch 4: longest C with 4 · C · 131,072 ≤ free → C = floor(60,466,546,278 / 524,288) = 115,330
    assert cap.max_context(4) == 60_466_546_278 // 524_288 == 115_330
    assert cap.fits(115_330, 4) and not cap.fits(115_331, 4)


def test_capacity_window_only_model_is_unbounded():
    cap = plan(load_preset("mistral-7b-v0.1"), gpu_bytes=gpu_memory("A100 80GB"))
    assert cap.max_context(1) is None


def test_capacity_weights_do_not_fit():
    cap = plan(load_preset("llama-3.1-405b"), gpu_bytes=gpu_memory("H100 80GB"), gpus=1)
    assert not cap.weights_fit
    assert cap.max_context(1) == 0 and cap.max_batch(1024) == 0


def test_capacity_input_errors():
    with pytest.raises(ValueError, match="^gpus"):
        plan(L8B, gpu_bytes=80 << 30, gpus=4, tp=2, pp=1)
    with pytest.raises(ValueError, match="^mem_util"):
        plan(L8B, gpu_bytes=80 << 30, mem_util="1.5")
    with pytest.raises(ValueError, match="^gpu"):
        gpu_memory("H900")
    with pytest.raises(ValueError, match="ambiguous"):
        gpu_memory("A100")
    assert gpu_memory("96GiB") == 96 << 30 and gpu_memory("1.5 TB") == 1_500_000_000_000


def test_a_first_word_names_the_plain_card():
    # "H100" is the 80GB SXM card even with the H100 NVL in the catalogue; "H20" is the only H20
    assert gpu_spec("H100").name == "H100 80GB" and gpu_spec("h20").name == "H20 96GB"
    assert gpu_spec("H100 NVL 94GB").name == gpu_spec("h100nvl94gb").name == "H100 NVL 94GB"
    # 93.00 GiB printed → 9300 · 1024 / 100 = 95,232 MiB = 99,857,989,632 B
    assert gpu_memory("H100 NVL 94GB") == 95_232 * (1 << 20) == 99_857_989_632
    # 23.58 GiB → 2358 · 1024 / 100 = 24,145.92 → 24,146 MiB; 95.33 GiB → 97,617.92 → 97,618 MiB
    assert gpu_memory("RTX 3090") == 24_146 << 20 and gpu_memory("H20") == 97_618 << 20
    # A10G: 21.99 GiB → 2199 · 1024 / 100 = 22,517.76 → 22,518 MiB
    assert gpu_memory("A10G") == 22_518 << 20 == 23_611_834_368
    with pytest.raises(ValueError, match="'RTX' is ambiguous"):
        gpu_spec("RTX")


@pytest.mark.parametrize("name", ["llama-3.1-8b", "deepseek-v3", "qwen3-next-80b-a3b", "gpt2",
                                  "gemma-2-27b", "gpt-oss-120b", "llama-4-scout", "mistral-7b-v0.1",
                                  "gemma-3-27b"])
@pytest.mark.parametrize("dtype, batch", [("bf16", 1), ("q4_0", 7), ("fp8_e4m3", 64)])
@pytest.mark.parametrize("layout, gpus, pp", [("theoretical", 8, 1), ("paged", 8, 1),
                                              ("theoretical", 8, 2), ("paged", 2, 2)])
def test_max_context_solved_equals_bisection(name, dtype, batch, layout, gpus, pp):
    # solved segment by segment between window sizes (a line through two points, then checked);
    # it must give what a plain bisection over fits() gives
    cap = plan(load_preset(name), gpu_bytes=gpu_memory("H200"), gpus=gpus, pp=pp, kv_dtype=dtype,
               layout=layout)
    got = cap.max_context(batch)
    if not cap.fits(1, batch):
        assert got == 0
        return
    if cap.fits(1 << 40, batch):
        assert got is None
        return
    lo, hi = 1, 1 << 40
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if cap.fits(mid, batch) else (lo, mid)
    assert got == lo
