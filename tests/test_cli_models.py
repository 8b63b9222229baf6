import json
import subprocess
import sys

from hcview.cli import main


def test_models_json(capsys, tmp_models_dir):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["id"], r["variant"]) for r in rows} == {(m, v) for m in ("hcnet", "cihmlc", "medfusionnet", "resmtnet")
                                                     for v in ("paper", "demo")}
    for r in rows:
        assert {"id", "variant", "params", "input_size", "trained"} <= set(r)
        assert r["params"] > 0 and r["trained"] is False
    by = {(r["id"], r["variant"]): r for r in rows}
    assert 11_000_000 < by[("hcnet", "paper")]["params"] < 11_500_000  # ResNet-18 + 3 heads
    assert by[("cihmlc", "paper")]["input_size"] == 320


def test_models_trained_flag(capsys, tmp_models_dir):
    from hcview.models import create_model
    from hcview.models.checkpoint import default_checkpoint_path, save_checkpoint

    save_checkpoint(create_model("hcnet", "demo"), default_checkpoint_path("hcnet", "demo"), {})
    assert main(["models", "--json"]) == 0
    rows = {(r["id"], r["variant"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows[("hcnet", "demo")]["trained"] is True
    assert rows[("hcnet", "paper")]["trained"] is False


def test_unknown_model_card_is_one_line_error():
    r = subprocess.run([sys.executable, "-m", "hcview", "models", "--card", "nope"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "unknown model 'nope'" in r.stderr
    assert "Traceback" not in r.stderr
