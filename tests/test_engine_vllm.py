"""vLLM engine mode: hand-computed rules, and log lines vLLM printed in public issues.

vLLM prints "Available KV cache memory" rounded to 0.01 GiB, so a log's memory pins the block
count only to a range; the tests check the logged count lies in the range our rule gives for that
rounding interval, and that the concurrency and token lines follow from the logged count to the
printed digit.
"""
import json
from pathlib import Path

import pytest

from dataclasses import replace

from calculator.engines.vllm import plan
from calculator.hf_config import from_hf_config
from model_presets import load_preset
from tests.cli_run import cli

ROOT = Path(__file__).resolve().parent.parent
GIB = 1 << 30

# Qwen/Qwen3-14B config.json (the fields that shape the cache)
QWEN3_14B = {"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], "num_hidden_layers": 40,
             "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128,
             "hidden_size": 5120, "max_position_embeddings": 40960, "torch_dtype": "bfloat16"}
# neuralmagic/Meta-Llama-3.1-70B-Instruct-quantized.w8a8: Llama 3.1 70B shapes, bf16 KV
LLAMA_70B = {"model_type": "llama", "num_hidden_layers": 80, "num_attention_heads": 64,
             "num_key_value_heads": 8, "hidden_size": 8192, "max_position_embeddings": 131072,
             "torch_dtype": "bfloat16"}


def blocks_in(model, printed_gib: float, max_model_len: int, **kw) -> set[int]:
    """Block counts for every memory (1 MiB apart) that vLLM would print as ``printed_gib``."""
    lo, hi = int((printed_gib - 0.005) * GIB), int((printed_gib + 0.005) * GIB)
    return {plan(model, max_model_len=max_model_len, kv_memory=m, **kw).num_blocks
            for m in range(lo, hi, 1 << 20)}


def at_blocks(model, blocks: int, max_model_len: int, **kw):
    """The plan whose pool holds exactly ``blocks`` blocks."""
    p0 = plan(model, max_model_len=max_model_len, **kw)
    return plan(model, max_model_len=max_model_len, kv_memory=blocks * p0.page_size * p0.group_size,
                **kw)


# --- rules, by hand -------------------------------------------------------------------------

def test_llama_uniform_pool():
    m = load_preset("llama-3.1-8b")
    p = plan(m, max_model_len=20000, kv_memory=4 * GIB)
    # page: 16 tokens · 8 KV heads · (128 + 128) · 2 B = 65,536 B; 32 layers share one group
    assert p.page_size == 16 * 8 * 256 * 2 == 65_536 and p.group_size == 32 and len(p.groups) == 1
    # blocks: 4 GiB // 65,536 // 32 = 2,048; tokens 2,048 · 16 = 32,768
    assert p.num_blocks == 4 * GIB // 65_536 // 32 == 2048 and p.num_tokens == 32_768
    # one request: cdiv(20,000, 16) = 1,250 blocks; concurrency 2,048 / 1,250 = 1.6384
    assert p.blocks_per_request == 1250 and p.max_concurrency == 2048 / 1250
    assert p.request_bytes(3) == 3 * 1250 * 65_536 * 32


def test_gemma3_hybrid_groups_padding_and_window_blocks():
    m = load_preset("gemma-3-27b")  # 62 layers: 52 sliding (window 1024) + 10 full
    p = plan(m, max_model_len=131072, kv_memory=40 * GIB)
    # group size 10 (52 >= 1.5 · 10): 6 sliding groups (60 slots, 8 padding) + 1 full group
    assert p.group_size == 10 and len(p.groups) == 7 and p.padding_layers == 8
    # page 16 · 16 heads · 256 · 2 B = 131,072; blocks 40 GiB // 131,072 // 10 = 32,768
    assert p.page_size == 131_072 and p.num_blocks == 32_768
    # tokens: 32,768 // 7 groups · 16 = 4,681 · 16 = 74,896
    assert p.num_tokens == 74_896
    # per request: full cdiv(131,072, 16) = 8,192; sliding cdiv(min(1,023 + 8,192, 131,072), 16)
    # + 1 = 577 per group, 6 groups: 8,192 + 3,462 = 11,654 blocks
    assert p.blocks_per_request == 8192 + 6 * 577 == 11_654
    assert p.log_lines() == ["GPU KV cache size: 74,896 tokens",
                             "Maximum concurrency for 131,072 tokens per request: 2.81x"]


def test_gpt_oss_even_split_and_batched_tokens_knob():
    m = load_preset("gpt-oss-120b")  # 36 layers: 18 sliding (window 128) + 18 full
    p = plan(m, max_model_len=131072, kv_memory=40 * GIB, max_num_batched_tokens=2048)
    assert p.group_size == 18 and len(p.groups) == 2 and p.padding_layers == 0
    # sliding: cdiv(127 + 2,048, 16) + 1 = 137; full: 8,192 → 8,329 blocks per request
    assert p.blocks_per_request == 8192 + 137
    # page 16 · 8 · 128 · 2 = 32,768; 40 GiB // 32,768 // 18 = 72,817 blocks; tokens 72,817 // 2 · 16
    assert p.num_blocks == 72_817 and p.num_tokens == 36_408 * 16


def test_mla_replicated_over_tp_and_fp8_ds_mla():
    m = load_preset("deepseek-v3")  # 61 MLA layers, latent 512 + 64
    p1, p8 = (plan(m, max_model_len=163840, tp=t) for t in (1, 8))
    assert p1.page_size == p8.page_size == 16 * 576 * 2  # the latent is not split across ranks
    assert plan(m, max_model_len=4096, kv_cache_dtype="fp8_ds_mla").page_size == 16 * 656


def test_kv_heads_per_rank():
    m = load_preset("llama-3.1-70b")  # 8 KV heads
    assert plan(m, max_model_len=8, tp=4).page_size == 16 * 2 * 256 * 2   # 8 // 4 = 2 per rank
    assert plan(m, max_model_len=8, tp=16).page_size == 16 * 1 * 256 * 2  # replicated: 1 per rank
    assert plan(m, max_model_len=8, kv_cache_dtype="fp8").page_size == 16 * 8 * 256 * 1


@pytest.mark.parametrize("kw, field", [({"block_size": 24}, "block-size"),
                                       ({"kv_cache_dtype": "q4_0"}, "kv-cache-dtype"),
                                       ({"tp": 3}, "tp"), ({"kv_memory": 0}, "kv-memory")])
def test_engine_rejects(kw, field):
    with pytest.raises(ValueError, match=f"^{field}: "):
        plan(load_preset("llama-3.1-8b"), max_model_len=8192, **kw)


def test_hybrid_state_pages_by_hand():
    # Qwen3-Next, TP 1: a gated-DeltaNet layer's state = conv 8,192 × 3 × 2 B + 32 × 128 × 128 × 2 B
    # = 49,152 + 1,048,576 = 1,097,728 B; attention: 2 KV heads × 256 × (K + V) × 2 B = 2,048 B/token
    p = plan(load_preset("qwen3-next-80b-a3b"), max_model_len=8192, kv_memory=40 * GIB)
    # block = 16 · cdiv(1,097,728, 16 · 2,048) = 16 · 34 = 544; page = 544 · 2,048 = 1,114,112 B
    assert p.page_size == 544 * 2048 == 1_114_112
    # 12 attention + 36 state layers → groups of 12: 1 attention + 3 state groups, no padding
    assert (p.group_size, len(p.groups), p.padding_layers) == (12, 4, 0)
    # one request: cdiv(8192, 544) = 16 attention blocks + 1 page per state group = 19
    assert p.blocks_per_request == 16 + 3
    assert p.num_blocks == 40 * GIB // 1_114_112 // 12 == 3212
    assert p.log_lines() == [
        "Setting attention block size to 544 tokens to ensure that attention page size is >= mamba page size.",
        # (1,114,112 − 1,097,728) / 1,097,728 = 1.4925 %
        "Padding mamba page size by 1.49% to ensure that mamba page size and attention page size are exactly equal.",
        f"GPU KV cache size: {3212 // 4 * 544:,} tokens",
        f"Maximum concurrency for 8,192 tokens per request: {3212 / 19:.2f}x"]


def test_log_qwen3_next_tp2_vllm_0_10_2():
    # vLLM 0.10.2 api_server log, Qwen3-Next-80B-A3B-Instruct --tensor-parallel-size 2, H200 (a
    # public log file found by the code search; its repository path was not resolvable):
    #   Setting attention block size to 544 tokens to ensure that attention page size is >= mamba page size.
    #   Padding mamba page size by 1.49% to ensure that mamba page size and attention page size are exactly equal.
    #   Available KV cache memory: 44.59 GiB
    #   GPU KV cache size: 973,760 tokens
    #   Maximum concurrency for 262,144 tokens per request: 14.77x
    # TP 2: 1 KV head per rank (1,024 B/token); state 4,096 × 3 × 2 + 16 × 128 × 128 × 2 = 548,864 B
    # → block 16 · cdiv(548,864, 16,384) = 544, page 557,056 B; 44.59 GiB // 557,056 // 12 = 7,162
    # blocks; tokens 7,162 // 4 groups · 544 = 973,760; concurrency 7,162 / (482 + 3) = 14.767
    p = plan(load_preset("qwen3-next-80b-a3b"), max_model_len=262144, tp=2,
             kv_memory=int(44.59 * GIB))
    assert p.page_size == 557_056 and p.num_blocks == 7162 and p.blocks_per_request == 485
    assert p.log_lines() == [
        "Setting attention block size to 544 tokens to ensure that attention page size is >= mamba page size.",
        "Padding mamba page size by 1.49% to ensure that mamba page size and attention page size are exactly equal.",
        "GPU KV cache size: 973,760 tokens",
        "Maximum concurrency for 262,144 tokens per request: 14.77x"]


def test_lightning_state_not_modelled():
    from calculator.specs import FullAttentionSpec, LayerGroup, ModelSpec, StateSpec
    m = ModelSpec(name="lightning", num_attention_heads=8, hidden_size=512, max_context=4096, groups=(
        LayerGroup(spec=FullAttentionSpec(num_kv_heads=8, head_dim_k=64, head_dim_v=64), layers=(0,)),
        LayerGroup(spec=StateSpec(shapes=((8, 64, 64),), dtype="bf16", mechanism="linear attention"),
                   layers=(1,))))
    with pytest.raises(ValueError, match="linear attention state is not modelled"):
        plan(m, max_model_len=4096)


# --- real log lines -------------------------------------------------------------------------

def test_log_vllm_issue_10517_llama31_8b_20k():
    # https://github.com/vllm-project/vllm/issues/10517 (V0, RTX 3090, Llama-3.1-8B-Instruct):
    # "kv_cache_size=3.81GiB", "# GPU blocks: 1952",
    # "Maximum concurrency for 20000 tokens per request: 1.56x"
    m = load_preset("llama-3.1-8b")
    assert 1952 in blocks_in(m, 3.81, 20000)
    p = at_blocks(m, 1952, 20000)
    assert f"{p.max_concurrency:.2f}x" == "1.56x"


def test_log_vllm_issue_10517_llama31_8b_29k():
    # same issue, --max-model-len 29000: "kv_cache_size=2.89GiB", "# GPU blocks: 1478",
    # "Maximum concurrency for 29000 tokens per request: 0.82x", and "the maximum number of
    # tokens that can be stored in KV cache (23648)"
    m = load_preset("llama-3.1-8b")
    assert 1478 in blocks_in(m, 2.89, 29000)
    p = at_blocks(m, 1478, 29000)
    assert f"{p.max_concurrency:.2f}x" == "0.82x" and p.num_tokens == 23648


def test_log_vllm_pr_12569_llama31_70b_w8a8():
    # https://github.com/vllm-project/vllm/pull/12569: "# GPU blocks: 1381",
    # "Maximum concurrency for 2048 tokens per request: 10.79x"
    p = at_blocks(from_hf_config(LLAMA_70B, name="Llama-3.1-70B w8a8"), 1381, 2048)
    assert f"{p.max_concurrency:.2f}x" == "10.79x"  # 1,381 / cdiv(2,048, 16) = 1,381 / 128


def test_log_vllm_pr_13596_tokens_line():
    # https://github.com/vllm-project/vllm/pull/13596: "# GPU blocks: 127626" became
    # "GPU KV cache size: 2,042,016 tokens" / "Maximum concurrency for 2,048 tokens per request:
    # 997.08x" (model not named; any uniform full-attention model gives the same lines)
    p = at_blocks(load_preset("llama-3.1-8b"), 127626, 2048)
    assert p.log_lines() == ["GPU KV cache size: 2,042,016 tokens",
                             "Maximum concurrency for 2,048 tokens per request: 997.08x"]


def test_log_lmcache_1739_qwen3_14b():
    # https://github.com/LMCache/LMCache/issues/1739: Qwen3-14B, one GPU:
    # "Available KV cache memory: 6.51 GiB", "GPU KV cache size: 42,656 tokens",
    # "Maximum concurrency for 32,768 tokens per request: 1.30x"
    m = from_hf_config(QWEN3_14B, name="Qwen3-14B")
    assert 42656 // 16 in blocks_in(m, 6.51, 32768)
    assert at_blocks(m, 42656 // 16, 32768).log_lines() == [
        "GPU KV cache size: 42,656 tokens",
        "Maximum concurrency for 32,768 tokens per request: 1.30x"]


# --- CLI ------------------------------------------------------------------------------------


def test_cli_log_and_json():
    r = cli("--preset", "gemma-3-27b", "--engine", "vllm", "--context", "128k",
            "--kv-memory", "40GiB", "--format", "log")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["GPU KV cache size: 74,896 tokens",
                                     "Maximum concurrency for 131,072 tokens per request: 2.81x"]
    r = cli("--preset", "gemma-3-27b", "--engine", "vllm", "--context", "128k",
            "--kv-memory", str(40 * GIB), "--format", "json")
    row = json.loads(r.stdout)
    assert (row["engine"], row["num_blocks"], row["engine_tokens"]) == ("vllm", 32768, 74896)
    assert row["max_concurrency"] == 32768 / 11654


@pytest.mark.parametrize("args, flag", [(["--block-size", "24"], "--block-size"),
                                        (["--kv-cache-dtype", "int4"], "--kv-cache-dtype"),
                                        (["--tp", "3"], "--tp"),
                                        (["--format", "log"], "--format log")])
def test_cli_rejects_with_one_line(args, flag):
    r = cli("--preset", "llama-3.1-8b", "--engine", "vllm", "--context", "8k", *args)
    assert r.returncode == 2 and r.stderr.startswith(f"error: {flag}") and r.stderr.count("\n") == 1


def test_capacity_page_shows_vllm_log_lines():
    from streamlit.testing.v1 import AppTest
    from calculator import gpu_memory
    from calculator import plan as capacity_plan
    at = AppTest.from_file(str(ROOT / "views" / "capacity.py"), default_timeout=60)
    for k, v in {"c_model": "gemma-3-27b", "c_engine": "vllm", "c_gpus": "1", "c_ctx": "32768"}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception
    # the pool gets what vLLM's startup leaves on an H100 (not utilization × total − weights)
    from calculator.engines.vllm_startup import predict
    from calculator.gpus import GPU_SPECS
    m = load_preset("gemma-3-27b")
    start = predict(m, GPU_SPECS["H100 80GB"], mem_util="0.90", tp=1)
    cap = capacity_plan(m, gpu_bytes=gpu_memory("H100 80GB"), gpus=1, tp=1, pp=1, mem_util="0.90")
    assert start.available < cap.free_per_gpu  # the activation peak and non-torch come off too
    want = plan(m, max_model_len=32768, kv_memory=start.available,
                max_num_batched_tokens=start.max_num_batched_tokens)
    assert at.code[0].value == "\n".join(start.log_lines() + want.log_lines())
    assert {m.label: m.value for m in at.metric}["GPU blocks"] == f"{want.num_blocks:,}"
    at.selectbox(key="c_kvdtype").set_value("q4_0").run()  # a cache vLLM does not have
    assert any(e.value.startswith("kv-cache-dtype: vLLM has no q4_0") for e in at.error)


def test_eagle_draft_layer_shares_the_pool():
    # vllm-project/vllm "[V1][Bug][Spec Decode]: Overhead of SD with PC" (H100, Llama 3.1 8B +
    # EAGLE): "Available KV cache memory: 51.63 GiB", "GPU KV cache size: 410,128 tokens",
    # "Maximum concurrency for 131,072 tokens per request: 3.13x" (find_string id 56932817574).
    # 51.63 GiB = 55,437,290,373 B // 65,536 B pages // 33 layers (32 + the EAGLE layer) = 25,633
    # blocks = 410,128 tokens; without the draft layer: // 32 = 26,434 blocks = 422,944 tokens.
    m = load_preset("llama-3.1-8b")
    memory = round(51.63 * (1 << 30))
    with_draft = plan(m, max_model_len=131072, kv_memory=memory, draft_layers=1)
    assert with_draft.log_lines() == ["GPU KV cache size: 410,128 tokens",
                                      "Maximum concurrency for 131,072 tokens per request: 3.13x"]
    assert plan(m, max_model_len=131072, kv_memory=memory).num_tokens == 422_944
    r = cli("--preset", "llama-3.1-8b", "--engine", "vllm", "--context", "128k", "--kv-memory",
            str(memory), "--num-draft-layers", "1", "--format", "log")
    assert r.stdout.splitlines()[0] == "GPU KV cache size: 410,128 tokens"
    bad = cli("--preset", "llama-3.1-8b", "--engine", "vllm", "--context", "8k",
              "--num-draft-layers", "-1")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --num-draft-layers:")


def test_mla_block_size_forced_by_gpu_generation():
    """vllm/platforms/cuda.py · CudaPlatformBase.check_and_update_config (v0.11): FlashMLA on
    Hopper forces block 64, CUTLASS MLA on Blackwell (sm 10.0) 128; other GPUs keep 16."""
    from calculator.engines.vllm import mla_block_size
    ds = load_preset("deepseek-v3")
    # TP 8, one latent per layer: page at block 16 = 16 · (512 + 64) · 2 B = 18,432 B, 61 layers;
    # memory for exactly 38,199 blocks of 16 = 611,184 tokens
    memory = 38_199 * 18_432 * 61
    assert plan(ds, max_model_len=32_768, kv_memory=memory, tp=8).num_tokens == 611_184
    hopper = plan(ds, max_model_len=32_768, kv_memory=memory, tp=8, gpu="H100 80GB")
    # block 64: page 73,728 B → 38,199 // 4 = 9,549 blocks · 64 = 611,136 tokens
    assert (hopper.block_size, hopper.num_tokens) == (64, 9_549 * 64) == (64, 611_136)
    assert hopper.log_lines()[0] == "Forcing kv cache block size to 64 for FlashMLA backend."
    blackwell = plan(ds, max_model_len=32_768, kv_memory=memory, tp=8, gpu="B200 180GB")
    assert (blackwell.block_size, blackwell.num_tokens) == (128, 38_199 // 8 * 128)
    assert blackwell.log_lines()[0] == "Forcing kv cache block size to 128 for CUTLASS_MLA backend."
    assert plan(ds, max_model_len=32_768, kv_memory=memory, tp=8, gpu="A100 80GB").block_size == 16
    assert plan(ds, max_model_len=32_768, kv_memory=memory, tp=8, gpu="80GiB").block_size == 16
    assert mla_block_size(ds, 128, "H100 80GB") == (128, None)  # a multiple of 64 stays
    llama = load_preset("llama-3.1-8b")
    assert plan(llama, max_model_len=4096, kv_memory=1 << 30, gpu="H100 80GB").block_size == 16
    # DeepSeek sparse attention (index_topk): 64 everywhere, after CUTLASS's 128 on Blackwell
    sparse = replace(ds, config={**(ds.config or {}), "index_topk": 2048})
    assert mla_block_size(sparse, 16, "B200 180GB") == (64, "Forcing kv cache block size to 128 for "
        "CUTLASS_MLA backend.\nForcing kv cache block size to 64 for FlashMLASparse backend.")
    assert mla_block_size(sparse, 16, "H200 141GB")[0] == 64


def test_cli_log_puts_the_forced_mla_block_line_first():
    # up to 0.17 the platform forces the block while the config is built, before loading
    out = cli("--preset", "deepseek-v3", "--engine", "vllm", "--gpu", "H200", "--tp", "8",
              "--context", "32768", "--format", "log", "--engine-version", "0.17")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "Forcing kv cache block size to 64 for FlashMLA backend."
    assert sum("Forcing" in x for x in lines) == 1 and lines[-2].startswith("GPU KV cache size")
    assert int(lines[-2].split()[-2].replace(",", "")) % 64 == 0


def test_mla_block_from_the_selected_backend_from_018():
    """v0.18 on (vllm-project/vllm#35122; upstream 811d80519 ``_get_backend_priorities`` and
    ``Platform.update_block_size_for_backend``): Hopper runs FLASH_ATTN_MLA, whose kernel takes
    multiples of 16, so the default 16 stays and nothing is logged; Blackwell runs FLASHINFER_MLA
    (blocks 32 or 64): 16 is not supported, so the smallest, 32, logged after the load."""
    from calculator.engines.vllm import mla_block_size
    ds = load_preset("deepseek-v3")
    memory = 38_199 * 18_432 * 61          # exactly 38,199 blocks of 16 at TP 8 (above)
    hopper = plan(ds, max_model_len=32_768, kv_memory=memory, tp=8, gpu="H200", version="0.18")
    assert (hopper.block_size, hopper.num_tokens) == (16, 38_199 * 16) == (16, 611_184)
    assert hopper.config_lines == hopper.backend_lines == ()
    blackwell = plan(ds, max_model_len=32_768, kv_memory=memory, tp=8, gpu="B200", version="0.22")
    # block 32: page 36,864 B · 61 layers → 38,199 // 2 = 19,099 blocks; tokens from concurrency
    assert (blackwell.block_size, blackwell.num_blocks) == (32, 19_099)
    assert blackwell.backend_lines == ("Setting kv cache block size to 32 for FLASHINFER_MLA "
                                       "backend.",)
    head = blackwell.head_lines(["Model loading took 79.56 GiB memory",
                                 "Available KV cache memory: 1.00 GiB"])
    assert head[1] == blackwell.backend_lines[0]  # after the load, before the KV memory
    # B300 (10.3) is the same family; an fp8 KV on Hopper leaves FlashAttention MLA for FlashMLA
    assert mla_block_size(ds, 16, "B300", "0.20") == (32, blackwell.backend_lines[0])
    assert mla_block_size(ds, 16, "H100", "0.21", "fp8") == (
        64, "Setting kv cache block size to 64 for FLASHMLA backend.")
    # qk_nope_head_dim outside FlashInfer MLA's 64/128/192: CUTLASS MLA (128); a user's block stays
    odd = replace(ds, config={**(ds.config or {}), "qk_nope_head_dim": 96})
    assert mla_block_size(odd, 16, "B200", "0.22") == (
        128, "Setting kv cache block size to 128 for CUTLASS_MLA backend.")
    assert mla_block_size(ds, 64, "B200", "0.22") == (64, None)
    assert mla_block_size(ds, 16, "A100 80GB", "0.22") == (16, None)   # TRITON_MLA
    # DSA: the indexer cache is the first attention layer vLLM finds (its backend takes 64)
    sparse = replace(ds, config={**(ds.config or {}), "index_topk": 2048})
    assert mla_block_size(sparse, 16, "H200", "0.22") == (
        64, "Setting kv cache block size to 64 for DEEPSEEK_V32_INDEXER backend.")


def test_mla_block_in_017_and_b300_in_011():
    """v0.17.x (cuda.py before #35122): Blackwell takes FlashInfer MLA when qk_nope_head_dim is
    128 (block 32 or a multiple of 64, else 64), else CUTLASS MLA (128); v0.11.0 forces CUTLASS
    only on capability 10.0, so a B300 (10.3) keeps 16 there."""
    from calculator.engines.vllm import mla_block_size
    ds = load_preset("deepseek-v3")
    assert mla_block_size(ds, 16, "B300", "0.17") == (
        64, "Forcing kv cache block size to 64 for FlashInferMLA backend.")
    assert mla_block_size(ds, 32, "B200", "0.17") == (32, None)
    odd = replace(ds, config={**(ds.config or {}), "qk_nope_head_dim": 192})
    assert mla_block_size(odd, 16, "B200", "0.17") == (
        128, "Forcing kv cache block size to 128 for CUTLASS_MLA backend.")
    sparse = replace(ds, config={**(ds.config or {}), "index_topk": 2048})
    assert mla_block_size(sparse, 16, "B200", "0.17") == (
        64, "Forcing kv cache block size to 64 for FlashMLASparse backend.")
    assert mla_block_size(ds, 16, "B300", "0.11") == (16, None)
    assert mla_block_size(ds, 16, "GB200", "0.11")[0] == 128
