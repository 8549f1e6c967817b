"""Run the calculator's CLI as a user would (``python -m calculator``, from the repository root)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "calculator", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
