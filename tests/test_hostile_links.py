"""Every page opened with hostile values in every one of its query keys: no traceback, no script,
and the page still renders (a property sweep over the URL parser every page shares)."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("compare", "custom", "variants", "capacity", "engines", "measurements")
HOSTILE = ("0", "-5", str(10**30), "9" * 5000, "²", "NaN", "ü", "<script>alert(1)</script>",
           "1e308", " ")


def keys_of(name: str) -> list[str]:
    """The query keys a page writes back (its shareable state)."""
    at = AppTest.from_file(str(ROOT / "views" / f"{name}.py"), default_timeout=60).run()
    assert not at.exception
    return sorted(at.query_params)


def html_texts(at: AppTest) -> list[str]:
    """Text rendered as HTML (markdown with unsafe_allow_html): the only place a script could
    run; everything else Streamlit shows as text."""
    return [str(e.value) for e in at.markdown if getattr(e.proto, "allow_html", False)]


@pytest.mark.parametrize("name", PAGES)
def test_every_key_of_every_page_survives_hostile_values(name):
    keys = keys_of(name)
    assert keys, name
    for value in HOSTILE:
        at = AppTest.from_file(str(ROOT / "views" / f"{name}.py"), default_timeout=60)
        for key in keys:
            at.query_params[key] = value
        at.run()
        assert not at.exception, (name, value[:20], [e.value for e in at.exception][:1])
        assert not any("<script" in t for t in html_texts(at)), (name, value[:20])
    # repeated keys (?k=a&k=b) where a page expects one value
    at = AppTest.from_file(str(ROOT / "views" / f"{name}.py"), default_timeout=60)
    for key in keys:
        at.query_params[key] = ["1", "2"]
    at.run()
    assert not at.exception, (name, "repeated")
