"""The "Hugging Face model id" box shared by the Custom model and Compare pages.

Fetching happens only when the user presses the button (the one network access of the app). The
token lives in this session's state only: a password field, never written to the URL or logs.
A fetched model joins the session's custom models, so every page can use it.
"""
from __future__ import annotations

import streamlit as st

from calculator.hub import DEADLINE_S, model_from_hub
from calculator.units import format_bytes
from views import common as c

TOKEN_KEY = "hf_token"  # session state only


def _fetch(prefix: str, add_to: str | None) -> None:
    """Button callback: fetch, keep the model, optionally add it to a multiselect's value."""
    model_id = st.session_state.get(f"{prefix}_id", "")
    try:
        with st.spinner(f"Fetching {model_id} (at most {DEADLINE_S:g} s)…"):
            model, hub = model_from_hub(model_id, token=st.session_state.get(TOKEN_KEY) or None)
    except ValueError as exc:
        st.session_state[f"{prefix}_result"] = ("error", str(exc))
        return
    c.custom_models()[model.name] = model
    st.session_state[f"{prefix}_model"] = model.name
    if add_to is not None:
        chosen = list(st.session_state.get(add_to, []))
        if f"custom:{model.name}" not in chosen:
            st.session_state[add_to] = chosen + [f"custom:{model.name}"]
    if hub.weights:
        w = hub.weights
        weights = (f"{w.param_count:,} parameters, {w.weight_bytes:,} bytes of weights "
                   f"({format_bytes(w.weight_bytes, c.unit_name())}) in {w.files} safetensors file(s)")
    else:
        weights = hub.weights_note
    commit = f" at commit {hub.commit[:10]}" if hub.commit else ""
    st.session_state[f"{prefix}_result"] = (
        "ok", f"Fetched {model.name}{commit}: {model.describe()}, {model.num_layers} layers; {weights}.")


def hub_box(prefix: str, add_to: str | None = None):
    """Model-id input, token field and fetch button; the outcome shows below them. Returns the
    model fetched by this box in this session, if any."""
    a, b, d = st.columns([3, 2, 1], vertical_alignment="bottom")
    a.text_input("Hugging Face model id", key=f"{prefix}_id", placeholder="meta-llama/Llama-3.1-8B",
                 help="org/name or org/name@revision. config.json and the safetensors headers are "
                      "read from the Hub (never the weights); nothing is fetched until you press Fetch.")
    b.text_input("Access token (private / gated models)", key=TOKEN_KEY, type="password",
                 help="Kept in this browser session only; never put in the URL or logged.")
    d.button("Fetch", key=f"{prefix}_go", on_click=_fetch, args=(prefix, add_to), width="stretch")
    result = st.session_state.get(f"{prefix}_result")
    if result:  # the text quotes a model id: shown as text, never as markdown
        (st.success if result[0] == "ok" else st.error)(c.md_escape(result[1]))
    return c.custom_models().get(st.session_state.get(f"{prefix}_model", ""))
