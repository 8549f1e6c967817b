"""Property tests over random valid specs, and random junk configs (only ValueError)."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calculator import as_variant, from_hf_config, kv_cache_bytes, sweep
from calculator.load import parse_config_text

DTYPES = st.sampled_from(["fp32", "bf16", "fp8", "q8_0", "q4_0", "int4_g64", "int2_g128"])


@st.composite
def configs(draw, window=None):
    kv = draw(st.integers(1, 8))
    heads = kv * draw(st.integers(1, 8))
    cfg = {"num_hidden_layers": draw(st.integers(1, 12)), "num_attention_heads": heads,
           "num_key_value_heads": kv, "head_dim": draw(st.sampled_from([16, 64, 96, 128, 256])),
           "hidden_size": heads * 64, "max_position_embeddings": 1 << 20}
    if window if window is not None else draw(st.booleans()):
        cfg["sliding_window"] = draw(st.integers(1, 5000))
        cfg["sliding_window_pattern"] = draw(st.integers(1, 6))
    return cfg


@given(configs(), st.integers(1, 10**6), st.integers(1, 10**6), st.integers(1, 64), DTYPES)
def test_monotone_in_context_and_batch(cfg, c1, c2, batch, dtype):
    m = from_hf_config(cfg)
    lo, hi = sorted((c1, c2))
    assert kv_cache_bytes(m, lo, batch, dtype).kv_bytes <= kv_cache_bytes(m, hi, batch, dtype).kv_bytes
    assert kv_cache_bytes(m, lo, batch, dtype).kv_bytes <= kv_cache_bytes(m, lo, batch + 1, dtype).kv_bytes


@given(configs(window=False), st.integers(1, 10**6), st.integers(1, 64), DTYPES)
def test_linear_without_window(cfg, context, batch, dtype):
    m = from_hf_config(cfg)
    one = kv_cache_bytes(m, 1, 1, dtype).kv_bytes
    assert kv_cache_bytes(m, context, batch, dtype).kv_bytes == one * context * batch


@given(configs(window=True), st.integers(1, 64), DTYPES)
def test_window_caps_growth_of_windowed_layers(cfg, batch, dtype):
    m = from_hf_config(cfg)
    w = cfg["sliding_window"]
    for g in kv_cache_bytes(m, 10 * w, batch, dtype).groups:
        if g.kind == "sliding":
            assert g.tokens_per_seq == w
            assert g.kv_bytes == kv_cache_bytes(m, w, batch, dtype).groups[
                [x.kind for x in kv_cache_bytes(m, w, batch, dtype).groups].index("sliding")].kv_bytes


@given(configs(), st.integers(1, 10**5), DTYPES)
def test_mqa_le_gqa_le_mha(cfg, context, dtype):
    m = from_hf_config(cfg)
    b = {a: kv_cache_bytes(as_variant(m, a), context, 1, dtype).kv_bytes for a in ("mqa", "mha")}
    gqa = kv_cache_bytes(as_variant(m, "gqa", kv_heads=cfg["num_key_value_heads"]), context, 1, dtype).kv_bytes
    assert b["mqa"] <= gqa <= b["mha"]


@given(configs(), st.integers(1, 10**5), st.integers(1, 16), st.integers(1, 4), DTYPES,
       st.sampled_from(["theoretical", "paged"]))
def test_tp_per_gpu_times_ranks_covers_total(cfg, context, tp, pp, dtype, layout):
    m = from_hf_config(cfg)
    if pp > m.num_layers:
        pp = 1
    b = kv_cache_bytes(m, context, 2, dtype, tp=tp, pp=pp, layout=layout)
    assert b.per_gpu_kv_bytes * tp * pp >= b.kv_bytes


@given(configs(), st.integers(1, 10**5))
def test_variants_round_trip(cfg, context):
    m = from_hf_config(cfg)
    back = as_variant(as_variant(m, "mha"), "gqa", kv_heads=cfg["num_key_value_heads"])
    assert back.groups == m.groups
    mla = as_variant(m, "mla", kv_lora_rank=256, rope_head_dim=8)
    again = as_variant(as_variant(mla, "mha"), "mla", kv_lora_rank=256, rope_head_dim=8)
    assert again.groups == mla.groups


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(configs(), min_size=1, max_size=3), st.lists(st.integers(1, 10**6), min_size=1, max_size=20),
       st.integers(1, 8), st.integers(1, 4), st.sampled_from(["theoretical", "paged"]), DTYPES)
def test_vectorized_sweep_equals_scalar(cfgs, contexts, tp, pp, layout, dtype):
    models = [from_hf_config(c, name=f"m{i}") for i, c in enumerate(cfgs)]
    pp = min([pp] + [m.num_layers for m in models])
    table = sweep(models, contexts, batches=[3], dtypes=[dtype], tp=tp, pp=pp, layout=layout)
    for row in table.itertuples():
        m = models[int(row.model[1:])]
        b = kv_cache_bytes(m, row.context, 3, dtype, tp, pp, layout)
        assert (row.kv_bytes, row.state_bytes, row.per_gpu_kv_bytes, row.per_gpu_total_bytes) == (
            b.kv_bytes, b.state_bytes, b.per_gpu_kv_bytes, b.per_gpu_total_bytes)


def test_sweep_falls_back_to_python_ints_past_int64():
    # 2^40 tokens × 2^32 sequences × 131,072 B overflows int64 (9.2e18): exact Python ints instead
    m = from_hf_config({"num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
                        "hidden_size": 4096, "max_position_embeddings": 1 << 40})
    table = sweep([m], [1 << 40], batches=[1 << 32])
    assert table.loc[0, "kv_bytes"] == (1 << 40) * (1 << 32) * 131_072
    assert table.loc[0, "kv_bytes"] > 2**63


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20)
KEYS = st.sampled_from(["num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                        "hidden_size", "head_dim", "max_position_embeddings", "sliding_window",
                        "layer_types", "text_config", "kv_lora_rank", "qk_rope_head_dim",
                        "attn_type_list", "attn_layer_period", "attn_layer_offset", "multi_query",
                        "full_attention_interval", "sliding_window_pattern", "model_type",
                        "torch_dtype", "num_kv_shared_layers", "use_sliding_window", "n_layer",
                        "linear_num_value_heads", "mamba_d_state", "num_nextn_predict_layers",
                        "hybrid_layer_pattern", "v_head_dim", "swa_num_key_value_heads",
                        "swa_head_dim", "swa_v_head_dim", "sliding_window_size"])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(KEYS, JSONISH | st.integers(-3, 300), max_size=14), configs())
def test_junk_configs_raise_only_value_error(junk, valid):
    for cfg in (junk, {**valid, **junk}, {"model_type": "gemma3", "text_config": junk}):
        try:
            m = from_hf_config(cfg)
            kv_cache_bytes(m, 1000, 2, "bf16", tp=2)
        except ValueError:
            pass


@given(st.text(max_size=200) | st.binary(max_size=200))
def test_junk_config_text_raises_only_value_error(text):
    try:
        from_hf_config(parse_config_text(text))
    except ValueError:
        pass


def test_json_round_trip_of_preset_configs():
    from model_presets import list_presets, preset_document
    for name in list_presets():
        cfg = preset_document(name)["config"]
        assert from_hf_config(json.loads(json.dumps(cfg))).groups == from_hf_config(cfg).groups


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(configs(), st.sampled_from(["", "gpt_oss", "mimo_v2_flash", "gemma2"]),
       st.integers(1, 4), st.integers(1, 8), st.integers(1, 16), st.integers(0, 1 << 36),
       st.floats(0.01, 1.0), st.sampled_from(["auto", "fp8_e5m2", "fp8_e4m3", "int4"]))
def test_engines_raise_only_value_error(cfg, model_type, swa_kv, tp, page, memory, ratio, kv):
    """Every engine mode, on any valid model and knobs, answers or refuses in one line."""
    from calculator.engines import llamacpp_plan, sglang_pool, vllm_plan
    cfg = {**cfg, "model_type": model_type, "swa_num_key_value_heads": swa_kv, "v_head_dim": 64}
    m = from_hf_config(cfg)
    for call in (lambda: sglang_pool(m, kv_memory=memory, tp=tp, page_size=page, kv_cache_dtype=kv,
                                     swa_full_tokens_ratio=ratio),
                 lambda: sglang_pool(m, tokens=memory % 100_000 + 1, tp=tp, page_size=page),
                 lambda: vllm_plan(m, max_model_len=memory % 100_000 + 1, kv_memory=memory, tp=tp),
                 lambda: llamacpp_plan(m, n_ctx=memory % 100_000 + 1, n_seq_max=page)):
        try:
            call()
        except ValueError:
            pass


CLI_FLAGS = ["--context", "--batch", "--tp", "--pp", "--kv-dtype", "--block-size", "--kv-heads",
             "--kv-lora-rank", "--rope-head-dim", "--gpu", "--gpus", "--mem-util", "--kv-memory",
             "--page-size", "--max-num-batched-tokens", "--max-num-seqs", "--swa-full-tokens-ratio",
             "--weight-dtype", "--params", "--non-torch", "--num-draft-layers", "--engine-version",
             "--checkpoint", "--config", "--name", "-ub", "-np"]
HOSTILE_VALUES = st.sampled_from(["0", "-1", "1e308", "nan", "inf", str(10**30), "9" * 5000, "²",
                                  "", " ", "<script>", "ü", "/proc/self/mem", "/", "1.5", "0.0001",
                                  "H100", "96GiB", "fp8", "q8_0", "2**40"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(CLI_FLAGS), HOSTILE_VALUES), min_size=1, max_size=3),
       st.sampled_from(["theoretical", "vllm", "sglang", "llama.cpp", "transformers"]),
       st.booleans())
def test_cli_with_hostile_flags_exits_0_or_2_with_one_line(flags, engine, capacity):
    import contextlib
    import io

    from calculator.cli import main
    argv = ["--preset", "llama-3.1-8b", "--engine", engine]
    for flag, value in flags:
        argv += [flag, value]
    if capacity:
        argv += ["--max-batch", "--gpu", "H100"]
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    assert code in (0, 2), argv
    if code == 2:
        assert err.getvalue().count("\n") == 1 and err.getvalue().startswith("error: "), argv


def test_sweep_batches_every_block_at_once_like_the_scalar_path():
    # windows (gemma-2, gpt-oss), state (qwen3-next), MLA (deepseek-v3) in one table, two
    # batches, two dtypes, TP 2 × PP 2, paged: every cell equals kv_cache_bytes
    from model_presets import load_preset
    models = [load_preset(n) for n in ("gemma-2-9b", "gpt-oss-20b", "qwen3-next-80b-a3b",
                                       "deepseek-v3")]
    ctxs = [1, 127, 128, 129, 4096, 131_072]
    table = sweep(models, ctxs, batches=[1, 7], dtypes=["bf16", "fp8"], tp=2, pp=2,
                  layout="paged", block_size=16)
    assert len(table) == 4 * 2 * 2 * len(ctxs)
    by_name = {m.name: m for m in models}
    for row in table.itertuples():
        b = kv_cache_bytes(by_name[row.model], row.context, row.batch, row.kv_dtype, 2, 2, "paged", 16)
        assert (row.kv_bytes, row.state_bytes, row.per_gpu_kv_bytes, row.per_gpu_total_bytes) == (
            b.kv_bytes, b.state_bytes, b.per_gpu_kv_bytes, b.per_gpu_total_bytes)


def test_sweep_columns_without_labels_are_the_tables_byte_columns():
    # the Compare chart draws from sweep_columns(labels=False): the same bytes, row for row
    from calculator.sweep import sweep_columns
    from model_presets import load_preset
    models = [load_preset(n) for n in ("gpt-oss-20b", "qwen3-next-80b-a3b")]
    kw = dict(batches=[2], dtypes=["fp8"], tp=2, layout="paged", block_size=16)
    table = sweep(models, [1, 4096, 1 << 20], **kw)
    cols = sweep_columns(models, [1, 4096, 1 << 20], labels=False, **kw)
    for col in ("kv_bytes", "state_bytes", "total_bytes", "per_gpu_kv_bytes", "per_gpu_total_bytes"):
        assert cols[col].tolist() == table[col].tolist()
