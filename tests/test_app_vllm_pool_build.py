"""The dashboard's vLLM v0.27+ build: its pool rules on Capacity and Engines with the KV memory
its log prints (its startup is not modelled), equal to the library and to the copied command."""
import json
import shlex
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from calculator.engines import vllm_plan
from model_presets import load_preset

ROOT = Path(__file__).resolve().parent.parent
GIB = 1 << 30


def run(page: str, **params):
    at = AppTest.from_file(str(ROOT / "views" / f"{page}.py"), default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = str(v)
    return at.run()


def test_capacity_vllm_027_sizes_the_logged_memory_and_copies_a_command_that_agrees():
    # the public vLLM 0.29.0 gemma-4 log (tests/test_engine_vllm_pool_versions.py): 4.25 GiB,
    # max_num_batched_tokens 2496 → 78,433 tokens, 2.39x at 32,768
    at = run("capacity", c_model="gemma-4-26b-a4b", c_gpus=1, c_tp=1, c_ctx=32768,
             c_engine="vllm", c_vver="0.27", c_vkv=4.25, c_mnbt=2496)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Available KV cache memory"] == "4.25 GiB"
    assert metrics["KV cache size (tokens)"] == "78,433"
    assert metrics["Max concurrency at 32,768 tokens"] == "2.39x"
    assert any("GPU KV cache size: 78,433 tokens" in x.value for x in at.code)
    serve, line = next(x.value for x in at.code if "python -m calculator" in x.value).splitlines()
    assert "--kv-cache-memory-bytes 4563402752" in serve  # vLLM's own flag pins the same pool
    assert "--engine-version 0.27" in line and "--kv-memory 4563402752" in line
    argv = shlex.split(line)[1:]
    out = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    row = json.loads(out.stdout)
    assert (row["engine_tokens"], round(row["max_concurrency"], 2)) == (78_433, 2.39)


def test_capacity_vllm_027_without_a_figure_says_whose_memory_it_sizes():
    at = run("capacity", c_model="llama-3.1-8b", c_gpus=1, c_tp=1, c_ctx=16384,
             c_engine="vllm", c_vver="0.27")
    assert not at.exception
    text = " ".join(x.value for x in at.caption)
    assert "startup memory" in text and "is not modelled here" in text and "v0.18's predicted" in text


def test_engines_page_vllm_027_with_one_figure_and_not_predicted_from_the_gpu():
    want = vllm_plan(load_preset("gemma-4-26b-a4b"), max_model_len=32768, kv_memory=5 * GIB,
                     max_num_batched_tokens=2496, version="0.27")
    at = run("engines", e_model="gemma-4-26b-a4b", e_ctx=32768, e_src="given", e_mem=5,
             e_mnbt=2496, e_vver="0.27")
    assert not at.exception
    table = at.dataframe[0].value.set_index("engine")
    assert "vLLM 0.27+ pool rules" in table.index
    assert table.loc["vLLM 0.27+ pool rules", "requests that fit"] == f"{want.max_concurrency:.2f}x"
    assert any("--engine-version 0.27" in x.value for x in at.code)
    at = run("engines", e_model="gemma-4-26b-a4b", e_ctx=32768, e_src="gpu", e_vver="0.27")
    assert not at.exception
    table = at.dataframe[0].value.set_index("engine")
    assert table.loc["vLLM 0.27+ pool rules", "status"] == "not modelled (below)"
    assert not any("--engine vllm" in x.value for x in at.code)
