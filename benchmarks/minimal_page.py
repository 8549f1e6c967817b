"""Baseline for bench_dashboard: one number input, one 8-trace × 256-point Plotly chart and a
2,048-row dataframe (what a page showing a chart and a table cannot avoid)."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

n = st.number_input("n", min_value=1, value=1, key="n")
x = np.geomspace(1024, 1 << 20, 256)
fig = go.Figure([go.Scatter(x=x, y=x * (i + 1) * n, mode="lines") for i in range(8)])
fig.update_layout(xaxis_type="log")
st.plotly_chart(fig)
st.dataframe(pd.DataFrame({"context": np.arange(2048), "bytes": np.arange(2048) * n}), hide_index=True)
