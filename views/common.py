"""Helpers every page shares: cached loaders and sweeps, the unit toggle, custom models kept in
session state, and query-param sync so a copied URL reopens the same view.

Pages only wire widgets to these and to ``calculator``; no arithmetic lives here.
"""
from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable

import streamlit as st

from calculator import ModelSpec, format_bytes
from calculator.gpus import GPUS
from model_presets import list_presets, load_preset, preset_checkpoints

CUSTOM = "custom_models"
UNITS = ("GiB", "GB")
KV_DTYPES = ("bf16", "fp16", "fp32", "fp8_e4m3", "fp8_e5m2", "int8", "q8_0", "q4_0",
             "int4_g128", "int4_g64", "int2_g128")
WEIGHT_DTYPES = ("bf16", "fp16", "fp32", "fp8_e4m3", "int8", "q8_0", "q4_0", "int4_g128", "mxfp4",
                 "nvfp4")


@functools.cache  # presets are files of the repo: fixed for the life of the process
def _preset_names() -> tuple[str, ...]:
    return tuple(list_presets())


def preset_names() -> list[str]:
    return list(_preset_names())


@functools.cache
def preset(name: str, checkpoint: str | None = None) -> ModelSpec:
    return load_preset(name, checkpoint=checkpoint)


@functools.cache
def checkpoints(name: str) -> tuple[str, ...]:
    """A preset's published checkpoints, its own first ('bf16', 'FP8', 'AWQ int4' ...)."""
    return tuple(preset_checkpoints(name))


def custom_models() -> dict[str, ModelSpec]:
    return st.session_state.setdefault(CUSTOM, {})


def keep_custom(model: ModelSpec) -> ModelSpec:
    """Keep a custom model for the session under a name no other kept model has: a second
    config named 'MistralForCausalLM' becomes 'MistralForCausalLM (2)' instead of replacing the
    first. Returns the model as kept (renamed when needed)."""
    from dataclasses import replace
    kept = custom_models()
    name, n = model.name, 2
    while name in kept and kept[name] != model:
        name, n = f"{model.name} ({n})", n + 1
    model = model if name == model.name else replace(model, name=name)
    kept[name] = model
    return model


def model_choices() -> list[str]:
    """Preset names, then custom models as 'custom:<name>'."""
    return preset_names() + [f"custom:{n}" for n in custom_models()]


def resolve(choice: str, checkpoint: str | None = None) -> ModelSpec:
    if choice.startswith("custom:"):
        return custom_models()[choice.removeprefix("custom:")]
    return preset(choice, checkpoint)


def weights_table(model: ModelSpec) -> list[dict]:
    """The checkpoint's bytes by part, as rows for a table (empty when unknown)."""
    total = model.weight_bytes or sum(b for _, b in model.weight_parts) or 0
    return [{"part": part, "bytes": f"{b:,}", unit_name(): fmt(b),
             "share": f"{100 * b / total:.1f} %" if total else ""} for part, b in model.weight_parts]


def label(choice: str) -> str:
    return choice.removeprefix("custom:") + " (custom)" if choice.startswith("custom:") else resolve(choice).name


def choice(options) -> Callable:
    """URL parser: the option whose text is the value (options may be ints or strings)."""
    def parse(value: str):
        for option in options:
            if str(option) == value:
                return option
        raise ValueError(value)
    return parse


def kv_dtype_choice(value: str) -> str:
    """URL parser for a KV dtype: a listed name, or an alias the CLI takes ('fp8', 'float16')."""
    from calculator.dtypes import get_dtype
    if value in KV_DTYPES:
        return value
    name = get_dtype(value).name
    if name not in KV_DTYPES:
        raise ValueError(value)
    return name


def int_in(lo: int, hi: int) -> Callable:
    def parse(value: str) -> int:
        number = int(value)
        if not lo <= number <= hi:
            raise ValueError(value)
        return number
    return parse


def float_in(lo: float, hi: float, digits: int = 2) -> Callable:
    def parse(value: str) -> float:
        number = round(float(value), digits)
        if not lo <= number <= hi:
            raise ValueError(value)
        return number
    return parse


def boolean(value: str) -> bool:
    return {"true": True, "false": False}[value.lower()]


def init_from_query(key: str, default, parse: Callable = str, many: bool = False):
    """Seed ``st.session_state[key]`` from the URL once, so a shared link restores the view.
    With ``many``, values that do not parse are dropped and listed in ``url_rejected(key)``."""
    if key in st.session_state:
        return
    value = default
    if key in st.query_params:
        if many:
            value, bad = [], []
            for raw in st.query_params.get_all(key):
                try:
                    value.append(parse(raw))
                except (ValueError, TypeError, KeyError):
                    bad.append(raw)
            st.session_state.setdefault("_url_rejected", {})[key] = bad
        else:
            raw = st.query_params[key]
            try:
                value = parse(raw)
            except (ValueError, TypeError, KeyError, OverflowError):
                value = default
                st.session_state.setdefault("_url_dropped", []).append((key, raw, default))
    st.session_state[key] = value


def url_state(spec: dict[str, tuple]) -> list[str]:
    """Seed every key of ``{key: (default, parse[, many])}`` from the URL; returns the keys for
    ``sync_query``. Widgets then take their value from session state (no ``value=``)."""
    for key, (default, parse, *many) in spec.items():
        init_from_query(key, default, parse, many=bool(many and many[0]))
    dropped = [d for d in st.session_state.get("_url_dropped", []) if d[0] in spec]
    if dropped:  # say once what the link asked for and what the page uses instead
        st.session_state["_url_dropped"] = [d for d in st.session_state["_url_dropped"]
                                            if d[0] not in spec]
        st.info("From the link: " + "; ".join(
            f"{k}={md_escape(str(raw)[:40])} is not accepted here, so {k} = {md_escape(default)}"
            for k, raw, default in dropped) + ".", icon=":material/link_off:")
    return list(spec)


def url_rejected(key: str) -> list[str]:
    """Values of ``key`` in the opening URL that named nothing known."""
    return st.session_state.get("_url_rejected", {}).get(key, [])


def _url_text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def sync_query(keys: list[str]) -> None:
    """Write the current widget values (and the unit) back into the URL."""
    params = {}
    for key in [*keys, "unit"]:
        value = st.session_state.get(key)
        if isinstance(value, (list, tuple)):
            params[key] = [_url_text(v) for v in value]
        elif value is not None:
            params[key] = _url_text(value)
    if params != {k: st.query_params.get_all(k) if isinstance(params.get(k), list)
                  else st.query_params.get(k) for k in params}:
        st.query_params.update(params)


def _keep_unit() -> None:
    # A click on the selected option deselects it (value None): keep the previous choice.
    st.session_state["unit_pref"] = st.session_state.get("unit") or st.session_state.get("unit_pref", "GiB")


def unit() -> str:
    """The sidebar GiB / GB toggle: one choice for every page of the session and in every URL.
    The widget's own state is per page, so the choice lives in ``unit_pref`` and is copied in."""
    if "unit_pref" not in st.session_state:
        raw = st.query_params.get("unit")
        st.session_state["unit_pref"] = raw if raw in UNITS else "GiB"
    st.session_state["unit"] = st.session_state["unit_pref"]
    st.sidebar.segmented_control("Units", UNITS, key="unit", on_change=_keep_unit, help=(
        "GiB = 2³⁰ bytes (what nvidia-smi and PyTorch report); GB = 10⁹ bytes"))
    return st.session_state["unit_pref"]


STATE_CONVENTION = (
    "Linear-attention / SSM state follows vLLM's convention: a conv state (kernel − 1) wide and the "
    "recurrent state, both in the model's dtype. transformers 5.x keeps the full kernel width and "
    "an fp32 recurrent state (cache_utils.LinearAttentionLayer; qwen3_next "
    "torch_chunk_gated_delta_rule), about 2× more for Qwen3-Next and Jamba.")
STATE_BY_ENGINE = {
    "transformers": "Linear-attention / SSM state as transformers 5.x keeps it: the full conv "
                    "kernel width and an fp32 recurrent state (cache_utils.LinearAttentionLayer), "
                    "about 2× vLLM's convention for Qwen3-Next and Jamba.",
    "vllm": "Linear-attention / SSM state as vLLM pages it: one page per request holding the conv "
            "state (kernel − 1 wide) and the recurrent state in the model's dtype, padded to the "
            "attention page.",
    "llama.cpp": "Linear-attention / SSM state as llama.cpp keeps it: an f32 recurrent memory "
                 "(kernel − 1 conv + state) per sequence.",
    "sglang": "SGLang's Mamba pool for state layers is not modelled: those models have no sglang "
              "curve.",
}


def state_note(engine: str) -> str:
    """The state convention of the figures ``engine`` shows (theoretical: vLLM's)."""
    return STATE_BY_ENGINE.get(engine, STATE_CONVENTION)


def token_label(n: int) -> str:
    """128k for 131,072, 1M for 1,048,576; other counts as plain integers."""
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20}M"
    return f"{n >> 10}k" if n % 1024 == 0 else str(n)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def md_escape(text: object) -> str:
    """Text shown as itself inside markdown: markdown and HTML specials backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def md_code(text: object) -> str:
    """A name shown exactly as typed inside markdown: an inline code span (nothing in it is
    markdown, HTML, a link or a colour directive), fenced longer than any backtick run in it."""
    value = str(text).replace("\n", " ")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def html_escape(text: object) -> str:
    """Text shown as itself where HTML is rendered (Plotly legends and hover labels)."""
    return html.escape(str(text), quote=True)


def unit_name() -> str:
    return st.session_state.get("unit_pref") or "GiB"


def unit_bytes(u: str | None = None) -> int:
    """Bytes in one of the chosen unit: a memory typed on a page is in the sidebar's unit."""
    return 1 << 30 if (u or unit_name()) == "GiB" else 10 ** 9


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


# The dashboard's KV dtype as llama.cpp's -ctk / -ctv cache type (the ones llama.cpp has).
LLAMACPP_CACHE_TYPES = {"bf16": "bf16", "fp16": "f16", "fp32": "f32", "q8_0": "q8_0", "q4_0": "q4_0"}


def auto_or_fp8(engine: str, kv_dtype: str, model_dtype: str) -> str:
    """vLLM's and SGLang's ``--kv-cache-dtype`` for the dashboard's KV dtype: an fp8 type as it
    is; the model's own dtype (or the other 2-byte float: the same bytes) as ``auto``. Anything
    else is a one-line ``ValueError``: neither engine stores KV wider than the model or in q8_0."""
    if kv_dtype in ("fp8_e4m3", "fp8_e5m2"):
        return kv_dtype
    if kv_dtype == model_dtype or {kv_dtype, model_dtype} <= {"bf16", "fp16"}:
        return "auto"
    raise ValueError(f"{engine} has no {kv_dtype} KV cache for a {model_dtype} model "
                     f"(auto = {model_dtype}, or fp8_e4m3 / fp8_e5m2)")
