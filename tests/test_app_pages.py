"""AppTest for every dashboard page: default render, widget changes, CSV content vs the
calculator, shareable query params, and bad input shown as st.error without an exception."""
import io
import re
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from calculator import as_variant, kv_cache_bytes, per_token_bytes
from model_presets import load_preset

TIMEOUT = 60
ROOT = Path(__file__).resolve().parents[1]


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "views" / f"{name}.py"), default_timeout=TIMEOUT)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_router_starts_on_compare():
    at = ok(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run())
    assert at.title[0].value == "KV-cache memory vs context"


def test_compare_default_and_csv_matches_calculator(downloads):
    at = ok(page("compare").run())
    assert at.get("plotly_chart") and len(at.dataframe) == 1
    table = at.dataframe[0].value
    assert list(table["model"])[:2] == ["Llama-3.1-8B", "Llama-3.1-70B"]
    csv = pd.read_csv(io.StringIO(downloads["kv_cache_comparison.csv"]))
    assert set(csv["context"]) == {8192, 32768, 131072}
    from model_presets import list_presets
    by_name = {load_preset(n).name: load_preset(n) for n in list_presets()}
    for row in csv.itertuples():
        b = kv_cache_bytes(by_name[row.model], int(row.context), 1, "bf16")
        assert (row.kv_bytes, row.state_bytes, row.total_bytes) == (b.kv_bytes, b.state_bytes, b.total_bytes)
    # Llama-3.1-8B at 128k: 131,072 tokens × 131,072 B = 16 GiB, formatted column agrees
    llama = csv[(csv["model"] == "Llama-3.1-8B") & (csv["context"] == 131072)].iloc[0]
    assert llama["total_bytes"] == 131_072 * 131_072 and llama["total_GiB"] == "16.00 GiB"
    assert json.loads(downloads["kv_cache_comparison.json"])[0]["kv_bytes"] == csv["kv_bytes"][0]


def test_compare_widgets_change_the_numbers(downloads):
    at = ok(page("compare").run())
    at.multiselect(key="models").set_value(["llama-3.1-8b", "deepseek-v3"])
    at.selectbox(key="dtype").set_value("q8_0")
    at.number_input(key="batch").set_value(4)
    at.selectbox(key="layout").set_value("paged")
    at.selectbox(key="tp").set_value(4)
    at.sidebar.get("button_group")  # unit toggle exists
    ok(at.run())
    csv = pd.read_csv(io.StringIO(downloads["kv_cache_comparison.csv"]))
    row = csv[(csv["model"] == "DeepSeek-V3") & (csv["context"] == 8192)].iloc[0]
    # 4 seqs · 8192 tokens (already whole blocks) · 61 layers · 18 q8_0 blocks of 34 B
    assert row["kv_bytes"] == 4 * 8192 * 61 * 18 * 34
    assert row["per_gpu_kv_bytes"] == row["kv_bytes"]  # MLA latent replicated on every rank
    l8 = csv[(csv["model"] == "Llama-3.1-8B") & (csv["context"] == 8192)].iloc[0]
    assert l8["per_gpu_kv_bytes"] * 4 == l8["kv_bytes"]  # 8 KV heads over 4 ranks
    assert at.query_params["dtype"] == "q8_0" and at.query_params["tp"] == "4"


def test_compare_restores_state_from_url():
    at = page("compare")
    at.query_params["models"] = ["gpt2", "mistral-7b-v0.1", "not-a-model"]
    at.query_params["dtype"] = "fp8_e4m3"
    at.query_params["batch"] = "junk"
    at.query_params["unit"] = "GB"
    ok(at.run())
    assert at.multiselect(key="models").value == ["gpt2", "mistral-7b-v0.1"]
    assert at.selectbox(key="dtype").value == "fp8_e4m3"
    assert at.number_input(key="batch").value == 1
    assert at.dataframe[0].value["@ 8k (total)"].iloc[1].endswith(" GB")


def test_compare_with_no_models_says_so():
    at = page("compare")
    at.query_params["models"] = ["not-a-model"]
    ok(at.run())
    assert "Pick at least one model" in at.info[0].value
    assert "Not found: `not-a-model`." in at.warning[0].value  # says which, as typed


def test_custom_form_builds_a_model_for_compare():
    at = ok(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run())
    ok(at.switch_page("views/custom.py").run())
    at.text_input(key="f_name").set_value("tiny")
    at.number_input(key="f_layers").set_value(4)
    at.number_input(key="f_heads").set_value(8)
    at.number_input(key="f_kv").set_value(2)
    at.number_input(key="f_hd").set_value(64)
    at.number_input(key="f_win").set_value(512)
    at.number_input(key="f_glob").set_value(2)
    button(at, "Build model").click()
    ok(at.run())
    assert "GQA + sliding 512 (2/4 layers)" in at.success[0].value
    model = at.session_state["custom_models"]["tiny"]
    # 4 layers · 2 heads · (64+64) · 2 B
    assert per_token_bytes(model) == 4 * 2 * 128 * 2
    ok(at.switch_page("views/compare.py").run())
    at.multiselect(key="models").set_value(["custom:tiny"])
    ok(at.run())
    assert at.dataframe[0].value["model"].iloc[0] == "tiny (custom)"


@pytest.mark.parametrize("field, value, message", [
    ("f_kv", 5, "KV heads (GQA): 5 does not divide Attention heads 32"),
    ("f_layers", 0, "Layers: must be between 1"),
    ("f_hd", 0, "Head dim: must be at least 1"),
    ("f_ctx", 0, "Max context: must be at least 1"),
])
def test_custom_form_bad_input(field, value, message):
    """Form errors name the field as the form labels it, not the config key."""
    at = ok(page("custom").run())
    at.number_input(key=field).set_value(value)
    button(at, "Build model").click()
    ok(at.run())
    shown = re.sub(r"\\(.)", r"\1", at.error[0].value)
    assert message in shown and "num_" not in shown


@pytest.mark.parametrize("text, message", [
    ('{"num_hidden_layers": 2,', "config: not valid JSON"),
    ("[1, 2, 3]", "config: expected a JSON object"),
    ('{"num_hidden_layers": 0, "num_attention_heads": 4, "hidden_size": 64, "max_position_embeddings": 8}',
     "num_hidden_layers"),
    ('{"num_hidden_layers": 2, "num_attention_heads": 4, "hidden_size": 64, "max_position_embeddings": 1e30}',
     "max_position_embeddings"),
    ('{"a": "' + "x" * (1 << 20) + '"}', "limit"),
])
def test_custom_config_json_bad_input(text, message):
    at = ok(page("custom").run())
    at.text_area(key="j_text").set_value(text)
    at.button(key="j_go").click()
    ok(at.run())
    assert message in re.sub(r"\\(.)", r"\1", at.error[0].value)


def test_custom_config_json_good():
    cfg = {"model_type": "gemma2", "num_hidden_layers": 4, "num_attention_heads": 8,
           "num_key_value_heads": 4, "head_dim": 32, "hidden_size": 256, "sliding_window": 64}
    at = ok(page("custom").run())
    at.text_input(key="j_name").set_value("g2")
    at.text_area(key="j_text").set_value(json.dumps(cfg))
    at.button(key="j_go").click()
    ok(at.run())
    assert "sliding 64 (2/4 layers)" in at.success[0].value
    assert at.session_state["custom_models"]["g2"].max_context == 8192  # Gemma2Config default


def test_variants_reproduce_the_seed_examples():
    at = ok(page("variants").run())
    values = [m.value for m in at.metric]
    assert values == ["19.53 GiB", "0.31 GiB", "2.44 GiB", "0.69 GiB"]
    seed = at.table[0].value
    assert list(seed["bytes"]) == ["20,971,520,000", "327,680,000", "2,621,440,000", "737,280,000"]
    at.select_slider(key="v_g").set_value(16)
    at.number_input(key="v_dc").set_value(256)
    ok(at.run())
    m = load_preset("llama-3-70b")
    gqa16 = kv_cache_bytes(as_variant(m, "gqa", kv_heads=16), 1000, 8, "fp16").kv_bytes
    assert f"{gqa16:,} bytes" in at.caption[2].value  # 80·8·1000·16·256·2 = 5,242,880,000
    assert gqa16 == 5_242_880_000
    assert f"{80 * 8 * 1000 * 320 * 2:,} bytes" in at.caption[3].value


def test_variants_other_model_and_absurd_context():
    at = ok(page("variants").run())
    at.selectbox(key="v_model").set_value("deepseek-v2")
    at.number_input(key="v_ctx").set_value(1 << 40)
    ok(at.run())
    assert at.metric[3].value.endswith("GiB")


def test_capacity_planner():
    at = ok(page("capacity").run())
    labels = {m.label: m.value for m in at.metric}
    # Llama-3.1-70B bf16, TP 4 share of one H100: vocabulary quarters 2 · 32,064 · 8192 · 2 B
    # + 80 · (q 2048·8192 + k, v 2·256·8192 + o 8192·2048 + 3 · 7168·8192 + 2 · 8192) · 2 B
    # + 8192 · 2 B = 35,278,831,616 B = 32.856 GiB (norms whole on every GPU)
    assert labels["Weights per GPU"] == "32.86 GiB"
    assert len(at.get("plotly_chart")) == 2
    at.number_input(key="c_gpus").set_value(1)
    ok(at.run())
    assert "weights alone don't fit" in at.error[0].value
    at.selectbox(key="c_wdtype_ckpt").set_value("q4_0")
    at.selectbox(key="c_tp").set_value(1)
    ok(at.run())
    assert not [e for e in at.error if "weights" in e.value]


def test_capacity_window_only_model_is_unbounded():
    at = page("capacity")
    at.query_params["c_model"] = "mistral-7b-v0.1"
    at.query_params["c_gpus"] = "1"
    ok(at.run())
    # every layer windowed: memory allows any length, so the answer is the model's own max
    assert any(m.value == "32,768 tokens" for m in at.metric)
    assert any("every layer is windowed" in cap.value for cap in at.caption)


def test_measurements_page_and_live_run():
    at = ok(page("measurements").run())
    assert at.metric[1].value.split(" / ")[0] == at.metric[1].value.split(" / ")[1]
    at.selectbox(key="m_preset").set_value("gpt2")
    at.number_input(key="m_ctx").set_value(128)
    at.button(key="m_run").click()
    ok(at.run())
    assert at.success[0].value.startswith("4/4 rows")


@pytest.mark.parametrize("engine", ["vllm", "sglang", "transformers", "llama.cpp", "theoretical"])
def test_compare_export_is_the_table_on_screen(downloads, engine):
    at = page("compare")
    at.query_params["models"] = ["gpt-oss-120b", "llama-3.1-8b"]
    at.query_params["engine"] = engine
    ok(at.run())
    table = at.dataframe[0].value.set_index("model")
    csv = pd.read_csv(io.StringIO(downloads["kv_cache_comparison.csv"]), keep_default_na=False)
    assert set(csv["engine"]) == {engine}
    for row in csv.itertuples():
        col = [c for c in table.columns if c.startswith(f"@ {c_label(row.context)} (")][0]
        assert row.shown == table.loc[row.model, col]     # the cell on screen, formatted
        assert row.max_context_on_gpu == table.loc[row.model, [c for c in table.columns
                                                              if c.startswith("max context on")][0]]
    # the raw bytes are the engine's own: gpt-oss-120b at 128k under vLLM is its block pool
    big = csv[(csv["model"] == "gpt-oss-120b") & (csv["context"] == 131072)].iloc[0]
    if engine == "vllm":
        from calculator.engines import vllm_plan
        want = vllm_plan(load_preset("gpt-oss-120b"), max_model_len=131072).request_bytes(1)
        assert int(big["shown_bytes"]) == want != int(big["total_bytes"])  # not the theoretical
    if engine == "theoretical":
        assert int(big["shown_bytes"]) == int(big["total_bytes"])


def c_label(ctx) -> str:
    from views.common import token_label
    return token_label(int(ctx))


def test_compare_marks_contexts_beyond_a_models_max(downloads):
    at = page("compare")
    at.query_params["models"] = ["mistral-7b-v0.1"]
    at.query_params["table_ctx"] = ["16384", "65536"]
    ok(at.run())
    row = at.dataframe[0].value.iloc[0]
    assert row["@ 64k (total)"].endswith("(beyond max)") and "beyond" not in row["@ 16k (total)"]
    csv = pd.read_csv(io.StringIO(downloads["kv_cache_comparison.csv"]))
    assert list(csv["beyond_model_max_context"]) == [False, True]


def test_compare_caption_names_the_shown_engines_state_convention():
    for engine, needle in (("transformers", "fp32 recurrent state"),
                           ("vllm", "one page per request"), ("theoretical", "vLLM's convention")):
        at = page("compare")
        at.query_params["models"] = ["qwen3-next-80b-a3b"]
        at.query_params["engine"] = engine
        ok(at.run())
        caption = [c.value for c in at.caption if "bytes/token" in c.value][0]
        assert needle in caption, (engine, caption)


@pytest.mark.parametrize("engine, field", [("theoretical", "total_bytes"), ("vllm", "total_bytes_per_gpu"),
                                           ("sglang", "total_bytes_per_gpu"), ("llama.cpp", "total_bytes"),
                                           ("transformers", "total_bytes")])
def test_compare_copy_as_command_prints_the_table(downloads, engine, field):
    import shlex
    import subprocess
    import sys
    at = page("compare")
    at.query_params["models"] = ["llama-3.1-8b"]
    at.query_params["engine"] = engine
    at.query_params["batch"] = "2"
    at.query_params["table_ctx"] = ["8192", "32768"]
    ok(at.run())
    line = [c.value for c in at.code if "python -m calculator" in c.value][0].splitlines()[0]
    words = shlex.split(line)
    out = subprocess.run([sys.executable, *words[1:]], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    csv = pd.read_csv(io.StringIO(downloads["kv_cache_comparison.csv"]))
    shown = [int(v) for v in csv["shown_bytes"]]
    if engine == "theoretical":
        got = [int(v) for v in pd.read_csv(io.StringIO(out.stdout))[field]]
    else:
        data = json.loads(out.stdout)
        got = [int(r[field]) for r in (data if isinstance(data, list) else [data])]
    assert got == shown


def test_custom_config_dsa_breakdown_shows_the_indexer():
    # GLM-5 as shipped (trimmed): 78 DSA layers; at its max context 202,752 the indexer adds
    # 78 · 132 B per token, shown in its own column beside the whole group's 78 · (1,152 + 132)
    cfg = json.loads((ROOT / "model_presets" / "configs" / "glm-5.json").read_text())
    at = ok(page("custom").run())
    at.text_input(key="j_name").set_value("glm5")
    at.text_area(key="j_text").set_value(json.dumps(cfg))
    at.button(key="j_go").click()
    ok(at.run())
    assert "DSA indexer (78/78 layers)" in at.success[0].value
    row = at.dataframe[0].value.iloc[0]
    assert row["bytes/token, whole group (bf16)"] == f"{78 * 1284:,}"
    assert row["of which indexer bytes/token"] == f"{78 * 132:,}"
