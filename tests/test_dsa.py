"""DeepSeek sparse attention (DeepSeek-V3.2, GLM-5): the indexer key cache in every mode.

Configs: model_presets/configs/SOURCES.md. Each layer holds the MLA latent (kv_lora_rank 512 + rope 64)
and, where it runs its own lightning indexer, one 128-wide key stored as 128 fp8 bytes plus one
fp32 scale: 132 B per token (DeepSeek-V3.2-Exp inference/model.py ``Indexer``: k_cache fp8 +
k_scale_cache fp32 per 128 elements).
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from calculator.engines import sglang_pool, static_cache_bytes, vllm_plan
from calculator.engines.llamacpp import plan as llamacpp_plan
from calculator.engines.sglang_startup import predict as sglang_predict
from calculator.formula import terms
from calculator.gpus import gpu_spec
from calculator.hf_config import from_hf_config
from calculator.model.shapes import param_shapes
from calculator.totals import kv_cache_bytes

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "model_presets" / "configs"
GLM5 = json.loads((CONFIGS / "glm-5.json").read_text())
DSV32 = json.loads((CONFIGS / "deepseek-v3.2-exp.json").read_text())


def model(config, name="m"):
    return from_hf_config(config, name=name)


def test_glm5_theoretical_bytes_by_hand():
    m = model(GLM5, "glm-5")
    assert m.describe() == "MLA + DSA indexer (78/78 layers)"
    b = kv_cache_bytes(m, 131072, 1, "bf16")
    # 78 layers · 131,072 tokens · (576 · 2 B latent + 128 + 4 B indexer)
    assert b.kv_bytes == 78 * 131072 * (1152 + 132) == 13_127_122_944
    assert b.groups[0].index_bytes == 78 * 131072 * 132 == 1_349_517_312
    # the indexer keeps its own format under an fp8 KV dtype: 576 · 1 B + 132 B
    assert kv_cache_bytes(m, 1000, 2, "fp8").kv_bytes == 78 * 2 * 1000 * (576 + 132)
    (term,) = terms(m, 131072)
    assert term.text() == "78 · 1 · 131,072 · (1,152 + 128 + 4)"
    assert term.value == b.kv_bytes


def test_deepseek_v32_and_its_mtp_layer():
    m = model(DSV32, "v3.2")
    assert "DSA indexer (61/61 layers)" in m.describe()
    assert kv_cache_bytes(m, 163840, 1, "bf16").kv_bytes == 61 * 163840 * 1284
    with_mtp = from_hf_config(DSV32, include_mtp=True)  # the next-n layer runs an indexer too
    assert kv_cache_bytes(with_mtp, 10, 1, "bf16").kv_bytes == 62 * 10 * 1284


def test_glm52_shared_indexer_layers():
    # GlmMoeDsaConfig: layer i runs the indexer when max(i − 3 + 1, 0) % 4 == 0: 0, 1, 2, 6, 10
    cfg = {**GLM5, "num_hidden_layers": 12, "index_topk_freq": 4, "index_skip_topk_offset": 3}
    groups = {g.spec.indexer is not None: g.layers for g in model(cfg).groups}
    assert groups[True] == (0, 1, 2, 6, 10)
    assert groups[False] == (3, 4, 5, 7, 8, 9, 11)
    # 5 layers · (1,152 + 132) + 7 layers · 1,152, per token
    assert kv_cache_bytes(model(cfg), 1, 1, "bf16").kv_bytes == 5 * 1284 + 7 * 1152
    written = {**GLM5, "num_hidden_layers": 3, "indexer_types": ["full", "shared", "full"]}
    assert [g.layers for g in model(written).groups] == [(0, 2), (1,)]
    pattern = {**GLM5, "num_hidden_layers": 3, "index_topk_pattern": "FFS"}
    assert [g.layers for g in model(pattern).groups] == [(0, 1), (2,)]


@pytest.mark.parametrize("bad, field", [
    ({"indexer_types": ["full"]}, "indexer_types"),
    ({"indexer_types": ["full", "sparse", "full"] + ["full"] * 75}, "indexer_types"),
    ({"index_head_dim": 0}, "index_head_dim"),
    ({"index_head_dim": "128"}, "index_head_dim"),
])
def test_bad_dsa_fields_named(bad, field):
    with pytest.raises(ValueError, match=f"^{field}"):
        model({**GLM5, **bad})


def test_legacy_dsa_layer_type_is_read_as_transformers_remaps_it():
    # nvidia/GLM-5.2-NVFP4 writes layer_types "deepseek_sparse_attention" (transformers 5.23.0
    # _LEGACY_LAYER_TYPE_REMAP: indexed_attention): the same cache as GLM-5 without the list
    legacy = model({**GLM5, "layer_types": ["deepseek_sparse_attention"] * 78})
    assert legacy.groups == model(GLM5).groups


def test_transformers_mode_keeps_indexer_keys_in_compute_dtype():
    # StaticIndexedLayer: [batch, max_cache_len, 128] bf16, plus two int64 counters per layer
    b = static_cache_bytes(model(GLM5), 100, 2)
    assert b.total_bytes == 78 * (2 * 100 * (576 + 128) * 2 + 2 * 8)
    assert b.groups[0].index_bytes == 78 * 2 * 100 * 128 * 2


def test_vllm_pages_and_fp8_ds_mla():
    m = model(DSV32)
    p = vllm_plan(m, max_model_len=163840, kv_memory=40 << 30, gpu="H200", tp=8)
    # one UniformTypeKVCacheSpecs group: block 64 · 61 layers · (1,152 latent + 132 indexer)
    assert (p.group_size, p.block_size, p.page_size) == (1, 64, 64 * 61 * 1284)
    assert p.num_tokens == (40 << 30) // (64 * 61 * 1284) * 64
    # the one group's layers by spec, as the CLI table names them: 61 latents, 61 indexer caches
    assert [(s.kind, s.token_bytes, n) for s, n in p.uniform_kinds] == [
        ("mla", 1152, 61), ("indexer", 132, 61)]
    assert p.log_lines()[0] == "Forcing kv cache block size to 64 for FlashMLA backend."
    # --kv-cache-dtype fp8 becomes fp8_ds_mla: 656-byte latents, the indexer stays 132 B
    f = vllm_plan(m, max_model_len=163840, kv_memory=40 << 30, gpu="H200", kv_cache_dtype="fp8")
    assert f.page_size == 64 * 61 * (656 + 132)
    assert f.log_lines()[0] == "Using custom fp8 kv-cache format for DeepSeekV3.2"
    # a DSA config without index_topk (GLM-5 as trimmed) still gets the sparse block size
    g = vllm_plan(model(GLM5), max_model_len=1000, kv_memory=1 << 30, gpu="L40S")
    assert g.block_size == 64
    # an MTP draft layer brings its indexer cache along
    d = vllm_plan(m, max_model_len=1000, kv_memory=1 << 30, gpu="H200", draft_layers=1)
    assert d.page_size == 64 * 62 * 1284


def test_sglang_pr_11309_b200_log():
    # https://github.com/sgl-project/sglang/pull/11309 (DeepSeek-V3.2-Exp, --tp 8 --dp 8, B200):
    # "KV Cache is allocated. #tokens: 975424, KV size: 43.67 GB"
    p = sglang_pool(model(DSV32), tokens=975424, gpu="B200")
    assert p.page_size == 64
    assert p.dtype_name == "torch.float8_e4m3fn"  # auto on Blackwell
    # latent: 61 · (975,424 + 64) · 656 B; indexer: 61 · ((975,424 + 65) // 64) pages · 64 · 132 B
    assert p.k_bytes == 61 * 975_488 * 656
    assert p.index_bytes == 61 * (975_489 // 64) * 64 * 132
    assert p.log_lines("legacy") == [
        "Setting page size to 64 for DeepSeek NSA.",
        "Setting KV cache dtype to fp8_e4m3 for DeepSeek NSA.",
        "KV Cache is allocated. #tokens: 975424, KV size: 43.67 GB"]
    # the profile's cell leaves the fp8 scales and bf16 rope out: 61 · (576 + 132)
    assert p.cell_size == 61 * 708 == 43_188
    assert sglang_pool(model(DSV32), kv_memory=975424 * 43188 + 43187, gpu="B200").tokens == 975424


def test_sglang_hopper_bf16_and_refusals():
    p = sglang_pool(model(DSV32), kv_memory=40 << 30, gpu="H100")
    assert p.dtype_name == "torch.bfloat16"
    assert p.cell_size == 61 * (576 * 2 + 132)
    assert p.tokens == (40 << 30) // p.cell_size // 64 * 64
    with pytest.raises(ValueError, match="^kv-cache-dtype: DeepSeek NSA only supports"):
        sglang_pool(model(DSV32), tokens=64, kv_cache_dtype="fp8_e5m2")
    with pytest.raises(ValueError, match="^engine sglang: SGLang 0.5 runs DeepSeek NSA with DP "
                                         "attention"):
        sglang_predict(model(DSV32), gpu_spec("H200"), tp=8, version="0.5")
    with pytest.raises(ValueError, match="^engine llama.cpp: DeepSeek sparse attention came"):
        llamacpp_plan(model(DSV32), n_ctx=4096, mla="latent+v")


def test_sglang_main_runs_nsa_with_tp_attention():
    """sgl-project/sglang#16305 (January 2026) stopped forcing DP attention for DeepSeek NSA, so
    the main build's attention weights are split over TP like any MLA model's (the indexer's
    wq_b, wk and weights_proj replicated, as SGLang's nsa_indexer builds them), with the w_kc /
    w_vc copies of kv_b_proj; its pool is the NSA pool (page 64, latent + indexer keys)."""
    from calculator.capacity import weights_per_gpu
    from calculator.engines.sglang_startup import mla_copies
    from model_presets import load_preset
    m = load_preset("deepseek-v3.2-exp")
    s = sglang_predict(m, gpu_spec("H200"), tp=8, version="main")
    # + the float32 YaRN rope cache: 4,096 × 40 = 163,840 positions × 64 × 4 B = 41,943,040
    assert s.rope_cache == 41_943_040
    assert s.weights == weights_per_gpu(m, 8) + mla_copies(m, 8) + 41_943_040
    # bf16 copies of kv_b_proj for 128 / 8 heads: 61 layers · 16 · (128 + 128) · 512 · 2 B
    assert mla_copies(m, 8) == 61 * 16 * 256 * 512 * 2
    p = sglang_pool(m, kv_memory=s.available, tp=8, gpu="H200")
    assert p.tokens == s.available // (61 * (576 * 2 + 132)) // 64 * 64


@pytest.mark.parametrize("config", [DSV32, GLM5], ids=["deepseek-v3.2", "glm-5"])
def test_parameter_count_equals_transformers(config):
    # transformers 5.23.0 on the meta device counts the indexer's wq_b, wk, k_norm, weights_proj
    from model_presets.param_counts import count_parameters
    assert sum(p.numel for p in param_shapes(config)) == count_parameters(config)


def test_cli_sglang_log_and_llamacpp_caches():
    run = [sys.executable, "-m", "calculator", "--config", str(CONFIGS / "deepseek-v3.2-exp.json"),
           "--context", "163840"]
    out = subprocess.run(run + ["--engine", "sglang", "--gpu", "B200", "--kv-memory", "42000000000",
                                "--format", "log", "--log-style", "legacy"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    tokens = 42_000_000_000 // 43188 // 64 * 64
    assert out.stdout.splitlines() == [
        "Setting page size to 64 for DeepSeek NSA.",
        "Setting KV cache dtype to fp8_e4m3 for DeepSeek NSA.",
        f"KV Cache is allocated. #tokens: {tokens}, KV size: "
        f"{(61 * (tokens + 64) * 656 + 61 * ((tokens + 65) // 64) * 64 * 132) / 2**30:.2f} GB"]
    # llama.cpp: the latent cache, then one 128-wide f16 indexer key per layer: 163,840 cells ·
    # 61 layers · 128 · 2 B = 2,440 MiB
    out = subprocess.run(run + ["--engine", "llama.cpp", "--format", "log"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-2:] == [
        "llama_kv_cache_dsa: creating indexer KV cache, size = 163840 cells",
        "llama_kv_cache: size = 2440.00 MiB (163840 cells,  61 layers,  1/1 seqs), "
        "K (f16): 2440.00 MiB, V (f16):    0.00 MiB"]
    bad = subprocess.run(run + ["--engine", "llama.cpp", "--mla-cache", "latent+v"],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_measure_allocates_and_reads_the_indexer():
    # torch allocates the fp8 keys (as bytes) and the fp32 scales beside the latent; the decode
    # step reads both: one layer at 256 tokens = 256 · (576 · 4 B + 132 B) in fp32
    from measure.check import measure_model
    from measure.decode import time_decode
    m = model(GLM5, "glm-5")
    rows = measure_model(m, context=256, batch=2, dtype="fp8", layout="paged", device="cpu")
    assert all(r.match for r in rows)
    assert rows[-1].measured_bytes == 78 * 2 * 256 * (576 + 132)
    (row,) = time_decode(m, context=256, batch=1, dtype="fp32", device="cpu", repeats=2)
    assert row.bytes_read == 256 * (576 * 4 + 132)


def test_vllm_dsa_startup_is_labelled_an_upper_bound():
    # the lightning indexer's profiling scratch is not modelled: the figure says so, in the
    # library, the CLI's JSON and (views/engines.py) the Engines page's status column
    from calculator.engines.vllm_startup import predict as vllm_predict
    from model_presets import load_preset
    s = vllm_predict(load_preset("deepseek-v3.2"), gpu_spec("H200"), tp=8)
    assert s.dsa_indexer and s.dsa_note.startswith("upper bound: in the profiling run the "
                                                   "lightning indexer")
    assert vllm_predict(load_preset("deepseek-v3"), gpu_spec("H200"), tp=8).dsa_note == ""
    row = json.loads(subprocess.run(
        [sys.executable, "-m", "calculator", "--preset", "deepseek-v3.2", "--engine", "vllm",
         "--gpu", "H200", "--tp", "8", "--context", "32768", "--format", "json"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent
    ).stdout)
    assert row["dsa_indexer_profile"] == "not modelled"
