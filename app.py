"""Dashboard entry point: page config and the page router. No logic lives here."""
import streamlit as st

st.set_page_config(page_title="KV-cache calculator", page_icon=":material/calculate:", layout="wide")
st.navigation([
    st.Page("pages/compare.py", title="Compare", icon=":material/show_chart:", default=True, url_path="compare"),
    st.Page("pages/custom.py", title="Custom model", icon=":material/build:", url_path="custom"),
    st.Page("pages/variants.py", title="Attention variants", icon=":material/compare_arrows:", url_path="variants"),
    st.Page("pages/capacity.py", title="Capacity planner", icon=":material/memory:", url_path="capacity"),
    st.Page("pages/measurements.py", title="Measurements", icon=":material/science:", url_path="measurements"),
]).run()
