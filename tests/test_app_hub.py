"""The dashboard's Hugging Face model-id box against the local hub server (AppTest)."""
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from calculator import kv_cache_bytes
from model_presets import load_preset
from tests.hub_server import TOKEN

ROOT = Path(__file__).resolve().parents[1]


def app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def plain(markdown: str) -> str:
    """What a markdown string shows: backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def fetch(at: AppTest, prefix: str, model_id: str) -> AppTest:
    at.text_input(key=f"{prefix}_id").set_value(model_id)
    at.button(key=f"{prefix}_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_custom_page_fetches_a_model_id(hub_env):
    at = fetch(app("custom"), "hub", "meta-llama/Llama-3.1-8B")
    assert "16,060,522,496 bytes of weights" in plain(at.success[0].value)
    model = at.session_state["custom_models"]["meta-llama/Llama-3.1-8B"]
    preset = load_preset("llama-3.1-8b")
    # Same bytes as the preset / pasted config: 131,072 B per token
    assert kv_cache_bytes(model, 131072).total_bytes == kv_cache_bytes(preset, 131072).total_bytes == 131_072 * 131_072
    assert at.metric[0].value == "131,072"  # KV bytes per token (bf16)


def test_custom_page_errors_are_one_line(hub_env):
    at = fetch(app("custom"), "hub", "acme/gated-llama")
    assert plain(at.error[0].value).startswith("hf-model: acme/gated-llama is gated")
    at = fetch(at, "hub", "nobody/nothing")
    assert "not found on the Hub" in plain(at.error[0].value)


def test_token_field_reaches_private_models_and_stays_out_of_the_url(hub_env):
    at = app("custom")
    at.text_input(key="hf_token").set_value(TOKEN)
    fetch(at, "hub", "acme/private-llama")
    assert "acme/private-llama" in at.session_state["custom_models"]
    assert all(TOKEN not in str(v) for v in at.query_params.values())


def test_compare_adds_the_fetched_model(hub_env):
    at = app()
    at.session_state["cmp_hub_open"] = True  # the Hub box is built only while its expander is open
    at = fetch(at.run(), "cmp_hub", "openai/gpt-oss-20b")
    assert "custom:openai/gpt-oss-20b" in at.multiselect(key="models").value
    table = at.dataframe[0].value
    assert "openai/gpt-oss-20b (custom)" in list(table["model"])


def test_capacity_uses_checkpoint_bytes(hub_env):
    at = fetch(app("custom"), "hub", "openai/gpt-oss-20b")
    at.switch_page("views/capacity.py").run()
    at.selectbox(key="c_model").set_value("custom:openai/gpt-oss-20b").run()
    at.number_input(key="c_gpus").set_value(1).run()
    assert not at.exception
    assert at.selectbox(key="c_wdtype_ckpt").value == "checkpoint"
    # 13,761,264,768 B of weights on one GPU (see test_hub for the arithmetic)
    assert "13,761,264,768 bytes" in at.metric[1].help
