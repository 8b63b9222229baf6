"""AppTest of the Models page: it renders real registry data and each paper's card extras."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

from hcview.models import list_models

ROOT = Path(__file__).resolve().parents[2]


def test_models_page_shows_registry(tmp_models_dir):
    at = AppTest.from_file(str(ROOT / "views/1_Models.py"), default_timeout=60)
    at.run()
    assert not at.exception
    df = at.dataframe[0].value
    assert list(dict.fromkeys(df["model"])) == list_models()
    assert len(df) == 2 * len(list_models())
    # the card of the selected model shows its Grad-CAM layer from the spec
    assert any(m.value == "layer4" for m in at.metric)
    at.selectbox[0].select("cihmlc").run()
    assert not at.exception
    assert any(m.value == "head_act" for m in at.metric)


def test_promote_and_roll_back_from_the_models_page(tmp_models_dir, tmp_var_dir, tmp_path):
    import torch

    from hcview.models import versions
    from hcview.models.checkpoint import save_checkpoint
    from hcview.models.registry import create_model

    def ckpt(name, seed):
        torch.manual_seed(seed)
        p = tmp_path / name / "best.pt"
        p.parent.mkdir()
        save_checkpoint(create_model("hcnet", "demo"), p, {"id": "hcnet", "variant": "demo", "data": {"spec": "sample:brain-mri"},
                                                           "training": {"max_eval_samples": 8}, "select": "val_disease_acc"})
        return p

    versions.write_shipped(ckpt("s", 0), versions.shipped_path("hcnet", "demo"))
    versions.add_version("hcnet", "demo", ckpt("a", 1), {"job_id": "job-a"})
    at = AppTest.from_file(str(ROOT / "views/1_Models.py"), default_timeout=120)
    at.run()
    assert not at.exception
    at.toggle(key="models_cmp_2").set_value(True).run()
    assert not at.exception
    table = at.dataframe[1].value  # versions table, then the side-by-side comparison
    assert {"active (v1)", "candidate (v2)", "difference"} <= set(at.dataframe[2].value.columns)
    assert list(table["version"]) == [1, 2]
    assert at.button(key="models_promote_2").disabled  # nothing happens before the confirmation
    at.checkbox(key="models_ok_2").check().run()
    at.button(key="models_promote_2").click().run()
    assert not at.exception
    assert versions.active_version("hcnet", "demo") == 2
    at.button(key="models_rollback").click().run()
    assert versions.active_version("hcnet", "demo") == 1
