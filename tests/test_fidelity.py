"""Every number, formula and label a user sees is true (issue: dashboard and CLI fidelity)."""
import re
from math import prod
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from calculator import as_variant, kv_cache_bytes
from calculator.formula import terms
from model_presets import list_presets, load_preset

ROOT = Path(__file__).resolve().parents[1]


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "views" / f"{name}.py"), default_timeout=60)


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


TERM = re.compile(r"^- .*?: ((?:[\d,]+|\([\d, +]+\))(?: · (?:[\d,]+|\([\d, +]+\)))*) = ([\d,]+)", re.M)


def evaluate(product: str) -> int:
    """'62 · 1 · (128 + 128) · 2' -> 62·1·256·2, by hand: split on ·, sum inside parentheses."""
    factors = []
    for f in product.split(" · "):
        factors.append(sum(int(x.replace(",", "")) for x in f.strip("()").split(" + ")))
    return prod(factors)


@pytest.mark.parametrize("preset, context", [("gemma-3-27b", 32768), ("gpt-oss-120b", 131072),
                                             ("qwen3-next-80b-a3b", 5000), ("deepseek-v3", 1000)])
def test_variant_formulas_are_the_real_computation(preset, context):
    at = page("variants")
    at.query_params["v_model"] = preset
    at.query_params["v_ctx"] = str(context)
    at.query_params["v_batch"] = "1"
    at.query_params["v_dtype"] = "bf16"
    ok(at.run())
    text = "\n".join(plain(m.value) for m in at.markdown)
    found = TERM.findall(text)
    assert found, text
    for product, shown in found:
        assert evaluate(product) == int(shown.replace(",", "")), product
    model = load_preset(preset)
    # The MHA total printed equals the calculator's, and equals the sum of its terms.
    mha = as_variant(model, "mha")
    total = kv_cache_bytes(mha, context, 1, "bf16").total_bytes
    assert f"**MHA** = " in text and f"**{total:,} bytes**" in text
    assert sum(t.value for t in terms(mha, context, 1, "bf16")) == total


def test_gemma3_windowed_term_uses_the_window():
    # Gemma-3-27B MHA at 32k: 52 sliding layers hold min(32,768, 1,024) tokens,
    # 10 full layers 32,768 tokens; 32 heads · (128 + 128) · 2 B each.
    mha = as_variant(load_preset("gemma-3-27b"), "mha")
    values = [t.value for t in terms(mha, 32768, 1, "bf16")]
    assert values == [52 * 1 * 1024 * 32 * 256 * 2, 10 * 1 * 32768 * 32 * 256 * 2]
    assert sum(values) == 872_415_232 + 5_368_709_120 == kv_cache_bytes(mha, 32768).total_bytes


@pytest.mark.parametrize("name", list_presets())
@pytest.mark.parametrize("dtype", ["bf16", "q8_0", "int4_g64"])
def test_terms_sum_to_the_total_for_every_preset(name, dtype):
    model = load_preset(name)
    for ctx in (1, 1000, 200_000):
        parts = terms(model, ctx, 2, dtype)
        assert all(prod(sum(s) for _, s in t.factors) == t.value for t in parts)
        assert sum(t.value for t in parts) == kv_cache_bytes(model, ctx, 2, dtype).total_bytes


def app() -> AppTest:
    return ok(AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run())


def roundtrip(name: str, changes: dict) -> tuple[AppTest, AppTest]:
    """Change widgets on a page, then open a fresh session with the URL that page wrote."""
    at = ok(page(name).run())
    for key, value in changes.items():
        for kind in ("selectbox", "multiselect", "number_input", "slider", "select_slider",
                     "checkbox", "text_input", "button_group", "radio"):
            try:
                widget = getattr(at, kind)(key=key)
            except KeyError:
                continue
            widget.set_value(value)
            ok(at.run())
            break
        else:
            raise AssertionError(f"no widget {key}")
    fresh = page(name)
    for k in at.query_params:
        fresh.query_params[k] = at.query_params[k]
    ok(fresh.run())
    return at, fresh


def widget_values(at: AppTest, keys) -> dict:
    out = {}
    for key in keys:
        for kind in ("selectbox", "multiselect", "number_input", "slider", "select_slider", "checkbox",
                     "button_group", "radio"):
            try:
                out[key] = getattr(at, kind)(key=key).value
                break
            except KeyError:
                continue
    return out


COMPARE_CHANGES = {"models": ["gpt2", "deepseek-v3"], "dtype": "q8_0", "batch": 3, "layout": "paged",
                   "tp": 4, "block": 32, "gpu_lines": ["A100 40GB", "H200 141GB"], "util": 0.8,
                   "chart_opts": ["minus_weights", "mtp"],  # clip and log-y off: the defaults are on
                   "table_ctx": [1024, 65536], "cap_gpu": "H200 141GB", "engine": "llama.cpp"}


def test_compare_link_restores_every_setting():
    at, fresh = roundtrip("compare", COMPARE_CHANGES)
    assert widget_values(fresh, COMPARE_CHANGES) == COMPARE_CHANGES
    # the four chart switches travel as their own booleans
    for part in (("minus_weights", "true"), ("clip", "false"), ("logy", "false"), ("mtp", "true")):
        assert at.query_params[part[0]] == part[1], part
    assert fresh.dataframe[0].value.equals(at.dataframe[0].value)


CAPACITY_CHANGES = {"c_model": "qwen3-8b", "c_gpu": "A100 80GB", "c_gpus": 2, "c_tp": 2,
                    "c_wdtype_ckpt": "fp8_e4m3", "c_kvdtype": "fp8_e4m3", "c_util": 0.85,
                    "c_layout": "paged", "c_batch": 5, "c_ctx": 12345}


def test_capacity_link_restores_every_setting():
    at, fresh = roundtrip("capacity", CAPACITY_CHANGES)
    assert widget_values(fresh, CAPACITY_CHANGES) == CAPACITY_CHANGES
    assert [m.value for m in fresh.metric] == [m.value for m in at.metric]


def test_capacity_fp8_tp2_link_shows_the_fp8_answer():
    at = page("capacity")
    for k, v in {"c_model": "llama-3.1-70b", "c_gpus": "2", "c_tp": "2", "c_kvdtype": "fp8_e4m3",
                 "c_batch": "8"}.items():
        at.query_params[k] = v
    ok(at.run())
    # one GPU's TP 2 share of the bf16 checkpoint: vocabulary halves 2 · 64,128 · 8192 · 2 B
    # + 80 layers · (q 4096·8192 + k, v 2·512·8192 + o 8192·4096 + 3 · 14336·8192 + 2 norms · 8192) · 2 B
    # + final norm 8192 · 2 B = 70,555,025,408 B (norms whole on both GPUs);
    # free floor(85,030,076,416 · 0.9) − 70,555,025,408 = 5,972,043,366 B
    # / (80 layers · 4 heads/GPU · 256 · 1 B · 8 seqs) = 9,112 tokens
    assert any(m.value == "9,112 tokens" for m in at.metric)


VARIANT_CHANGES = {"v_model": "gemma-3-27b", "v_batch": 2, "v_ctx": 40000, "v_dtype": "q4_0",
                   "v_g": 4, "v_dc": 256, "v_dr": 32}


def test_variants_link_restores_every_setting():
    at, fresh = roundtrip("variants", VARIANT_CHANGES)
    assert widget_values(fresh, VARIANT_CHANGES) == VARIANT_CHANGES


def test_unit_persists_across_pages_and_links():
    at = app()
    at.sidebar.button_group(key="unit").set_value("GB").run()
    assert at.query_params["unit"] == "GB"
    for path in ("views/capacity.py", "views/variants.py", "views/custom.py", "views/compare.py"):
        ok(at.switch_page(path).run())
        assert at.sidebar.button_group(key="unit").value == "GB", path
        assert at.query_params["unit"] == "GB", path
    assert at.dataframe[0].value["@ 8k (total)"].iloc[0].endswith(" GB")


# The original tiiuae/falcon-7b config.json (remote-code era): RefinedWebModel, no max context.
FALCON_RW = {"alibi": False, "apply_residual_connection_post_layernorm": False,
             "architectures": ["RWForCausalLM"], "attention_dropout": 0.0,
             "auto_map": {"AutoConfig": "configuration_RW.RWConfig",
                          "AutoModelForCausalLM": "modelling_RW.RWForCausalLM"},
             "bias": False, "bos_token_id": 11, "eos_token_id": 11, "hidden_dropout": 0.0,
             "hidden_size": 4544, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05,
             "model_type": "RefinedWebModel", "multi_query": True, "n_head": 71, "n_layer": 32,
             "parallel_attn": True, "torch_dtype": "bfloat16", "transformers_version": "4.27.4",
             "use_cache": True, "vocab_size": 65024}


def test_falcon_refinedweb_config_reads_like_transformers():
    from calculator import from_hf_config
    m = from_hf_config(FALCON_RW)
    assert m.max_context == 2048  # FalconConfig's default, as transformers reads RW configs
    # 2048 tokens · 32 layers · 1 KV head (multi_query) · (64 + 64) · 2 B
    assert kv_cache_bytes(m, 2048).kv_bytes == 2048 * 32 * 1 * 128 * 2 == 16_777_216


def test_missing_max_context_never_blocks_the_arithmetic(tmp_path):
    import json
    import subprocess
    import sys
    from calculator import from_hf_config
    cfg = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4}
    m = from_hf_config(cfg)
    assert m.max_context is None and kv_cache_bytes(m, 100).kv_bytes == 2 * 100 * 4 * 32 * 2
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    run = lambda *a: subprocess.run([sys.executable, "-m", "calculator", "--config", str(path), *a],
                                    capture_output=True, text=True, cwd=ROOT, timeout=60)
    out = run()
    assert out.returncode == 2 and "pass --context" in out.stderr
    out = run("--context", "100")
    assert out.returncode == 0 and "max context unknown" in out.stdout and "51,200" in out.stdout
    # Capacity needs a context from the user: --max-batch at --context works, max context is bounded
    out = run("--context", "100", "--params", "1M", "--max-batch", "--max-context", "--gpu", "24GiB")
    assert out.returncode == 0 and "max batch at context 100" in out.stdout, out.stderr
    at = ok(page("custom").run())
    at.text_area(key="j_text").set_value(json.dumps(cfg))
    at.button(key="j_go").click()
    ok(at.run())
    assert "max context unknown" in plain(at.success[0].value)


NASTY = "**bold** [link](http://e.com) <b>x</b> :red[y]"


def test_model_names_are_text_in_banners_and_plotly():
    import json
    cfg = {"_name_or_path": NASTY, "num_hidden_layers": 2, "hidden_size": 64,
           "num_attention_heads": 4, "max_position_embeddings": 4096}
    at = app()
    ok(at.switch_page("views/custom.py").run())
    at.text_area(key="j_text").set_value(json.dumps(cfg))
    at.button(key="j_go").click()
    ok(at.run())
    banner = at.success[0].value
    assert f"Understood `{NASTY}`:" in banner  # a code span: shown as typed
    ok(at.switch_page("views/compare.py").run())
    at.multiselect(key="models").set_value([f"custom:{NASTY}"])
    ok(at.run())
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name", "") for t in spec["data"]]
    assert "**bold** [link](http://e.com) &lt;b&gt;x&lt;/b&gt; :red[y] (custom)" in names
    assert not any("<b>" in n for n in names)


def test_upload_size_source_and_name():
    import json
    at = ok(page("custom").run())
    big = b" " * (2 << 20)
    at.file_uploader(key="j_file").set_value(("config.json", big, "application/json"))
    at.button(key="j_go").click()
    ok(at.run())
    assert "the uploaded file is 2,097,152 bytes, over the 1,048,576-byte limit" in plain(at.error[0].value)
    cfg = {"architectures": ["MyForCausalLM"], "num_hidden_layers": 2, "hidden_size": 64,
           "num_attention_heads": 4, "max_position_embeddings": 128}
    at.file_uploader(key="j_file").set_value(("config.json", json.dumps(cfg).encode(), "application/json"))
    at.text_area(key="j_text").set_value('{"pasted": true}')
    at.button(key="j_go").click()
    ok(at.run())
    assert "the pasted text was not used" in plain(at.info[0].value)
    assert "MyForCausalLM" in at.session_state["custom_models"]  # the config's own name
    assert at.file_uploader(key="j_file").proto.max_upload_size_mb == 1  # what the uploader says


def test_mtp_layers_are_shown_and_can_be_counted():
    at = page("compare")
    at.query_params["models"] = ["deepseek-v3"]
    ok(at.run())
    table = at.dataframe[0].value
    assert table["attention"].iloc[0] == "MLA + 1 MTP layer not counted" and table["layers"].iloc[0] == 61
    at.button_group(key="chart_opts").set_value(["clip", "logy", "mtp"])
    ok(at.run())
    table = at.dataframe[0].value
    assert table["attention"].iloc[0] == "MLA + 1 MTP layer counted" and table["layers"].iloc[0] == 62
    # 62 layers · 576 · 2 B = 71,424 bytes per token
    assert table["bytes/token (whole model)"].iloc[0] == "71,424"


def test_measurements_without_torch_says_what_to_install(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "torch" else real(n, *a))
    at = ok(page("measurements").run())
    text = plain(at.info[-1].value)
    assert "pip install -r requirements-dev.txt" in text and "or use this button" not in text
    assert not [b for b in at.button if b.label == "Run measurement"]


def test_readme_and_server_config():
    readme = (ROOT / "README.md").read_text()
    assert "Python ≥ 3.11" in readme and "python3 -m venv" in readme
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert 'serverAddress = "localhost"' in config and "maxUploadSize = 1\n" in config
    assert (ROOT / ".streamlit" / "favicon.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "favicon.png" in (ROOT / "app.py").read_text()


@pytest.mark.parametrize("ctx", ["0", "99999999999", "²", "9" * 5000, "-5", "1e3", "NaN"])
def test_hostile_ctx_in_a_link_opens_the_landing_page(ctx):
    at = page("compare")
    at.query_params["ctx"] = [ctx, "4096"]
    ok(at.run())
    assert at.select_slider(key="ctx").value == (1024, 1 << 20)  # the default range, no traceback


@pytest.mark.parametrize("pg, key", [("compare", "dtype"), ("capacity", "c_kvdtype")])
def test_kv_dtype_aliases_in_links(pg, key):
    at = page(pg)
    at.query_params[key] = "fp8"  # the spelling the CLI and README use
    ok(at.run())
    assert at.selectbox(key=key).value == "fp8_e4m3"


@pytest.mark.parametrize("page_name, params, named", [
    ("capacity", {"c_model": "no-such-model", "c_util": "7", "c_batch": "-5"},
     ["c_model=no\\-such\\-model", "c_util=7", "c_batch=\\-5"]),
    ("engines", {"e_model": "<script>x</script>", "e_ctx": "1000000000"},
     ["e_model=\\<script\\>x\\</script\\>", "e_ctx=1000000000"]),
])
def test_a_link_says_what_it_dropped(page_name, params, named):
    at = page(page_name)
    for k, v in params.items():
        at.query_params[k] = v
    ok(at.run())
    notice = [i.value for i in at.info if i.value.startswith("From the link:")]
    assert len(notice) == 1 and all(n in notice[0] for n in named), notice
    assert "<script>" not in notice[0]  # escaped, shown as text


def test_variants_cards_equal_their_arithmetic_state_included():
    at = page("variants")
    for k, v in {"v_model": "qwen3-next-80b-a3b", "v_ctx": "32768", "v_batch": "1"}.items():
        at.query_params[k] = v
    ok(at.run())
    gqa = [m for m in at.metric][2]
    written = [x.value for x in at.markdown if x.value.startswith("**GQA")][0]
    total = re.search(r"= \*\*([\d,]+) bytes\*\*", written).group(1)
    # 36 gated-DeltaNet states of 1,097,728 B + 12 attention layers · 32,768 · 2 · 512 · 2 B
    assert total == f"{36 * 1_097_728 + 12 * 32_768 * 2 * 512 * 2:,}" == "844,824,576"
    assert gqa.label == "KV cache + state" and gqa.help == f"{total} bytes"


def test_readme_setup_is_two_lines_and_ci_runs_its_test_command():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## The two commands", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #")[0].strip() for line in block.strip().splitlines()]
    assert lines == ["pip install -r requirements.txt && streamlit run app.py",
                     "pip install -r requirements-dev.txt && python -m pytest"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -q -r requirements-dev.txt" in ci and ci.rstrip().endswith("python -m pytest")


def test_measurements_headline_counts_allocated_rows_and_bars_never_stack():
    at = page("measurements")
    ok(at.run())
    at.selectbox(key="m_file").set_value("NVIDIA_H100_80GB_HBM3-2026-11-22.csv")
    ok(at.run())
    labels = {m.label: m.value for m in at.metric}
    import pandas as pd
    df = pd.read_csv(ROOT / "measure" / "results" / "NVIDIA_H100_80GB_HBM3-2026-11-22.csv")
    totals = df[df["group"] == "total"]
    whole = totals[~totals["extrapolated"].astype(bool)]
    assert labels["Allocated rows matching to the byte"] == f"{int(whole['match'].sum())} / {len(whole)}"
    assert any("NVIDIA H100 80GB HBM3" in m.value for m in at.markdown)
    # every decode bar has its own label: a whole-model row is not stacked on a one-layer row
    from views.measurements import short_group
    dd = pd.read_csv(ROOT / "measure" / "results" / "NVIDIA_H100_80GB_HBM3-2026-11-22-decode.csv")
    names = dd["model"] + " · " + dd["group"].map(short_group)
    assert names.is_unique
