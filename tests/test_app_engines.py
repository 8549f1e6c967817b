"""Engines page: the engines' figures for one model side by side, equal to the library's."""
from fractions import Fraction
from pathlib import Path

from streamlit.testing.v1 import AppTest

from calculator.engines import sglang_pool, vllm_plan
from calculator.engines.sglang import SGLANG_VERSION
from model_presets import load_preset

ROOT = Path(__file__).resolve().parent.parent
SGLANG = SGLANG_VERSION.split(" (")[0]  # the Engines page's row label
GIB = 1 << 30


def run(page="engines", **params):
    at = AppTest.from_file(str(ROOT / "views" / f"{page}.py"), default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = str(v)
    return at.run()


def capacity(model: str, ctx: int, engine: str, **params):
    """The Capacity page for ``model`` on one H100 80GB (TP 1) at ``ctx``, and the bytes it leaves
    free for KV there (the planner's own figure, utilization 0.90)."""
    from calculator import gpu_memory, plan
    at = run("capacity", c_model=model, c_gpus=1, c_tp=1, c_ctx=ctx, c_engine=engine, **params)
    assert not at.exception
    free = plan(load_preset(model), gpu_bytes=gpu_memory("H100 80GB"), gpus=1,
                mem_util="0.90").free_per_gpu
    return at, free


def test_gpt_oss_vllm_row_and_log_lines():
    at = run(e_model="gpt-oss-120b", e_ctx=131072, e_mem=40)
    assert not at.exception
    table = at.dataframe[0].value.set_index("engine")
    want = vllm_plan(load_preset("gpt-oss-120b"), max_model_len=131072, kv_memory=40 * GIB)
    vllm = table.loc[[e for e in table.index if e.startswith("vLLM")][0]]
    # one request: 8,713 blocks · 32,768 B page · 18 layers per group
    assert vllm["one request (bytes/GPU)"] == f"{8713 * 32768 * 18:,}" == f"{want.request_bytes(1):,}"
    assert vllm["requests that fit"] == "8.36x"
    assert "\n".join(want.log_lines()) in [c.value for c in at.code]
    # SGLang: gpt-oss is a hybrid-SWA architecture. 40 GiB → 647,268 full + 517,814 SWA tokens
    # (tests/test_engine_sglang.py); one request of 131,072 holds all of them in the 18 full
    # layers (2,048 B/token each: 8 heads · 128 · 2 B) and the 128-token window in the 18 SWA ones.
    sg = sglang_pool(load_preset("gpt-oss-120b"), kv_memory=40 * GIB)
    assert table.loc[SGLANG, "one request (bytes/GPU)"] == f"{18 * 2048 * (131072 + 128):,}"
    # min(647,268 / 131,072, 517,814 / 128) = 4.938...
    assert table.loc[SGLANG, "requests that fit"] == "4.94x (full + SWA pools)"
    assert sg.log_line() in [c.value for c in at.code]


def test_llama_sglang_row():
    at = run(e_model="llama-3.1-8b", e_ctx=8192, e_mem=4)
    table = at.dataframe[0].value.set_index("engine")
    p = sglang_pool(load_preset("llama-3.1-8b"), kv_memory=4 * GIB)
    # 4 GiB // 131,072 B = 32,768 tokens = 4.00 requests of 8,192
    assert table.loc[SGLANG, "requests that fit"] == "4.00x (token pool)" and p.tokens == 32768
    assert table.loc["theoretical (bf16)", "one request (bytes/GPU)"] == f"{8192 * 131072:,}"
    assert p.log_line() in [c.value for c in at.code]


def test_llamacpp_row_counts_whole_sequences():
    at = run(e_model="llama-3.1-8b", e_ctx=8192, e_mem=4)
    table = at.dataframe[0].value.set_index("engine")
    row = table.loc[[e for e in table.index if e.startswith("llama.cpp")][0]]
    # 8192 cells · 131,072 B (f16, 32 layers · 8 heads · 128 · 2 · 2) = 1 GiB per sequence: 4 fit in 4 GiB
    assert row["one request (bytes/GPU)"] == f"{8192 * 131072:,}" and row["requests that fit"] == "4 (-np 4 -c 32,768)"
    assert any(c.value.startswith("llama_kv_cache: size = 4096.00 MiB (  8192 cells,  32 layers,  4/4 seqs)")
               for c in at.code)


def test_compare_engine_selector():
    from calculator.engines import llamacpp_plan
    at = AppTest.from_file(str(ROOT / "views" / "compare.py"), default_timeout=60)
    at.query_params["models"] = ["llama-3.1-8b", "gpt-oss-20b"]
    at.query_params["table_ctx"] = "8192"
    at.query_params["engine"] = "llama.cpp"
    at.run()
    assert not at.exception and at.radio(key="engine").value == "llama.cpp"
    row = at.dataframe[0].value.set_index("model").loc["gpt-oss-20b"]
    # llama.cpp: 12 full layers · 8192 cells + 12 SWA layers · 768 cells (128 + 512 → 768), 2,048 B each
    want = llamacpp_plan(load_preset("gpt-oss-20b"), n_ctx=8192).total_bytes
    assert want == 12 * (8192 + 768) * 2048 == 220_200_960
    assert row["@ 8k (total, llama.cpp)"] == f"{want / GIB:.2f} GiB" == "0.21 GiB"  # theoretical: 0.19
    # an engine that lacks the chosen KV dtype says so instead of drawing a curve
    at.query_params["engine"] = "vllm"
    at.query_params["dtype"] = "q8_0"
    at = AppTest.from_file(str(ROOT / "views" / "compare.py"), default_timeout=60)
    for k, v in {"models": ["llama-3.1-8b"], "engine": "vllm", "dtype": "q8_0"}.items():
        at.query_params[k] = v
    at.run()
    assert any("no vllm curve: vLLM has no q8" in i.value for i in at.info)


def test_capacity_llamacpp_sequences_and_lines():
    from calculator.engines import llamacpp_plan
    at, free = capacity("llama-3.1-8b", 32768, "llama.cpp")
    m = load_preset("llama-3.1-8b")
    n = int([x.value for x in at.metric if x.label.startswith("Sequences of 32,768")][0])
    # each sequence: 32,768 cells · 131,072 B = 4 GiB; n fit in the free memory, n + 1 do not
    assert n == free // (32768 * 131072) and n >= 1
    assert llamacpp_plan(m, n_ctx=32768 * n, n_seq_max=n).total_bytes <= free
    assert llamacpp_plan(m, n_ctx=32768 * (n + 1), n_seq_max=n + 1).total_bytes > free
    assert at.code[-1].value.startswith(f"llama_kv_cache: size = {n * 4096:7.2f} MiB ( 32768 cells,  32 layers, "
                                        f"{n:2d}/{n} seqs)")


def test_capacity_sglang_mode_pools_and_lines():
    from calculator.engines.sglang_startup import predict
    from calculator.gpus import GPU_SPECS
    at, free = capacity("gpt-oss-20b", 131072, "sglang", c_page=64)
    m = load_preset("gpt-oss-20b")
    # the pool gets what SGLang's startup leaves: free at start × its default
    # mem_fraction_static (main on an H100 at TP 1: 13,440 MiB + the prefill graph's 464 MiB
    # reserved → 0.830) − the weights
    start = predict(m, GPU_SPECS["H100 80GB"], tp=1)
    assert start.mem_fraction_static == Fraction(83, 100) and start.available < free
    want = sglang_pool(m, kv_memory=start.available, page_size=64)
    metrics = {x.label: x.value for x in at.metric}
    assert metrics["#tokens (max_total_num_tokens)"] == f"{want.tokens:,}" and want.tokens % 64 == 0
    assert metrics["SWA pool"] == f"{want.swa_tokens:,} tokens"
    assert at.code[-2].value == "\n".join(start.log_lines() + [want.log_line()])
    # q8_0 is no SGLang cache type: one line naming the flag
    at.selectbox(key="c_kvdtype").set_value("q8_0").run()
    assert any(e.value.startswith("kv-cache-dtype: SGLang has no q8_0 KV cache for a bf16 model")
               for e in at.error)


def test_compare_sglang_engine_pools_gemma2_in_full():
    at = AppTest.from_file(str(ROOT / "views" / "compare.py"), default_timeout=60)
    for k, v in {"models": ["gemma-2-9b", "gpt-oss-20b"], "table_ctx": "8192", "engine": "sglang"}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception
    rows = at.dataframe[0].value.set_index("model")
    # Gemma 2 in SGLang's plain pool: all 42 layers at 8 · (256 + 256) · 2 B, 8,192 tokens + 1 slot
    assert rows.loc["Gemma-2-9B", "@ 8k (total, sglang)"] == f"{42 * 8193 * 8192 / GIB:.2f} GiB" == "2.63 GiB"
    # gpt-oss-20b: 12 full layers hold 8,192 (+1) and 12 SWA layers int(8,192 · 0.8) = 6,553 (+1),
    # 8 heads · (64 + 64) · 2 B = 2,048 B per token per layer
    assert rows.loc["gpt-oss-20b", "@ 8k (total, sglang)"] == f"{12 * (8193 + 6554) * 2048 / GIB:.2f} GiB"
    # theoretical: 21 windowed layers hold 4,096: 21 · (8,192 + 4,096) · 8,192 B = 1.97 GiB
    at.radio(key="engine").set_value("theoretical").run()
    assert at.dataframe[0].value.set_index("model").loc["Gemma-2-9B", "@ 8k (total)"] == "1.97 GiB"


def test_compare_and_capacity_transformers_mode():
    at = AppTest.from_file(str(ROOT / "views" / "compare.py"), default_timeout=60)
    for k, v in {"models": ["qwen3-next-80b-a3b"], "table_ctx": "8192", "engine": "transformers"}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception
    # StaticCache(max_cache_len=8192), bf16: 12 attention layers · 8,192 · 2 heads · 256 · 2 (K, V)
    # · 2 B + 36 gated DeltaNet layers · (conv 8,192 × 4 full kernel · 2 B + state 32 × 128 × 128
    # · 4 B) + 12 position counters · 8 B = 279,183,456 B
    want = 12 * 8192 * 2 * 256 * 2 * 2 + 36 * (8192 * 4 * 2 + 32 * 128 * 128 * 4) + 12 * 8
    assert want == 279_183_456
    cell = at.dataframe[0].value.set_index("model").iloc[0]["@ 8k (total, transformers)"]
    assert cell == f"{want / GIB:.2f} GiB" == "0.26 GiB"

    at, free = capacity("llama-3.1-8b", 32768, "transformers")
    # one sequence: 32 layers · 32,768 · 8 · 128 · 2 · 2 B = 4 GiB; the 32 counters (256 B) once
    n = (free - 256) // (4 * GIB)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sequences of 32,768 tokens (batch)"] == f"{n:,}" and n >= 1
    assert metrics["StaticCache for that batch"] == f"{(n * 4 * GIB + 256) / GIB:.2f} GiB"
    at.selectbox(key="c_kvdtype").set_value("q8_0").run()  # not a compute dtype
    assert any(e.value.startswith("kv dtype: transformers' caches store") for e in at.error)


def test_engines_page_kv_dtype_block_and_page_knobs():
    at = run(e_model="llama-3.1-8b", e_ctx=8192, e_mem=40, e_kvdtype="fp8_e4m3", e_block=32,
             e_page=64)
    assert not at.exception
    table = at.dataframe[0].value.set_index("engine")
    assert list(table.columns)[:1] == ["requests that fit"]  # the answer first (phones)
    vllm = table.loc[[e for e in table.index if e.startswith("vLLM")][0]]
    # fp8: 8192 tokens in 256 blocks of 32 · 32 layers · 8 heads · 256 · 1 B = 536,870,912 B
    assert vllm["one request (bytes/GPU)"] == f"{256 * 32 * 32 * 8 * 256:,}" == "536,870,912"
    assert table.loc["theoretical (fp8_e4m3)", "one request (bytes/GPU)"] == "536,870,912"
    # q8_0: llama.cpp has it, vLLM refuses in one line naming the dtype
    at = run(e_model="llama-3.1-8b", e_ctx=8192, e_mem=40, e_kvdtype="q8_0")
    table = at.dataframe[0].value.set_index("engine")
    assert table.loc[[e for e in table.index if e.startswith("vLLM")][0], "status"] != ""
    assert any("vLLM has no q8_0 KV cache" in i.value for i in at.info)
    assert any("K (q8_0)" in c.value for c in at.code)


def test_typed_memory_follows_the_unit_toggle():
    # Engines: 40 in GB is 40 · 10⁹ bytes, and the label and the copied command say GB
    at = run(e_model="llama-3.1-8b", e_ctx=8192, e_src="given", e_mem=40, unit="GB")
    assert not at.exception
    field = next(n for n in at.number_input if n.key == "e_mem")
    assert field.label == "KV memory per GPU (GB)"
    p = sglang_pool(load_preset("llama-3.1-8b"), kv_memory=40 * 10 ** 9)
    # 40,000,000,000 // 131,072 B = 305,175 tokens = 37.25 requests of 8,192
    assert p.tokens == 305_175
    table = at.dataframe[0].value.set_index("engine")
    assert table.loc[SGLANG, "requests that fit"] == "37.25x (token pool)"
    assert any("--kv-memory 40GB" in c.value for c in at.code)
    # Capacity: a custom 96 GB card is 96 · 10⁹ bytes, labelled so
    cap = run("capacity", c_model="llama-3.1-8b", c_gpu="Custom", c_custom=96, unit="GB",
              c_engine="vllm", c_gpus=1, c_tp=1)
    assert not cap.exception
    assert next(n for n in cap.number_input if n.key == "c_custom").label == "Custom GPU memory (GB)"
    # 0.90 · 96 · 10⁹ B = 86.40 GB of budget
    assert next(m for m in cap.metric if m.label == "Budget per GPU").value == "86.40 GB"
    assert any("--gpu 96GB" in c.value for c in cap.code)


def test_no_naive_figure_where_an_engine_startup_is_not_predicted():
    # SGLang 0.5's startup for DeepSeek NSA (DP attention) is refused: its row says so and shows
    # no utilization × GPU − weights figure in its place; vLLM's prediction stands beside it
    at = run(e_model="deepseek-v3.2-exp", e_ctx=131072, e_tp=8, e_gpu="H200 141GB",
             e_sgver="0.5")
    assert not at.exception
    table = at.dataframe[0].value.set_index("engine")
    assert (table.loc[SGLANG, "requests that fit"], table.loc[SGLANG, "KV memory"]) == ("—", "—")
    assert any("startup not predicted (engine sglang: SGLang 0.5 runs DeepSeek NSA with DP "
               "attention" in i.value
               for i in at.info)
    vllm = table.loc[[e for e in table.index if e.startswith("vLLM")][0]]
    assert vllm["requests that fit"].endswith("x") and vllm["KV memory"] != "—"


def test_capacity_sglang_build_choice_follows_the_v0_4_rule_and_lines():
    from calculator.engines.sglang_startup import predict
    from calculator.gpus import GPU_SPECS
    # SGLang's docs run of 2025-01-23 (v0.4.1, Llama-3.1-8B, one H100, defaults) logged
    # "KV Cache is allocated. K size: 27.13 GB, V size: 27.13 GB." and 444,500 tokens
    at, _ = capacity("llama-3.1-8b", 8192, "sglang", c_sgver="0.4")
    start = predict(load_preset("llama-3.1-8b"), GPU_SPECS["H100 80GB"], tp=1, version="0.4")
    assert start.mem_fraction_static == Fraction(88, 100)  # TP 1 before PR #10975
    metrics = {x.label: x.value for x in at.metric}
    # logged 444,500 (−0.11 %): the float32 rope cache (64 MiB, sgl-project/sglang#3134) comes
    # off the pool; this v0.4.1 run still held it in bf16
    assert metrics["#tokens (max_total_num_tokens)"] == "444,019"
    log = at.code[-2].value.splitlines()
    assert log[-1] == "KV Cache is allocated. K size: 27.10 GB, V size: 27.10 GB."
    assert log[-2].startswith("Load weight end. type=LlamaForCausalLM, dtype=torch.bfloat16, avail mem=")
    assert "--engine-version 0.4" in at.code[-1].value
    # the default build (main) derives 0.830 from the card instead: a different pool
    at5, _ = capacity("llama-3.1-8b", 8192, "sglang")
    assert {x.label: x.value for x in at5.metric}["#tokens (max_total_num_tokens)"] != "444,019"
    assert "--engine-version" not in at5.code[-1].value


def test_engines_page_sglang_build_choice():
    # Llama-3.1-8B on one H100: v0.4's TP-1 default 0.88 gives 444,019 tokens (the docs run
    # logged 444,500); the row prints v0.4's pool line and the copied command names the build
    at = run(e_model="llama-3.1-8b", e_ctx=8192, e_src="gpu", e_gpu="H100 80GB", e_sgver="0.4")
    assert not at.exception
    assert any(x.value.endswith("KV Cache is allocated. K size: 27.10 GB, V size: 27.10 GB.")
               for x in at.code)
    assert any("--engine sglang" in x.value and "--engine-version 0.4" in x.value for x in at.code)


def test_capacity_vllm_build_choice_moves_nccl_into_non_torch():
    from calculator.engines.vllm_startup import predict
    from calculator.gpus import GPU_SPECS
    # Qwen3-32B on 2 × H100 (TP 2, NVLink): v0.10 snapshots before NCCL comes up and prints
    # 1.38 GiB of non-torch memory; v0.11+ snapshots after it and prints 0.55 GiB
    model = load_preset("qwen3-32b")
    old = predict(model, GPU_SPECS["H100 80GB"], tp=2, version="0.10")
    new = predict(model, GPU_SPECS["H100 80GB"], tp=2, version="0.11")
    assert (old.non_torch, new.non_torch) == (round(1.38 * GIB), round(0.55 * GIB))
    # the rest is the same, so the pool differs by that: 1,481,763,717 − 590,558,003 B (± the
    # one byte int() drops from each float)
    assert abs(new.available - old.available - (1_481_763_717 - 590_558_003)) <= 1
    for version, start in (("0.10", old), ("0.11", new)):
        at = run("capacity", c_model="qwen3-32b", c_gpus=2, c_tp=2, c_ctx=8192,
                 c_engine="vllm", c_vver=version)
        assert not at.exception
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["Available KV cache memory"] == f"{start.available / GIB:.2f} GiB"
        assert ("--engine-version 0.10" in at.code[-1].value) == (version == "0.10")


def test_engines_page_vllm_build_choice(downloads):
    import io

    import pandas as pd
    from calculator.engines.vllm_startup import predict
    from calculator.gpus import GPU_SPECS
    old = predict(load_preset("qwen3-32b"), GPU_SPECS["H100 80GB"], tp=2, mem_util="0.90",
                  version="0.10")
    at = run(e_model="qwen3-32b", e_ctx=8192, e_src="gpu", e_gpu="H100 80GB", e_tp=2,
             e_vver="0.10")
    assert not at.exception
    table = at.dataframe[0].value.set_index("engine")
    vllm = table.loc[[e for e in table.index if e.startswith("vLLM")][0]]
    assert vllm["KV memory"] == f"{old.available / GIB:.2f} GiB"
    assert any("--engine vllm" in x.value and "--engine-version 0.10" in x.value for x in at.code)
    csv = pd.read_csv(io.StringIO(downloads["engines_side_by_side.csv"]),
                      dtype={"vllm_build": str}).set_index("engine")
    row = csv.loc[[e for e in csv.index if e.startswith("vLLM")][0]]
    assert row["KV memory (bytes/GPU)"] == old.available and row["vllm_build"] == "0.10"


def test_capacity_sglang_bar_draws_the_mamba_state_apart_for_hybrids():
    """A hybrid model's SGLang pool memory holds its Mamba state slots beside the token pool:
    the bar draws both as SGLang allocates them (the figures its lines print), and the one slot
    its split leaves out (the padded slot 0) comes out of the reserve for activations."""
    from calculator.engines.sglang_startup import predict
    from calculator.gpus import GPU_SPECS
    from views.startup import hybrid_parts, parts
    m = load_preset("lfm2-1.2b")
    start = predict(m, GPU_SPECS["H100 80GB"], tp=1)
    pool = sglang_pool(m, kv_memory=start.available)
    state, kv = hybrid_parts(pool)
    # (slots + 1) · 10 short conv layers · 2,048 channels · 2 · 2 B; K and V of 6 layers ·
    # 8 heads · 64 · 2 B for tokens + 1 rows each
    assert state == pool.mamba_bytes == (pool.mamba_size + 1) * 81_920
    assert kv == 2 * 6 * (pool.tokens + 1) * 512 * 2
    split, plain = dict(parts(start, state, kv)), dict(parts(start))
    assert (split["Mamba state pool"], split["KV pool"]) == (state, kv)
    assert sum(split.values()) == sum(plain.values()) == start.gpu_total
    over = state + kv - start.available          # about one slot past the pool's memory
    assert 0 < over <= 81_920 + 2 * 6 * 512 * 2
    assert plain["reserved for activations"] - split["reserved for activations"] == over
    assert hybrid_parts(sglang_pool(load_preset("llama-3.1-8b"), kv_memory=start.available)) == (0, None)
    at, _ = capacity("lfm2-1.2b", 32768, "sglang")
    charts = [e.proto.spec for e in at.get("plotly_chart")]
    assert any('"Mamba state pool"' in spec for spec in charts)


def test_engines_sglang_bar_splits_a_hybrid_pool():
    at = run(e_model="qwen3.5-27b", e_ctx=32768, e_src="gpu", e_gpu="H100 80GB")
    assert not at.exception
    specs = [e.proto.spec for e in at.get("plotly_chart")]
    # the vLLM bar has one pool; the SGLang bar draws the Mamba state slots apart
    assert sum('"Mamba state pool"' in s for s in specs) == 1


def test_capacity_sglang_caption_says_how_the_fraction_was_cut():
    from calculator.engines.sglang_startup import predict
    from calculator.gpus import GPU_SPECS
    # Qwen3.5-27B is served multimodal: main derives 0.830 (the prefill graph's 464 MiB inside
    # the reserve), then adjust_mem_fraction_for_vlm multiplies by 0.95 · 0.9576171875
    at, _ = capacity("qwen3.5-27b", 8192, "sglang")
    start = predict(load_preset("qwen3.5-27b"), GPU_SPECS["H100 80GB"], tp=1)
    assert float(start.mem_fraction_static) == 0.75508115234375
    text = " ".join(x.value for x in at.caption)
    assert "keeps mem_fraction_static 0.755081" in text
    assert "prefill graph: 58 sizes × 8 MiB; 0.83 × 0.9097 for the multimodal model's vision tower" in text


def test_sglang_pool_below_one_mamba_slot_says_sglang_stops_on_both_pages():
    # Qwen3.5-122B-A10B on 4 × H100: SGLang's derived fraction leaves 0.07 GiB per GPU after the
    # weights, less than one Mamba state slot; both pages say SGLang stops, not '--kv-memory'
    at = run("capacity", c_model="qwen3.5-122b-a10b", c_engine="sglang", c_gpus=4, c_tp=4,
             c_ctx=32768)
    assert not at.exception
    assert [e.value for e in at.error] == [
        "SGLang stops: the weights leave 0.07 GiB for its pools, less than one Mamba state slot "
        "(\"Not enough memory. Please try to increase --mem-fraction-static.\")."]
    at = run(e_model="qwen3.5-122b-a10b", e_src="gpu", e_gpu="H100 80GB", e_tp=4, e_ctx=32768)
    assert not at.exception
    table = at.dataframe[0].value
    assert table.loc[table["engine"].str.startswith("SGLang"), "status"].tolist() == [
        "no memory left (below)"]
    assert any(i.value.endswith("no memory left for one Mamba state slot (0.07 GiB after what "
                                "it keeps at startup); it stops here") for i in at.info)


def test_weights_larger_than_the_card_say_the_load_fails():
    # Llama-3.1-70B on one H100: 131.45 GiB of weights per GPU on a 79.19 GiB card; vLLM and
    # SGLang fail inside the load, which the Engines page says instead of "no memory left for KV"
    # (the Capacity page stops before any engine: "The weights alone don't fit")
    at = run("capacity", c_model="llama-3.1-70b", c_engine="vllm", c_gpus=1, c_ctx=8192)
    assert not at.exception
    assert at.error[0].value.startswith("The weights alone don't fit: 131.42 GiB per GPU")
    at = run(e_model="llama-3.1-70b", e_src="gpu", e_gpu="H100 80GB", e_tp=1, e_ctx=8192)
    assert not at.exception
    assert any(i.value.endswith("the weights take 131.45 GiB per GPU, more than the card's "
                                "79.19 GiB: the engine fails while loading them "
                                "(torch.OutOfMemoryError: CUDA out of memory); add GPUs (tensor "
                                "parallel) or serve a smaller checkpoint") for i in at.info)
    # and what each engine prints ends there: no "Model loading took", no KV-pool line
    printed = [x.value for x in at.code if "OutOfMemoryError" in x.value]
    assert printed[0] == ("torch.OutOfMemoryError: CUDA out of memory while loading the weights "
                          "(the weights take 131.45 GiB per GPU, more than the card's 79.19 GiB)")
    assert printed[1].startswith("Load weight begin. avail mem=")
