"""llama.cpp engine mode: each rule by hand, and lines llama.cpp printed in public logs, to the digit."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from calculator.engines.llamacpp import max_context, mib, plan
from calculator.hf_config import from_hf_config
from model_presets import load_preset

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20

# https://github.com/ontouchstart/rabbit-holes/blob/c3f36b2a72a76f6c2962075f4db4337e222f1f01/ggml-gpt-oss-20b-GGUF/ggml-gpt-oss-20b-GGUF-curl.md
# llama-completion build 8164 (b68d75165), -hf ggml-org/gpt-oss-20b-GGUF, defaults: n_ctx 131072
# (n_ctx_train), n_seq_max 1, n_batch 2048, n_ubatch 512, f16 cache
GPT_OSS_131K = """\
llama_kv_cache_iswa: creating non-SWA KV cache, size = 131072 cells
llama_kv_cache: size = 3072.00 MiB (131072 cells,  12 layers,  1/1 seqs), K (f16): 1536.00 MiB, V (f16): 1536.00 MiB
llama_kv_cache_iswa: creating     SWA KV cache, size = 768 cells
llama_kv_cache: size =   18.00 MiB (   768 cells,  12 layers,  1/1 seqs), K (f16):    9.00 MiB, V (f16):    9.00 MiB"""

# https://github.com/ggml-org/llama.cpp/blob/dbe3e7886a6df1f15151630af6b00180f1518e19/docs/backend/hexagon/developer.md
# gpt-oss-20b-Q4_0 on 4 Hexagon NPUs: --ctx-size 8192 --batch-size 128 -ctk q8_0 -ctv q8_0 -fa on
# (the per-device "KV buffer size" lines in between are left out: they split one cache across devices)
GPT_OSS_HEXAGON = """\
llama_kv_cache_iswa: creating non-SWA KV cache, size = 8192 cells
llama_kv_cache: size =  102.00 MiB (  8192 cells,  12 layers,  1/1 seqs), K (q8_0):   51.00 MiB, V (q8_0):   51.00 MiB
llama_kv_cache_iswa: creating     SWA KV cache, size = 256 cells
llama_kv_cache: size =    3.19 MiB (   256 cells,  12 layers,  1/1 seqs), K (q8_0):    1.59 MiB, V (q8_0):    1.59 MiB"""


def test_log_gpt_oss_20b_full_context():
    p = plan(load_preset("gpt-oss-20b"), n_ctx=131072)
    assert "\n".join(p.log_lines()) == GPT_OSS_131K
    base, swa = p.caches
    # full layers: 12 · 131,072 cells · 8 heads · 64 · 2 B = 1,610,612,736 B = 1536 MiB, for K and for V
    assert base.k_bytes == base.v_bytes == 12 * 131_072 * 8 * 64 * 2 == 1536 * MIB
    # SWA cells: GGML_PAD(min(131,072, 128 · 1 + 512), 256) = GGML_PAD(640, 256) = 768
    assert swa.cells == 768 and swa.k_bytes == 12 * 768 * 512 * 2 == 9 * MIB


def test_log_gpt_oss_20b_hexagon_q8_0():
    p = plan(load_preset("gpt-oss-20b"), n_ctx=8192, n_batch=128, cache_type_k="q8_0",
             cache_type_v="q8_0")
    assert "\n".join(p.log_lines()) == GPT_OSS_HEXAGON
    base, swa = p.caches
    # q8_0 rows: 512 values = 16 blocks · 34 B = 544 B; 12 layers · 8192 cells · 544 B = 51 MiB
    assert base.k_bytes == 12 * 8192 * 544 == 51 * MIB
    # n_ubatch = min(n_batch 128, 512) = 128; SWA = GGML_PAD(min(8192, 128 + 128), 256) = 256 cells;
    # 12 · 256 · 544 = 1,671,168 B = 1.59375 MiB, printed "1.59"; K + V = 3.1875, printed "3.19"
    assert swa.cells == 256 and swa.k_bytes == 12 * 256 * 544 == 1_671_168


def test_log_gpt_oss_20b_ubatch_2048():
    # the same build with -ub 2048 printed "creating SWA KV cache, size = 2304 cells" and
    # "size = 54.00 MiB (2304 cells, 12 layers, 1/1 seqs), K (f16): 27.00 MiB, V (f16): 27.00 MiB"
    # (in ontouchstart/rabbit-holes; the index did not resolve that file's path): 128 + 2048 → 2304
    p = plan(load_preset("gpt-oss-20b"), n_ctx=131072, n_ubatch=2048)
    assert p.log_lines()[2:] == [
        "llama_kv_cache_iswa: creating     SWA KV cache, size = 2304 cells",
        "llama_kv_cache: size =   54.00 MiB (  2304 cells,  12 layers,  1/1 seqs), "
        "K (f16):   27.00 MiB, V (f16):   27.00 MiB"]


def test_log_qwen3_4b_4096():
    # llama.cpp (attn_rot build, 2026) on Qwen3-4B Q4_K_M, n_ctx 4096, quoted in a public eval
    # report: "llama_kv_cache: size =  576.00 MiB (  4096 cells,  36 layers,  1/1 seqs),
    # K (f16):  288.00 MiB, V (f16):  288.00 MiB". Qwen3-4B's config.json: 36 layers, 8 KV heads × 128
    cfg = {"model_type": "qwen3", "num_hidden_layers": 36, "hidden_size": 2560,
           "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
           "max_position_embeddings": 40960, "torch_dtype": "bfloat16"}
    p = plan(from_hf_config(cfg, name="Qwen3-4B"), n_ctx=4096)
    # 36 · 4096 · 8 · 128 · 2 B = 301,989,888 B = 288 MiB each
    assert p.caches[0].k_bytes == 36 * 4096 * 8 * 128 * 2 == 288 * MIB
    assert p.log_lines() == ["llama_kv_cache: size =  576.00 MiB (  4096 cells,  36 layers,  1/1 seqs), "
                             "K (f16):  288.00 MiB, V (f16):  288.00 MiB"]


def test_log_deepseek_coder_v2_lite_eight_streams():
    # llama-server b10644, DeepSeek-Coder-V2-Lite (a GGUF without MLA tensors), -c 16384 --parallel 8,
    # quoted in a public run book: "llama_kv_cache: size = 4320.00 MiB ( 2048 cells, 27 layers,
    # 8/8 seqs), K (f16): 2592.00 MiB, V (f16): 1728.00 MiB". Same geometry as DeepSeek-V2-Lite.
    p = plan(load_preset("deepseek-v2-lite"), n_ctx=16384, n_seq_max=8, mla="mha")
    # n_ctx_seq = GGML_PAD(16384 / 8, 256) = 2048 cells × 8 streams; K: 27 · 16 heads · 192 · 2 B
    assert p.n_ctx_seq == 2048 and p.caches[0].n_stream == 8
    assert p.caches[0].k_bytes == 27 * 2048 * 8 * 16 * 192 * 2 == 2592 * MIB
    assert p.caches[0].v_bytes == 27 * 2048 * 8 * 16 * 128 * 2 == 1728 * MIB
    assert p.log_lines() == ["llama_kv_cache: size = 4320.00 MiB (  2048 cells,  27 layers,  8/8 seqs), "
                             "K (f16): 2592.00 MiB, V (f16): 1728.00 MiB"]


def test_mla_latent_k_only_and_older_v():
    m = load_preset("deepseek-v3")
    latent = plan(m, n_ctx=4096)
    # current llama.cpp: K = 1 head × (512 + 64), no V: 61 · 4096 · 576 · 2 B
    assert latent.caches[0].k_bytes == 61 * 4096 * 576 * 2 and latent.caches[0].v_bytes == 0
    assert latent.log_lines()[0].endswith("V (f16):    0.00 MiB")
    older = plan(m, n_ctx=4096, mla="latent+v")
    assert older.caches[0].v_bytes == 61 * 4096 * 512 * 2


def test_context_padding_and_streams():
    m = load_preset("llama-3.1-8b")
    # -c 1000 → GGML_PAD(1000, 256) = 1024 cells
    assert plan(m, n_ctx=1000).n_ctx == 1024
    # -c 10000 -np 3 (not unified): n_ctx_seq = GGML_PAD(10240 // 3, 256) = GGML_PAD(3413, 256) = 3584,
    # n_ctx = 3 · 3584 = 10,752; 3 streams of 3584 cells
    p = plan(m, n_ctx=10000, n_seq_max=3)
    assert (p.n_ctx_seq, p.n_ctx, p.caches[0].n_stream) == (3584, 10752, 3)
    assert p.total_bytes == 32 * 3584 * 3 * 8 * 128 * 2 * 2
    # unified: one stream of the whole n_ctx, the line reads "3/1 seqs"
    u = plan(m, n_ctx=10000, n_seq_max=3, kv_unified=True)
    assert (u.caches[0].cells, u.caches[0].n_stream) == (10240, 1) and " 3/1 seqs" in u.log_lines()[0]
    assert plan(m).n_ctx == 131072  # -c 0: n_ctx_train


def test_swa_grows_with_unified_sequences_and_swa_full():
    m = load_preset("gemma-3-27b")  # window 1024
    # unified, 4 seqs: GGML_PAD(min(8192, 1024 · 4 + 512), 256) = 4608 cells
    assert plan(m, n_ctx=8192, n_seq_max=4, kv_unified=True).caches[1].cells == 4608
    # not unified, 4 streams of n_ctx_seq 2048: GGML_PAD(min(2048, 1024 + 512), 256) = 1536 cells each
    p = plan(m, n_ctx=8192, n_seq_max=4)
    assert (p.caches[1].cells, p.caches[1].n_stream) == (1536, 4)
    assert plan(m, n_ctx=8192, swa_full=True).caches[1].cells == 8192


def test_quantized_rows_and_float32_printing():
    m = load_preset("llama-3.1-8b")
    # q4_0: 1024 values = 32 blocks · 18 B = 576 B per row; 32 layers · 4096 cells
    p = plan(m, n_ctx=4096, cache_type_k="q4_0", cache_type_v="q5_1")
    assert p.caches[0].k_bytes == 32 * 4096 * 576 and p.caches[0].v_bytes == 32 * 4096 * 32 * 24
    # the printed MiB is float32: 2^24 + 1 bytes rounds to 2^24 before dividing
    assert mib(2 ** 24 + 1) == 16.0


def test_hybrid_attention_cache_and_recurrent_state():
    m = load_preset("qwen3-next-80b-a3b")
    p = plan(m, n_ctx=4096, n_seq_max=2)
    attn, rec = p.caches
    # llama_memory_hybrid takes cparams.n_ctx (4096) cells per stream, not n_ctx_seq (2048)
    assert p.n_ctx_seq == 2048 and (attn.cells, attn.n_stream, attn.layers) == (4096, 2, 12)
    # recurrent: 36 layers · 2 cells · f32; R = conv (kernel 4 − 1) · 8192 channels, S = 32 · 128 · 128
    assert rec.k_bytes == 36 * 2 * 3 * 8192 * 4 and rec.v_bytes == 36 * 2 * 32 * 128 * 128 * 4
    assert rec.log_lines()[0].startswith("llama_memory_recurrent: size =") and " 48 layers,  2 seqs)" in rec.log_lines()[0]


def test_window_everywhere_is_a_full_cache():
    # Mistral-7B-v0.1 (window 4096 on every layer): LLM_ARCH_LLAMA reads no window
    p = plan(load_preset("mistral-7b-v0.1"), n_ctx=8192)
    assert len(p.caches) == 1 and p.caches[0].cells == 8192


def test_max_context_for_memory():
    m = load_preset("llama-3.1-8b")  # 131,072 B per cell
    best = max_context(m, 8 * (1 << 30) + 100_000)
    assert best.n_ctx == 65536 and best.total_bytes == 65536 * 131_072
    assert max_context(m, 1000) is None


@pytest.mark.parametrize("kw, msg", [
    (dict(cache_type_k="q3_k"), "cache-type-k: llama.cpp has"),
    (dict(cache_type_v="q8_0", flash_attn=False), "cache-type-v: llama.cpp needs flash attention"),
    (dict(n_seq_max=0), "parallel: n_seq_max must be 1 to 256"),
    (dict(mla="decompressed"), "mla-cache: one of"),
    (dict(n_ctx=-5), "context: must be 1 to"),
])
def test_bad_knobs(kw, msg):
    with pytest.raises(ValueError, match=msg):
        plan(load_preset("llama-3.1-8b"), **{"n_ctx": 4096, **kw})


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "calculator", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_cli_log_and_json():
    r = _cli("--preset", "gpt-oss-20b", "--engine", "llama.cpp", "--format", "log")
    assert r.returncode == 0 and r.stdout.rstrip("\n") == GPT_OSS_131K
    r = _cli("--preset", "llama-3.1-8b", "--engine", "llama.cpp", "--kv-memory", "8GiB", "--format", "json")
    row = json.loads(r.stdout)
    assert row["engine"] == "llama.cpp" and row["engine_tokens"] == 65536 and row["total_bytes"] == 1 << 33


def test_cli_bad_knob_is_one_line():
    r = _cli("--preset", "llama-3.1-8b", "--engine", "llama.cpp", "-ctk", "q3_k")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--cache-type-k:" in r.stderr
    r = _cli("--preset", "llama-3.1-8b", "--engine", "llama.cpp", "--tp", "2")
    assert r.returncode == 2 and "not llama.cpp knobs" in r.stderr


def test_log_llamacpp_issue_16188_build_6182_gpt_oss_20b_fa_off():
    # https://github.com/ggml-org/llama.cpp/issues/16188 (build 6182, 1fe00296f; llama-cli, -c
    # default 4096, flash_attn = 0, n_ubatch 512, n_swa 128): before PR #16812 the SWA cache is
    # GGML_PAD(128 + 512, 32) = 640 cells (current builds pad to 256: 768)
    from calculator.engines.llamacpp import plan
    m = load_preset("gpt-oss-20b")
    old = plan(m, n_ctx=4096, flash_attn=False, build="pre-16812")
    assert old.log_lines(legacy=True) == [
        "llama_kv_cache_unified_iswa: creating non-SWA KV cache, size = 4096 cells",
        "llama_kv_cache_unified: size =   96.00 MiB (  4096 cells,  12 layers,  1/1 seqs), "
        "K (f16):   48.00 MiB, V (f16):   48.00 MiB",
        "llama_kv_cache_unified_iswa: creating     SWA KV cache, size = 640 cells",
        "llama_kv_cache_unified: size =   15.00 MiB (   640 cells,  12 layers,  1/1 seqs), "
        "K (f16):    7.50 MiB, V (f16):    7.50 MiB"]
    # 12 layers · 640 cells · 8 heads · 64 · 2 B, K and V
    assert old.caches[1].total_bytes == 2 * 12 * 640 * 512 * 2
    assert plan(m, n_ctx=4096, flash_attn=False).caches[1].cells == 768
    # old padding: 256 with flash attention, 32 without (-c 1000 is 1024 either way; 1025 → 1056)
    assert plan(m, n_ctx=1000, flash_attn=True, build="pre-16812").n_ctx == 1024
    assert plan(m, n_ctx=1000, flash_attn=False, build="pre-16812").n_ctx == 1024
    assert plan(m, n_ctx=1001, flash_attn=False, build="pre-16812").n_ctx == 1024
    assert plan(m, n_ctx=1025, flash_attn=False, build="pre-16812").n_ctx == 1056
    # -np 3 without a unified cache: ceil(4000 / 3) = 1334 → 1344 cells per stream (32-padded)
    p3 = plan(m, n_ctx=4000, n_seq_max=3, flash_attn=False, build="pre-16812")
    assert (p3.n_ctx_seq, p3.n_ctx) == (1344, 4032)
    with pytest.raises(ValueError, match="^llamacpp-build"):
        plan(m, n_ctx=4096, build="b1")


def test_cli_llamacpp_build_and_legacy_names():
    out = subprocess.run([sys.executable, "-m", "calculator", "--preset", "gpt-oss-20b", "--engine",
                          "llama.cpp", "--context", "4096", "--no-flash-attn", "--llamacpp-build",
                          "pre-16812", "--log-style", "legacy", "--format", "log"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[2] == \
        "llama_kv_cache_unified_iswa: creating     SWA KV cache, size = 640 cells"


def _glm52():
    # GLM-5.2: GLM-5.1's shapes with IndexShare (index_topk_freq 4, index_skip_topk_offset 3):
    # "full" indexers on layers 0, 1, 2, 6, 10, …, 74 = 21 of 78 (tests/test_dsa.py)
    from model_presets import checkpoint_config
    return from_hf_config({**checkpoint_config("glm-5.1"), "index_topk_freq": 4,
                           "index_skip_topk_offset": 3}, name="GLM-5.2")


def test_dsa_main_and_indexer_caches_as_glm52_logs_them():
    # A public llama-server run of unsloth's GLM-5.2 UD-Q5_K_XL at -c 524288 on 4 × RTX PRO 6000
    # (find_string id 61313070182, August 2026) printed these four lines
    p = plan(_glm52(), n_ctx=524288)
    assert p.log_lines() == [
        "llama_kv_cache_dsa: creating main KV cache, size = 524288 cells",
        "llama_kv_cache: size = 44928.00 MiB (524288 cells,  78 layers,  1/1 seqs), "
        "K (f16): 44928.00 MiB, V (f16):    0.00 MiB",
        "llama_kv_cache_dsa: creating indexer KV cache, size = 524288 cells",
        "llama_kv_cache: size = 2688.00 MiB (524288 cells,  21 layers,  1/1 seqs), "
        "K (f16): 2688.00 MiB, V (f16):    0.00 MiB"]
    # 524,288 cells · 78 layers · 576 · 2 B + 524,288 · 21 · 128 · 2 B
    assert p.total_bytes == 524288 * 78 * 576 * 2 + 524288 * 21 * 128 * 2 == 49_928_994_816
    # the same run at -c 4096 split its buffers over four GPUs: 94.5 + 90 + 85.5 + 81 MiB of
    # latent cache and 7 + 5 + 5 + 4 MiB of indexer keys
    small = plan(_glm52(), n_ctx=4096)
    assert [mib(c.total_bytes) for c in small.caches] == [351.0, 21.0]


def test_dsa_indexer_cache_follows_ctk_and_streams():
    # q8_0 keys: 128 values = 4 blocks of 34 B = 136 B per layer per cell; 2 streams of 4096
    p = plan(load_preset("deepseek-v3.2"), n_ctx=8192, n_seq_max=2, cache_type_k="q8_0",
             cache_type_v="q8_0")
    main, index = p.caches
    assert (index.cells, index.n_stream, index.layers) == (4096, 2, 61)
    assert index.k_bytes == 61 * 136 * 4096 * 2 and index.v_bytes == 0
    # the latent: 576 values = 18 blocks = 612 B
    assert main.k_bytes == 61 * 612 * 4096 * 2 and main.v_bytes == 0
    for knobs, needle in (({"build": "pre-16812"}, "2026 builds"),
                          ({"mla": "latent+v"}, "latent-only")):
        with pytest.raises(ValueError, match=needle):
            plan(load_preset("glm-5"), n_ctx=4096, **knobs)


# A public llama.cpp run of LFM2.5-Audio-1.5B's LFM2-1.2B backbone (GGUF lfm2.block_count 16,
# embedding_length 2048, head_count_kv [0, 0, 8, 0, 0, 8, 0, 0, 8, 0, 8, 0, 8, 0, 8, 0],
# shortconv.l_cache 3), -c 4096, one sequence (search index id 62876895581, a phone smoke test, 2026-06-17)
LFM2_4096 = """\
llama_kv_cache: size =   48.00 MiB (  4096 cells,   6 layers,  1/1 seqs), K (f16):   24.00 MiB, V (f16):   24.00 MiB
llama_memory_recurrent: size =    0.16 MiB (     1 cells,  16 layers,  1 seqs), R (f32):    0.16 MiB, S (f32):    0.00 MiB"""


def test_log_lfm2_short_conv_recurrent_memory():
    p = plan(load_preset("lfm2-1.2b"), n_ctx=4096)
    assert "\n".join(p.log_lines()) == LFM2_4096
    kv, rec = p.caches
    # attention: 6 layers · 4096 cells · 8 KV heads · 64 · 2 B, for K and again for V
    assert kv.k_bytes == kv.v_bytes == 6 * 4096 * 512 * 2 == 25_165_824
    # n_embd_r = 2048 · (3 − 1) f32 per short conv layer and cell; n_embd_s = 0: no S
    assert (rec.k_bytes, rec.v_bytes) == (10 * 2048 * 2 * 4, 0) == (163_840, 0)
    # four sequences: four recurrent cells, the attention cache still n_ctx cells
    rec4 = plan(load_preset("lfm2-1.2b"), n_ctx=4096, n_seq_max=4).caches[-1]
    assert (rec4.cells, rec4.k_bytes) == (4, 4 * 163_840)
