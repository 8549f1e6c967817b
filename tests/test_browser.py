"""End-to-end in real headless Chromium (Debian's /usr/bin/chromium via Playwright): start
``streamlit run app.py`` on a local port, open every page, change a widget, check the chart and
table appear, download the CSV and check it against the calculator, save screenshots."""
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from calculator import kv_cache_bytes
from model_presets import list_presets, load_preset

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Debian chromium not installed (CI installs it and runs these)")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    pytest.fail("streamlit did not start within 60 s")


@pytest.fixture(scope="module")
def server(hub, tmp_path_factory):
    home = tmp_path_factory.mktemp("hf-home")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_OFFLINE")}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(home), HF_HUB_CACHE=str(home / "hub"))
    proc, url = start_server(env)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(server):
    """One Chromium for the module (Playwright's sync API allows one instance at a time)."""
    from playwright.sync_api import sync_playwright
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser):
    pg = browser.new_page(viewport={"width": 1400, "height": 2200}, accept_downloads=True)
    pg.set_default_timeout(30_000)
    yield pg
    pg.close()


def open_page(page, server, path: str, ready: str = "[data-testid='stPlotlyChart']"):
    """Open ``path`` and wait for its main element; returns seconds to first render."""
    t0 = time.perf_counter()
    page.goto(f"{server}/{path}")
    page.locator(ready).first.wait_for()
    seconds = time.perf_counter() - t0
    idle(page)
    return seconds


def idle(page):
    """Wait until Streamlit has finished the current run."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.indexOf('Running') < 0")
    page.wait_for_timeout(300)


def choose(page, label: str, option: str):
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    idle(page)


def set_number(page, label: str, value: int):
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    idle(page)


def test_compare_page_dtype_change_and_csv(page, server):
    open_page(page, server, "")
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 1
    assert page.locator("[data-testid='stDataFrame']").count() == 1
    choose(page, "KV dtype", "fp8_e4m3")
    assert "dtype=fp8_e4m3" in page.url  # shareable state
    page.locator(".js-plotly-plot .scatterlayer .trace").first.wait_for()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV (raw bytes + formatted)").click()
    csv = pd.read_csv(io.StringIO(Path(info.value.path()).read_text()))
    assert set(csv["kv_dtype"]) == {"fp8_e4m3"} and len(csv) == 18  # 6 models × 3 contexts
    by_name = {load_preset(n).name: load_preset(n) for n in list_presets()}
    for row in csv.itertuples():
        b = kv_cache_bytes(by_name[row.model], int(row.context), 1, "fp8_e4m3")
        assert row.total_bytes == b.total_bytes
    page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)


def test_shared_url_reopens_the_view(page, server):
    open_page(page, server, "compare?models=gpt2&models=deepseek-v3&dtype=q4_0&batch=3")
    page.get_by_label("Batch (sequences)", exact=True).wait_for()
    assert page.get_by_label("Batch (sequences)", exact=True).input_value() == "3"
    text = page.locator("[data-testid='stMultiSelect']").first.inner_text()
    assert "GPT-2 (124M)" in text and "DeepSeek-V3" in text and "Llama" not in text


def test_custom_model_page_hub_id(page, server):
    open_page(page, server, "custom", ready="[data-testid='stTabs']")
    field = page.get_by_role("textbox", name="Hugging Face model id", exact=True)
    field.fill("openai/gpt-oss-20b")
    field.press("Enter")
    idle(page)
    page.get_by_role("button", name="Fetch", exact=True).click()
    idle(page)
    page.get_by_text("13,761,264,768 bytes of weights", exact=False).wait_for()
    page.screenshot(path=str(SHOTS / "custom-hub.png"), full_page=True)
    page.locator("[data-testid='stDataFrame']").first.wait_for()
    page.screenshot(path=str(SHOTS / "custom-hub.png"), full_page=True)
    field.fill("acme/gated-llama")
    field.press("Enter")
    idle(page)
    page.get_by_role("button", name="Fetch", exact=True).click()
    idle(page)
    page.locator("[data-testid='stAlert']").filter(has_text="acme/gated-llama is gated").wait_for()


def test_custom_model_page(page, server):
    open_page(page, server, "custom", ready="[data-testid='stTabs']")
    page.get_by_role("tab", name="Form").click()
    page.locator("[data-testid='stForm']").wait_for()
    set_number(page, "Layers", 10)
    page.get_by_role("button", name="Build model").click()
    idle(page)
    page.get_by_text("Understood my-model").wait_for()
    assert page.locator("[data-testid='stDataFrame']").count() == 1
    set_number(page, "KV heads (GQA)", 5)
    page.get_by_role("button", name="Build model").click()
    idle(page)
    page.locator("[data-testid='stAlert']").filter(
        has_text="KV heads (GQA): 5 does not divide Attention heads 32").wait_for()
    page.screenshot(path=str(SHOTS / "custom.png"), full_page=True)


def test_variants_page(page, server):
    open_page(page, server, "variants")
    assert "20,971,520,000" in page.locator("[data-testid='stMain']").inner_text()
    set_number(page, "Batch B", 16)
    # MHA at B=16: 80·16·1000·64·2·128·2 = 41,943,040,000 B = 39.06 GiB
    page.get_by_text("41,943,040,000 bytes", exact=False).first.wait_for()
    assert page.locator("[data-testid='stPlotlyChart']").count() == 1
    page.screenshot(path=str(SHOTS / "variants.png"), full_page=True)


def test_capacity_page(page, server):
    open_page(page, server, "capacity")
    set_number(page, "GPUs per replica", 8)
    main = page.locator("[data-testid='stMain']")
    # Llama-3.1-70B bf16 over 8 GPUs: 141,107,412,992 B / 8 = 17,638,426,624 B = 16.43 GiB
    page.get_by_text("16.43 GiB").first.wait_for()
    assert page.locator("[data-testid='stPlotlyChart']").count() == 2
    assert "Longest context at batch 8" in main.inner_text()
    page.screenshot(path=str(SHOTS / "capacity.png"), full_page=True)


def test_measurements_page(page, server):
    open_page(page, server, "measurements")
    # the saved H100 results: 144 model totals allocated whole, 48 extrapolated (counted apart)
    page.get_by_text("144 / 144", exact=False).first.wait_for()
    main = page.locator("[data-testid='stMain']").inner_text()
    assert "Allocated rows matching to the byte" in main and "48 / 48" in main
    assert page.locator("[data-testid='stDataFrame']").count() >= 1
    assert page.locator("[data-testid='stPlotlyChart']").count() == 1
    page.screenshot(path=str(SHOTS / "measurements.png"), full_page=True)


def test_dark_theme_renders(page, server):
    page.emulate_media(color_scheme="dark")
    open_page(page, server, "")
    bg = page.evaluate("getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor")
    page.screenshot(path=str(SHOTS / "compare-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")
    assert bg != "rgb(255, 255, 255)"


# Elements of the main area that end past the right edge of the viewport (hidden elements, the
# sliders' invisible accessibility inputs and the inside of data grids, which scroll by design,
# excepted).
CUT = """() => {
  const w = window.innerWidth, out = [];
  for (const el of document.querySelectorAll('[data-testid="stMain"] *')) {
    if (el.closest('[data-testid="stDataFrame"] canvas, [data-testid="stDataFrameResizable"] > div > div')) continue;
    if (el.closest('[inert]')) continue;
    if (getComputedStyle(el).visibility === 'hidden') continue;
    if (el.tagName === 'INPUT' && el.closest('[data-testid="stSlider"]')) continue;  // invisible a11y input on the thumb
    if (el.closest('.draglayer')) continue;  // Plotly's invisible corner drag handles
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 1) out.push((el.getAttribute('data-testid') || el.tagName) + ' ' + Math.round(r.right));
  }
  return out.slice(0, 10);
}"""


@pytest.fixture(scope="module")
def phone(browser):
    """A phone-width page (390 px); tall, so a screenshot holds the whole page."""
    pg = browser.new_page(viewport={"width": 390, "height": 3000})
    pg.set_default_timeout(30_000)
    yield pg
    pg.close()


@pytest.mark.parametrize("path, ready", [
    ("compare", "[data-testid='stPlotlyChart']"),
    ("variants?v_model=gemma-3-27b&v_ctx=32768", "[data-testid='stPlotlyChart']"),
    ("capacity", "[data-testid='stPlotlyChart']"),
    ("custom", "[data-testid='stTabs']"),
    ("measurements", "[data-testid='stDataFrame']"),
    ("engines", "[data-testid='stDataFrame']"),
])
def test_phone_width_nothing_is_cut(phone, server, path, ready):
    open_page(phone, server, path, ready=ready)
    phone.wait_for_timeout(800)  # charts resize to the width
    cut = phone.evaluate(CUT)
    name = path.split("?")[0]
    phone.screenshot(path=str(SHOTS / f"phone-{name}.png"))
    assert cut == [], cut
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_link_with_every_setting_reopens_the_view(page, server):
    link = ("capacity?c_model=llama-3.1-70b&c_gpu=H100+80GB&c_gpus=2&c_tp=2&c_kvdtype=fp8_e4m3"
            "&c_util=0.9&c_layout=theoretical&c_batch=8&c_ctx=16384&c_wdtype=bf16&unit=GB")
    open_page(page, server, link)
    main = page.locator("[data-testid='stMain']")
    # free floor(85,030,076,416 · 0.9) − 70,553,706,496 = 5,973,362,278 B per GPU
    # / (80 layers · 4 heads · 256 · 1 B · 8 seqs) = 9,114 tokens
    page.get_by_text("9,114 tokens").first.wait_for()
    assert page.get_by_label("Context C (tokens)", exact=True).input_value() == "16384"
    assert "GB" in main.inner_text() and "GiB" not in main.locator("[data-testid='stMetric']").first.inner_text()
    for part in ("c_kvdtype=fp8_e4m3", "c_tp=2", "c_gpus=2", "c_ctx=16384", "unit=GB"):
        assert part in page.url, part  # the page writes every setting back
    page.goto(f"{server}/compare?models=gpt2&models=qwen3-8b&dtype=q4_0&tp=2&util=0.8&logy=false"
              "&gpu_lines=A100+40GB&cap_gpu=A100+80GB&table_ctx=2048&mtp=true&unit=GB")
    page.locator("[data-testid='stPlotlyChart']").first.wait_for()
    idle(page)
    text = main.inner_text()
    assert "one GPU's share at TP=2" in text and "GPT-2 (124M)" in text and "Qwen3-8B" in text
    assert "A100 40GB at 80%" in page.locator(".legend").first.text_content()
    assert page.locator("[data-testid='stSlider']").filter(has_text="Memory utilization").inner_text().split()[2] == "0.80"
    for part in ("dtype=q4_0", "tp=2", "util=0.8", "logy=false", "mtp=true", "cap_gpu=A100+80GB",
                 "table_ctx=2048", "unit=GB"):
        assert part in page.url, part


def test_names_render_as_text(page, server):
    name = "**bold** [link](http://e.com) <b>x</b> :red[y]"
    open_page(page, server, "custom", ready="[data-testid='stTabs']")
    page.get_by_role("tab", name="config.json").click()
    page.get_by_label("Paste config.json").fill(
        '{"_name_or_path": "%s", "num_hidden_layers": 2, "hidden_size": 64, '
        '"num_attention_heads": 4}' % name.replace('"', '\\"'))
    page.get_by_role("button", name="Read config").click()
    idle(page)
    banner = page.locator("[data-testid='stAlert']").filter(has_text="Understood").first
    banner.wait_for()
    idle(page)
    page.screenshot(path=str(SHOTS / "custom-names.png"), full_page=True)
    assert name in banner.inner_text()
    assert banner.locator("b, a, strong").count() == 0  # no bold, no link, no <b>: the name as typed
    assert banner.locator("code").inner_text() == name


def test_favicon_is_served_by_the_app(page, server):
    open_page(page, server, "")
    href = page.evaluate("document.querySelector('link[rel*=icon]').href")
    assert href.startswith(server), href


def test_a_fresh_server_opened_on_a_shared_link_routes_through_app_py(browser):
    """A first request for /capacity must run app.py's st.navigation (title, wide layout, the
    five pages), not a page script alone with helper modules listed as pages (Streamlit's old
    pages/-directory mode, which a folder named pages/ switches on)."""
    proc, url = start_server()
    try:
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        open_page(pg, url, "capacity")
        nav = pg.locator("[data-testid='stSidebarNav']").inner_text()
        assert "Capacity planner" in nav and "Custom model" in nav
        assert "common" not in nav and "hub box" not in nav
        assert pg.title() == "KV-cache calculator"
        pg.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_compare_answers_at_its_own_name(page, server):
    # the landing page also opens at /compare (a shared link), without a "Page not found" dialog
    open_page(page, server, "compare?models=gpt2&dtype=q4_0")
    page.locator("[data-testid='stPlotlyChart']").first.wait_for()
    idle(page)
    text = page.locator("body").inner_text()
    assert "Page not found" not in text and "KV-cache memory vs context" in text
    assert "GPT-2 (124M)" in page.locator("[data-testid='stMultiSelect']").first.inner_text()
