"""Shared fixtures: a real local Hugging Face Hub server (tests never reach the internet), and
the payloads the dashboard hands its download buttons."""
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from tests.hub_server import HubServer


@pytest.fixture(scope="session")
def hub():
    """The local hub, started once per session; ``hub.url`` goes into ``HF_ENDPOINT``."""
    with HubServer() as server:
        yield server


@pytest.fixture
def hub_env(hub, tmp_path, monkeypatch):
    """Environment pointing huggingface_hub at the local server with an empty, private cache."""
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    for var in ("HF_TOKEN", "HF_HUB_OFFLINE", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return hub


@pytest.fixture
def downloads(monkeypatch):
    """Every payload handed to a download button, by its file name."""
    files = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        files[filename] = path_or_data.decode() if isinstance(path_or_data, bytes) else path_or_data
        return real(self, path_or_data, mimetype, kind, filename)
    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    return files
