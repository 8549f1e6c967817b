"""Custom model page: build a model from a form or a pasted/uploaded config.json, show what was
understood (per layer group), and keep it in session state for the other pages.

The form is turned into a Hugging Face-style config dict and goes through the same importer as
a pasted config, so both are validated alike.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from calculator import from_hf_config, kv_cache_bytes, per_token_bytes
from calculator.load import MAX_CONFIG_BYTES, model_from_config_text
from pages import common as c
from pages.hub_box import hub_box

ATTN = ("GQA", "MHA", "MQA", "MLA")


def form_config(v: dict) -> dict:
    """The form's answers as a config.json dict (layer_types spells out the pattern)."""
    n = int(v["layers"])
    if int(v["head_dim"]) < 1:
        raise ValueError("head_dim: must be at least 1")
    cfg = {"num_hidden_layers": n, "num_attention_heads": int(v["heads"]),
           "hidden_size": int(v["heads"]) * int(v["head_dim"]), "head_dim": int(v["head_dim"]),
           "max_position_embeddings": int(v["max_ctx"]), "torch_dtype": v["dtype"]}
    cfg["num_key_value_heads"] = {"MHA": int(v["heads"]), "MQA": 1}.get(v["attn"], int(v["kv_heads"]))
    if v["attn"] == "MLA":
        cfg.update(kv_lora_rank=int(v["d_c"]), qk_rope_head_dim=int(v["d_r"]))
    kinds = ["full_attention"] * n
    if int(v["window"]) > 0:
        cfg["sliding_window"] = int(v["window"])
        every = int(v["global_every"])  # every Nth layer global, 0 = all windowed
        kinds = ["full_attention" if every and (i + 1) % every == 0 else "sliding_attention"
                 for i in range(n)]
    if int(v["linear_every"]) > 0:  # every Nth layer keeps attention, the rest are linear
        every = int(v["linear_every"])
        kinds = [k if (i + 1) % every == 0 else "linear_attention" for i, k in enumerate(kinds)]
    cfg["layer_types"] = kinds
    return cfg


def show_model(model) -> None:
    st.success(f"Understood **{c.md_escape(model.name)}**: {model.describe()}, {model.num_layers} "
               f"layers, max context {model.max_context:,}.")
    b = kv_cache_bytes(model, model.max_context, 1)
    st.dataframe(pd.DataFrame([{
        "layers": g.layers, "cache": g.label, "kind": g.kind,
        "tokens held @ max context": f"{g.tokens_per_seq:,}",
        "bytes/token, whole group (bf16)": f"{g.kv_bytes // max(g.tokens_per_seq, 1):,}" if g.tokens_per_seq else "0",
        "state bytes/seq": f"{g.state_bytes:,}", f"@ max context ({c.unit_name()})": c.fmt(g.kv_bytes + g.state_bytes),
    } for g in b.groups]), hide_index=True, key="breakdown")
    m1, m2, m3 = st.columns(3)
    m1.metric("KV bytes per token (bf16)", f"{per_token_bytes(model):,}")
    m2.metric("Per-sequence state", c.fmt(b.state_bytes))
    m3.metric("One sequence at max context", c.fmt(b.total_bytes))


st.title("Custom model")
c.unit()
c.sync_query([])  # the unit travels in every URL
st.write("Fetch a model by its Hugging Face id, describe one with the form, or paste / upload its "
         "`config.json`. It is kept for this session and appears on the Compare, Variants and "
         "Capacity pages.")
hub_tab, form_tab, json_tab = st.tabs(["Hugging Face model id", "Form", "config.json"])

with hub_tab:
    fetched = hub_box("hub")
    if fetched is not None:
        show_model(fetched)

with form_tab:
    with st.form("model_form"):
        name = st.text_input("Name", value="my-model", key="f_name")
        a1, a2, a3, a4 = st.columns(4)
        layers = a1.number_input("Layers", min_value=0, max_value=10_000, value=32, key="f_layers")
        heads = a2.number_input("Attention heads", min_value=0, max_value=4096, value=32, key="f_heads")
        attn = a3.selectbox("Attention", ATTN, key="f_attn")
        kv_heads = a4.number_input("KV heads (GQA)", min_value=0, max_value=4096, value=8, key="f_kv")
        b1, b2, b3, b4 = st.columns(4)
        head_dim = b1.number_input("Head dim", min_value=0, max_value=4096, value=128, key="f_hd")
        d_c = b2.number_input("MLA d_c (kv_lora_rank)", min_value=1, max_value=65536, value=512, key="f_dc")
        d_r = b3.number_input("MLA d_r (rope dim)", min_value=1, max_value=4096, value=64, key="f_dr")
        max_ctx = b4.number_input("Max context", min_value=0, max_value=1 << 40, value=131072, key="f_ctx")
        c1, c2, c3, c4 = st.columns(4)
        window = c1.number_input("Sliding window (0 = none)", min_value=0, max_value=1 << 30, value=0, key="f_win")
        global_every = c2.number_input("Global layer every N (0 = all windowed)", min_value=0,
                                       max_value=10_000, value=0, key="f_glob")
        linear_every = c3.number_input("Attention layer every N, rest linear (0 = none)",
                                       min_value=0, max_value=10_000, value=0, key="f_lin")
        params_b = c4.number_input("Parameters (billions)", min_value=0.0, max_value=100_000.0,
                                   value=8.0, key="f_params")
        dtype = st.selectbox("Model dtype", ("bf16", "fp16", "fp32"), key="f_dtype")
        submitted = st.form_submit_button("Build model")
    if submitted:
        values = dict(layers=layers, heads=heads, attn=attn, kv_heads=kv_heads, head_dim=head_dim,
                      d_c=d_c, d_r=d_r, max_ctx=max_ctx, window=window, global_every=global_every,
                      linear_every=linear_every, dtype=dtype)
        params = round(params_b * 1e9) or None
        if not name.strip():
            st.error("name: give the model a name")
        else:
            try:
                model = from_hf_config(form_config(values), name=name.strip(),
                                       param_count=params, source="custom form")
            except ValueError as exc:
                st.error(str(exc))
            else:
                c.custom_models()[model.name] = model
                show_model(model)

with json_tab:
    cfg_name = st.text_input("Name", value="pasted-model", key="j_name")
    text = st.text_area("Paste config.json", height=220, key="j_text",
                        placeholder='{"num_hidden_layers": 32, "num_attention_heads": 32, ...}')
    upload = st.file_uploader("…or upload it", type=["json"], key="j_file",
                              help=f"At most {MAX_CONFIG_BYTES:,} bytes")
    jparams = st.number_input("Parameters (billions, for capacity)", min_value=0.0,
                              max_value=100_000.0, value=0.0, key="j_params")
    if st.button("Read config", key="j_go"):
        data = None
        if upload is not None:
            data = upload.getvalue() if upload.size <= MAX_CONFIG_BYTES else b" " * (MAX_CONFIG_BYTES + 1)
        elif text.strip():
            data = text
        if data is None:
            st.error("config: paste a config.json or upload one")
        elif not cfg_name.strip():
            st.error("name: give the model a name")
        else:
            try:
                model = model_from_config_text(data, name=cfg_name.strip(),
                                               param_count=round(jparams * 1e9) or None)
            except ValueError as exc:
                st.error(str(exc))
            else:
                c.custom_models()[model.name] = model
                show_model(model)

if c.custom_models():
    st.subheader("Models kept this session")
    st.write(", ".join(c.md_escape(n) for n in c.custom_models()))
