"""Custom model page: build a model from a form or a pasted/uploaded config.json, show what was
understood (per layer group), and keep it in session state for the other pages.

The form is turned into a Hugging Face-style config dict and goes through the same importer as
a pasted config, so both are validated alike.
"""
from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from calculator import from_hf_config, kv_cache_bytes, per_token_bytes
from calculator.dtypes import get_dtype
from calculator.totals import long_context_bytes_per_token
from calculator.units import format_per_token
from calculator.load import MAX_CONFIG_BYTES, model_from_config_text
from views import common as c
from views.hub_box import hub_box

ATTN = ("GQA", "MHA", "MQA", "MLA")
SHOW_CONTEXT = 8192  # shown when a config gives no max context


def form_config(v: dict) -> dict:
    """The form's answers as a config.json dict (layer_types spells out the pattern)."""
    n = int(v["layers"])
    if int(v["head_dim"]) < 1:
        raise ValueError("head_dim: must be at least 1")
    if int(v["max_ctx"]) < 1:
        raise ValueError("max_position_embeddings: must be at least 1")
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


# The form's labels for the config keys it writes, so errors name what the user sees.
FORM_LABELS = {"num_hidden_layers": "Layers", "num_attention_heads": "Attention heads",
               "num_key_value_heads": "KV heads (GQA)", "head_dim": "Head dim",
               "kv_lora_rank": "MLA d_c", "qk_rope_head_dim": "MLA d_r",
               "max_position_embeddings": "Max context", "sliding_window": "Sliding window",
               "hidden_size": "Attention heads × Head dim"}


def in_form_words(message: str) -> str:
    """An importer message with each config key replaced by the form field's label."""
    for key in sorted(FORM_LABELS, key=len, reverse=True):
        message = re.sub(rf"\b{key}\b", FORM_LABELS[key], message)
    return message


def show_model(model) -> None:
    known = f"{model.max_context:,}" if model.max_context else "unknown (the config does not say)"
    st.success(f"Understood {c.md_code(model.name)}: {model.describe()}, {model.num_layers} "
               f"layers, max context {known}.")
    ctx = model.max_context or SHOW_CONTEXT
    where = "max context" if model.max_context else f"{c.token_label(ctx)} tokens"
    b = kv_cache_bytes(model, ctx, 1)
    indexed = any(g.index_bytes for g in b.groups)  # DSA: the indexer keys get their own column
    v4 = model.has_compressed  # DeepSeek-V4's compressed entries
    bf16 = get_dtype("bf16")

    def per_token(spec, g) -> str:  # a window's rows (V4: its entries have their own columns)
        if v4:
            return f"{g.layers * spec.per_token_bytes(bf16):,}"
        return f"{g.kv_bytes // max(g.tokens_per_seq, 1):,}" if g.tokens_per_seq else "0"

    st.dataframe(pd.DataFrame([{
        "layers": g.layers, "cache": g.label, "kind": g.kind,
        f"tokens held @ {where}": f"{g.tokens_per_seq:,}",
        "bytes/token, whole group (bf16)": per_token(lg.spec, g),
        **({"of which indexer bytes/token": f"{g.index_bytes // max(g.tokens_per_seq, 1):,}"}
           if indexed and not v4 else {}),
        **({f"compressed entries @ {where}": f"{g.entries_per_seq:,}",
            "bytes/entry, whole group (bf16)": f"{g.layers * lg.spec.entry_bytes(bf16):,}"}
           if v4 else {}),
        "state bytes/seq": f"{g.state_bytes:,}", f"@ {where} ({c.unit_name()})": c.fmt(g.kv_bytes + g.state_bytes),
    } for lg, g in zip(model.groups, b.groups)]), hide_index=True, key="breakdown")
    m1, m2, m3 = st.columns(3)
    growth = long_context_bytes_per_token(model)
    m1.metric("KV bytes per token (bf16)", f"{per_token_bytes(model):,}",
              help=f"The first token's bytes; past the window each token adds "
                   f"{format_per_token(growth)} on average (one compressed entry per 4 or 128 "
                   "tokens)" if v4 else None)
    m2.metric("Per-sequence state", c.fmt(b.state_bytes), help=f"{b.state_bytes:,} bytes")
    m3.metric(f"One sequence at {where}", c.fmt(b.total_bytes), help=f"{b.total_bytes:,} bytes")
    if b.state_bytes:
        st.caption(c.STATE_CONVENTION)
    if model.mtp_layers:
        st.caption(f"The config has {model.mtp_layers} MTP (next-n prediction) layer(s), left out here "
                   "as published per-token figures do; Compare's “Count MTP layers” adds them.")
    show_weights(model)


def show_weights(model) -> None:
    """The checkpoint beside the cache: parameters, bytes in its shipped format, bytes by part."""
    st.markdown("**Weights**")
    w1, w2 = st.columns(2)
    w1.metric("Parameters", f"{model.param_count:,}" if model.param_count else "unknown")
    w2.metric("Checkpoint", c.fmt(model.weight_bytes) if model.weight_bytes else "unknown",
              help=f"{model.weight_bytes:,} bytes" if model.weight_bytes else None)
    if model.weights_error:
        st.warning(c.md_escape(model.weights_error))
    elif model.weights_from:
        st.caption(f"From {c.md_escape(model.weights_from)}; capacity subtracts these bytes "
                   "(its weight dtype choice can price the parameters in another format).")
    if model.weight_parts:
        st.dataframe(pd.DataFrame(c.weights_table(model)), hide_index=True, key="weights_parts")


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
                st.error(c.md_escape(in_form_words(str(exc))))
            else:
                c.custom_models()[model.name] = model
                show_model(model)

with json_tab:
    cfg_name = st.text_input("Name", key="j_name", placeholder="the config's own name",
                             help="Leave empty to use the config's _name_or_path, else its architecture")
    text = st.text_area("Paste config.json", height=220, key="j_text",
                        placeholder='{"num_hidden_layers": 32, "num_attention_heads": 32, ...}')
    upload = st.file_uploader("…or upload it", type=["json"], key="j_file", max_upload_size=1,
                              help=f"At most 1 MB; a config.json is a few KiB")
    jparams = st.number_input("Parameters (billions; 0 = priced from the config)", min_value=0.0,
                              max_value=100_000.0, value=0.0, key="j_params")
    if st.button("Read config", key="j_go"):
        data = None
        if upload is not None and upload.size > MAX_CONFIG_BYTES:
            st.error(f"config: the uploaded file is {upload.size:,} bytes, over the "
                     f"{MAX_CONFIG_BYTES:,}-byte limit (a config.json is a few KiB)")
        elif upload is not None:
            data = upload.getvalue()
            if text.strip():
                st.info(f"Read the uploaded file {c.md_escape(upload.name)} ({upload.size:,} bytes); "
                        "the pasted text was not used. Remove the file to read the pasted text.")
        elif text.strip():
            data = text
        else:
            st.error("config: paste a config.json or upload one")
        if data is not None:
            try:
                model = model_from_config_text(data, name=cfg_name.strip() or None,
                                               param_count=round(jparams * 1e9) or None)
            except ValueError as exc:
                st.error(c.md_escape(str(exc)))
            else:
                if cfg_name.strip():  # a typed name replaces the model kept under it
                    c.custom_models()[model.name] = model
                else:  # a config's own name (often its architecture) never replaces another model
                    renamed = c.keep_custom(model)
                    if renamed.name != model.name:
                        st.info(f"Another model is already kept as {c.md_code(model.name)}; this one "
                                f"is kept as {c.md_code(renamed.name)}.")
                    model = renamed
                show_model(model)

if c.custom_models():
    st.subheader("Models kept this session")
    st.write(", ".join(c.md_code(n) for n in c.custom_models()))
