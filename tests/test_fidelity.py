"""Every number, formula and label a user sees is true (issue: dashboard and CLI fidelity)."""
import re
from math import prod
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from calculator import as_variant, kv_cache_bytes
from calculator.formula import terms
from model_presets import list_presets, load_preset

ROOT = Path(__file__).resolve().parents[1]


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=60)


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


TERM = re.compile(r"^- .*?: ((?:[\d,]+|\([\d, +]+\))(?: · (?:[\d,]+|\([\d, +]+\)))*) = ([\d,]+)", re.M)


def evaluate(product: str) -> int:
    """'62 · 1 · (128 + 128) · 2' -> 62·1·256·2, by hand: split on ·, sum inside parentheses."""
    factors = []
    for f in product.split(" · "):
        factors.append(sum(int(x.replace(",", "")) for x in f.strip("()").split(" + ")))
    return prod(factors)


@pytest.mark.parametrize("preset, context", [("gemma-3-27b", 32768), ("gpt-oss-120b", 131072),
                                             ("qwen3-next-80b-a3b", 5000), ("deepseek-v3", 1000)])
def test_variant_formulas_are_the_real_computation(preset, context):
    at = page("variants")
    at.query_params["v_model"] = preset
    at.query_params["v_ctx"] = str(context)
    at.query_params["v_batch"] = "1"
    at.query_params["v_dtype"] = "bf16"
    ok(at.run())
    text = "\n".join(plain(m.value) for m in at.markdown)
    found = TERM.findall(text)
    assert found, text
    for product, shown in found:
        assert evaluate(product) == int(shown.replace(",", "")), product
    model = load_preset(preset)
    # The MHA total printed equals the calculator's, and equals the sum of its terms.
    mha = as_variant(model, "mha")
    total = kv_cache_bytes(mha, context, 1, "bf16").total_bytes
    assert f"**MHA** = " in text and f"**{total:,} bytes**" in text
    assert sum(t.value for t in terms(mha, context, 1, "bf16")) == total


def test_gemma3_windowed_term_uses_the_window():
    # Gemma-3-27B MHA at 32k: 52 sliding layers hold min(32,768, 1,024) tokens,
    # 10 full layers 32,768 tokens; 32 heads · (128 + 128) · 2 B each.
    mha = as_variant(load_preset("gemma-3-27b"), "mha")
    values = [t.value for t in terms(mha, 32768, 1, "bf16")]
    assert values == [52 * 1 * 1024 * 32 * 256 * 2, 10 * 1 * 32768 * 32 * 256 * 2]
    assert sum(values) == 872_415_232 + 5_368_709_120 == kv_cache_bytes(mha, 32768).total_bytes


@pytest.mark.parametrize("name", list_presets())
@pytest.mark.parametrize("dtype", ["bf16", "q8_0", "int4_g64"])
def test_terms_sum_to_the_total_for_every_preset(name, dtype):
    model = load_preset(name)
    for ctx in (1, 1000, 200_000):
        parts = terms(model, ctx, 2, dtype)
        assert all(prod(sum(s) for _, s in t.factors) == t.value for t in parts)
        assert sum(t.value for t in parts) == kv_cache_bytes(model, ctx, 2, dtype).total_bytes
