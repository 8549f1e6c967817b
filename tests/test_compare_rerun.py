"""What keeps a Compare rerun cheap (the figures are in benchmarks/bench_dashboard.py): the work a
rerun with nothing changed would repeat is done once."""
from pathlib import Path

import pyarrow as pa
from streamlit.testing.v1 import AppTest

from model_presets import load_preset
from views.compare_chart import FrozenFigure, chart, tables

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ("bf16", 1, "theoretical", 1, 16, 1024, 1 << 20, ("H100 80GB",), 0.9, False, True, True,
            False, "GiB", "theoretical")


def test_chart_dict_is_built_once():
    models = (load_preset("llama-3.1-8b"), load_preset("gpt-oss-20b"))
    fig = chart.__wrapped__("k", models, ("a", "b"), SETTINGS)
    assert isinstance(fig, FrozenFigure)
    # st.plotly_chart calls to_dict() on every rerun: a frozen figure hands back the same dict
    first = fig.to_dict()
    assert fig.to_dict() is first and len(first["data"]) == len(fig.data)


def test_table_is_arrow():
    models = (load_preset("llama-3.1-8b"),)
    shown, csv, _ = tables.__wrapped__("k", models, ("a",), SETTINGS, (8192,), "H100 80GB")
    # an Arrow table goes to the browser as is; a DataFrame is converted on every rerun
    assert isinstance(shown, pa.Table) and shown.column("model").to_pylist() == ["a"]
    # 8192 tokens · 131,072 B = 1 GiB
    assert shown.column("@ 8k (total)").to_pylist() == ["1.00 GiB"] and csv.startswith("model,")


def test_hub_box_is_built_only_when_open():
    at = AppTest.from_file(str(ROOT / "views" / "compare.py"), default_timeout=60).run()
    assert not at.exception and not [t for t in at.text_input if t.key == "cmp_hub_id"]
    at.session_state["cmp_hub_open"] = True
    at.run()
    assert [t for t in at.text_input if t.key == "cmp_hub_id"]
