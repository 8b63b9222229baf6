import os

# Tests never touch the network: no ImageNet download attempts.
os.environ.setdefault("HCVIEW_ALLOW_DOWNLOAD", "0")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)


@pytest.fixture
def tmp_models_dir(tmp_path, monkeypatch):
    d = tmp_path / "models"
    d.mkdir()
    monkeypatch.setenv("HCVIEW_MODELS_DIR", str(d))
    return d


@pytest.fixture
def tmp_var_dir(tmp_path, monkeypatch):
    d = tmp_path / "var"
    d.mkdir()
    monkeypatch.setenv("HCVIEW_VAR_DIR", str(d))
    return d
