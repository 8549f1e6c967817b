"""The hosted dashboard installs requirements.txt only: every page must run without torch."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = r'''
import sys
sys.modules["torch"] = None  # any "import torch" now raises ImportError
from streamlit.testing.v1 import AppTest
for name in ("compare", "custom", "variants", "capacity", "engines", "measurements"):
    at = AppTest.from_file(f"views/{name}.py", default_timeout=60).run()
    assert not at.exception, (name, [e.value for e in at.exception])
    if name == "measurements":
        assert any("needs torch" in i.value for i in at.info)
import calculator, model_presets, views.common  # noqa: F401
assert "torch" not in [m for m in sys.modules if sys.modules[m] is not None]
print("ok")
'''


def test_pages_run_without_torch():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
