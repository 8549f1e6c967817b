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
    # 2 curves, 2 max-context diamonds, 1 GPU line
    assert fig.to_dict() is first and len(first["data"]) == 5


def test_chart_dict_is_what_plotly_makes_of_it():
    # the traces are built as plain dicts (no plotly objects): plotly's own validation of that
    # dict must give it back unchanged, for log and linear axes, engines, TP and weight lines
    import copy
    import json

    import plotly.graph_objects as go
    import plotly.io as pio
    models = (load_preset("llama-3.1-8b"), load_preset("gpt-oss-20b"), load_preset("deepseek-v3"))
    for s in (SETTINGS, ("fp8", 4, "paged", 2, 16, 1, 1 << 22, ("H100 80GB", "B200 180GB"), 0.85,
                         True, False, False, True, "GB", "vllm")):
        fig = chart.__wrapped__("k", models, ("a", "b <i>", "c"), s)
        ours = json.loads(pio.to_json(fig, validate=False))
        plotlys = json.loads(pio.to_json(go.Figure(copy.deepcopy(fig.to_dict())), validate=True))
        assert ours == plotlys and ours["layout"]["template"]


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
