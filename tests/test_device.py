"""What the sidebar says the app computes on, before torch is imported."""
import sys

from hcview import device


def _fake_driver(monkeypatch, tmp_path):
    info = tmp_path / "information"
    info.write_text("Model:           NVIDIA Test GPU\nIRQ: 1\n")
    monkeypatch.setattr(device.glob, "glob", lambda pattern: [str(info)])
    monkeypatch.setattr("importlib.metadata.version", lambda name: "2.14.1+cu130")
    monkeypatch.delitem(sys.modules, "torch", raising=False)


def test_driver_probe_names_the_gpu(monkeypatch, tmp_path):
    _fake_driver(monkeypatch, tmp_path)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert device.describe() == "GPU: NVIDIA Test GPU"


def test_hidden_gpus_and_cpu_builds_say_cpu(monkeypatch, tmp_path):
    _fake_driver(monkeypatch, tmp_path)
    for hidden in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert device.describe().startswith("CPU (")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setattr("importlib.metadata.version", lambda name: "2.14.1+cpu")
    assert device.describe().startswith("CPU (")
