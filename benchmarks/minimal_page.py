"""Baseline for bench_dashboard: a page with one number input and one 8 × 256-point Plotly chart."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

n = st.number_input("n", min_value=1, value=1, key="n")
x = np.geomspace(1024, 1 << 20, 256)
fig = go.Figure([go.Scatter(x=x, y=x * (i + 1) * n, mode="lines") for i in range(8)])
fig.update_layout(xaxis_type="log")
st.plotly_chart(fig)
