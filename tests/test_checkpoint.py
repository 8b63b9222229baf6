import json

import pytest
import torch

from hcview.errors import CheckpointError
from hcview.models import create_model
from hcview.models.checkpoint import card_path, load_checkpoint, save_checkpoint


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    m = create_model("cihmlc", "demo").eval()
    p = save_checkpoint(m, tmp_path / "c.pt", {"train": {"epochs": 1}, "hbce": {"mode": "data"}, "metrics": {"test": {"mean_auroc": 0.5}}})
    return m, p


def test_roundtrip_and_card(saved):
    m, p = saved
    m2, card = load_checkpoint(p)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(m(x)["labels"], m2(x)["labels"])
    for key in ("id", "variant", "label_space", "sha256", "pretrained", "train", "hbce", "metrics"):
        assert key in card
    assert card["id"] == "cihmlc" and card["variant"] == "demo"
    assert not list(p.parent.glob("*.tmp"))  # nothing half-written left behind


def test_tampered_checkpoint_is_refused(saved):
    _, p = saved
    b = bytearray(p.read_bytes())
    b[-100] ^= 0xFF
    p.write_bytes(bytes(b))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(p)


def test_truncated_checkpoint_is_refused(saved):
    _, p = saved
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(p)


def test_mismatched_checkpoint_is_refused(saved, tmp_path):
    _, p = saved
    other = create_model("hcnet", "demo")
    q = save_checkpoint(other, tmp_path / "h.pt", {})
    card = json.loads(card_path(q).read_text())
    good = json.loads(card_path(p).read_text())
    card.update({"id": "cihmlc", "variant": "demo", "label_space": good["label_space"], "arch_version": good["arch_version"]})
    card_path(q).write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(q)


def test_non_tensor_pickle_is_refused(tmp_path):
    """weights_only=True: a pickle with arbitrary objects is refused even when its sha256 matches."""
    import hashlib

    p = tmp_path / "evil.pt"
    torch.save({"x": object.__new__(type("Evil", (), {}))} if False else {"fn": print}, p)
    m = create_model("cihmlc", "demo")
    save_checkpoint(m, tmp_path / "ok.pt", {})
    card = json.loads((tmp_path / "ok.json").read_text())
    card["sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()
    card_path(p).write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(p)


def test_missing_card(tmp_path):
    p = tmp_path / "x.pt"
    torch.save({}, p)
    with pytest.raises(CheckpointError, match="model card missing"):
        load_checkpoint(p)


def test_save_interrupted_between_weights_and_card_keeps_previous(tmp_path, monkeypatch):
    """A kill after the new weights are renamed in but before the new card is: the old pair still loads."""
    import hcview.models.checkpoint as ck

    torch.manual_seed(0)
    old = create_model("cihmlc", "demo").eval()
    p = save_checkpoint(old, tmp_path / "c.pt", {"metrics": {"val": {"loss": 1.0}}})
    torch.manual_seed(1)
    new = create_model("cihmlc", "demo").eval()

    def killed(*a, **k):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(ck, "atomic_write_json", killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(new, p, {"metrics": {"val": {"loss": 0.5}}})
    monkeypatch.undo()
    loaded, card = load_checkpoint(p)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x)["labels"], old(x)["labels"])
    assert card["metrics"]["val"]["loss"] == 1.0
    # the next complete save cleans up
    save_checkpoint(new, p, {})
    assert not (tmp_path / "c.pt.prev").exists()
    loaded, _ = load_checkpoint(p)
    with torch.no_grad():
        assert torch.equal(loaded(x)["labels"], new(x)["labels"])


def test_checkpoint_of_an_older_architecture_is_refused(tmp_path):
    """CIHMLC's head changed to the authors' Conv -> ReLU -> BN (version 2): a version-1 checkpoint has the same
    tensors but computes something else, so it is refused with one line."""
    p = save_checkpoint(create_model("cihmlc", "demo"), tmp_path / "c.pt", {})
    card = json.loads(card_path(p).read_text())
    assert card["arch_version"] == 2
    card["arch_version"] = 1
    card_path(p).write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="architecture version 1; this build has version 2"):
        load_checkpoint(p)
