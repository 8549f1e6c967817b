"""Helpers every page shares: cached loaders and sweeps, the unit toggle, custom models kept in
session state, and query-param sync so a copied URL reopens the same view.

Pages only wire widgets to these and to ``calculator``; no arithmetic lives here.
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable

import pandas as pd
import streamlit as st

from calculator import ModelSpec, format_bytes, sweep
from calculator.gpus import GPUS
from model_presets import list_presets, load_preset

CUSTOM = "custom_models"
UNITS = ("GiB", "GB")
KV_DTYPES = ("bf16", "fp16", "fp32", "fp8_e4m3", "fp8_e5m2", "int8", "q8_0", "q4_0",
             "int4_g128", "int4_g64", "int2_g128")
WEIGHT_DTYPES = ("bf16", "fp16", "fp32", "fp8_e4m3", "int8", "q8_0", "q4_0", "int4_g128")


@st.cache_data
def preset_names() -> list[str]:
    return list_presets()


@st.cache_resource
def preset(name: str) -> ModelSpec:
    return load_preset(name)


@st.cache_data(max_entries=64)
def cached_sweep(models: tuple[ModelSpec, ...], contexts: tuple[int, ...], batch: int,
                 dtype: str, tp: int, layout: str, block_size: int, unit: str) -> pd.DataFrame:
    return sweep(list(models), contexts, batches=[batch], dtypes=[dtype], tp=tp,
                 layout=layout, block_size=block_size, unit=unit)


def custom_models() -> dict[str, ModelSpec]:
    return st.session_state.setdefault(CUSTOM, {})


def model_choices() -> list[str]:
    """Preset names, then custom models as 'custom:<name>'."""
    return preset_names() + [f"custom:{n}" for n in custom_models()]


def resolve(choice: str) -> ModelSpec:
    if choice.startswith("custom:"):
        return custom_models()[choice.removeprefix("custom:")]
    return preset(choice)


def label(choice: str) -> str:
    return choice.removeprefix("custom:") + " (custom)" if choice.startswith("custom:") else resolve(choice).name


def init_from_query(key: str, default, parse: Callable = str, many: bool = False):
    """Seed ``st.session_state[key]`` from the URL once, so a shared link restores the view."""
    if key in st.session_state:
        return
    value = default
    if key in st.query_params:
        try:
            raw = st.query_params.get_all(key) if many else st.query_params[key]
            value = [parse(v) for v in raw] if many else parse(raw)
        except (ValueError, TypeError):
            value = default
    st.session_state[key] = value


def sync_query(keys: list[str]) -> None:
    """Write the current widget values back into the URL."""
    params = {}
    for key in keys:
        value = st.session_state.get(key)
        if isinstance(value, (list, tuple)):
            params[key] = [str(v) for v in value]
        elif value is not None:
            params[key] = str(value)
    if params != {k: st.query_params.get_all(k) if isinstance(params.get(k), list)
                  else st.query_params.get(k) for k in params}:
        st.query_params.update(params)


def unit() -> str:
    """The sidebar GiB / GB toggle (shared by all pages, kept in the URL)."""
    init_from_query("unit", "GiB", lambda v: v if v in UNITS else "GiB")
    return st.sidebar.segmented_control("Units", UNITS, key="unit", help=(
        "GiB = 2³⁰ bytes (what nvidia-smi and PyTorch report); GB = 10⁹ bytes")) or "GiB"


def token_label(n: int) -> str:
    """128k for 131,072, 1M for 1,048,576; other counts as plain integers."""
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20}M"
    return f"{n >> 10}k" if n % 1024 == 0 else str(n)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def md_escape(text: object) -> str:
    """Text shown as itself inside markdown: markdown and HTML specials backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def html_escape(text: object) -> str:
    """Text shown as itself where HTML is rendered (Plotly legends and hover labels)."""
    return html.escape(str(text), quote=True)


def unit_name() -> str:
    return st.session_state.get("unit") or "GiB"


def fmt(n: int, u: str | None = None) -> str:
    return format_bytes(int(n), u or unit_name())


def gpu_names() -> list[str]:
    return list(GPUS)


def guarded(fn: Callable, *args, **kwargs):
    """Run ``fn``; on ``ValueError`` show it with ``st.error`` and stop the page."""
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        st.error(str(exc))
        st.stop()
