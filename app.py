"""Dashboard entry point: page config and the page router. No logic lives here."""
import runpy
from pathlib import Path

import streamlit as st

# The favicon ships with the app (a Material icon would be fetched from the internet).
ICON = Path(__file__).resolve().parent / ".streamlit" / "favicon.png"
st.set_page_config(page_title="KV-cache calculator", page_icon=str(ICON), layout="wide")
COMPARE = Path(__file__).resolve().parent / "views" / "compare.py"


def compare_by_name() -> None:
    """/compare: the landing page also answers at its own name (a default page lives at /, so a
    shared /compare link would otherwise open a 'Page not found' dialog)."""
    runpy.run_path(str(COMPARE), run_name="__page__")


st.navigation([
    st.Page("views/compare.py", title="Compare", icon=":material/show_chart:", default=True,
            url_path="start"),
    st.Page("views/custom.py", title="Custom model", icon=":material/build:", url_path="custom"),
    st.Page("views/variants.py", title="Attention variants", icon=":material/compare_arrows:", url_path="variants"),
    st.Page("views/capacity.py", title="Capacity planner", icon=":material/memory:", url_path="capacity"),
    st.Page("views/engines.py", title="Engines", icon=":material/dns:", url_path="engines"),
    st.Page("views/measurements.py", title="Measurements", icon=":material/science:", url_path="measurements"),
    st.Page(compare_by_name, title="Compare", url_path="compare", visibility="hidden"),
]).run()
