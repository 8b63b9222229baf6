"""One parametrized test over every registry entry and variant (timm style), on tiny inputs."""
import pytest
import torch

from hcview.errors import ModelError
from hcview.models import create_model, get_spec, list_models
from hcview.models.base import dropout_modules

CASES = [(m, v) for m in list_models() for v in get_spec(m).variants]


def _inputs(model_id, n=2, size=64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, size, size, generator=g)
    kw = {}
    if "meta" in get_spec(model_id).inputs:
        kw = {"meta": torch.randn(n, 3, generator=g), "meta_mask": torch.tensor([[1, 0, 1], [1, 1, 1]], dtype=torch.bool)[:n],
              "text": torch.tensor([[5, 9, 0, 0], [7, 0, 0, 0]])[:n]}
    return x, kw


def test_registry_has_the_four_papers():
    assert set(list_models()) == {"hcnet", "cihmlc", "medfusionnet", "resmtnet"}
    for m in list_models():
        assert set(get_spec(m).variants) == {"paper", "demo"}


@pytest.mark.parametrize("model_id,variant", CASES)
def test_entry(model_id, variant):
    torch.manual_seed(0)
    spec = get_spec(model_id)
    model = create_model(model_id, variant, pretrained=False)
    ls = spec.label_space(variant)
    x, kw = _inputs(model_id)

    # output shapes match the label space (head sizes come from data)
    model.train()
    out = model(x, **kw)
    assert list(out) == [h.name for h in ls.heads]
    for h in ls.heads:
        assert out[h.name].shape == (2, h.size), h.name
        if h.kind == "regression":
            assert ((out[h.name] >= 0) & (out[h.name] <= 1)).all()

    # backward gives finite gradients, and reaches the first layer
    sum(o.sum() for o in out.values()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    assert sum(g is not None and g.abs().sum() > 0 for g in grads) > len(grads) // 2

    # a dropout module exists for MC dropout, and it sits above the features
    drops = dropout_modules(model)
    assert drops, "no dropout module for MC dropout"
    model.eval()
    for d in drops:
        d.train()
    with torch.no_grad():
        f1 = model.forward_features(x, **kw)
        f2 = model.forward_features(x, **kw)
        assert torch.equal(f1, f2), "dropout below forward_features"
        torch.manual_seed(1)
        h1 = model.forward_head(f1)
        torch.manual_seed(2)
        h2 = model.forward_head(f1)
        key = ls.heads[0].name
        assert not torch.equal(h1[key], h2[key]), "forward_head is not stochastic with dropout on"
    model.eval()

    # the Grad-CAM layer resolves by name, and cam_split agrees with a hook on that layer
    layer = model.get_submodule(spec.cam_layer)
    seen = {}
    hook = layer.register_forward_hook(lambda m, i, o: seen.__setitem__("act", o))
    with torch.no_grad():
        ref = model(x, **kw)
        act, top = model.cam_split(x, **kw)
        out2 = top(act)
    hook.remove()
    assert torch.allclose(seen["act"], act, atol=1e-5)
    for k in ref:
        assert torch.allclose(ref[k], out2[k], atol=1e-4), k


def test_medfusionnet_modalities_are_masked_not_zero_filled():
    torch.manual_seed(0)
    m = create_model("medfusionnet", "demo").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        img_only = m(x)["labels"]
        # all features marked missing == no metadata at all (masked out of attention)
        masked = m(x, meta=torch.full((1, 3), 123.0), meta_mask=torch.zeros(1, 3, dtype=torch.bool))["labels"]
        zero_filled = m(x, meta=torch.zeros(1, 3), meta_mask=torch.ones(1, 3, dtype=torch.bool))["labels"]
        with_text = m(x, text=torch.tensor([[4, 8, 15, 0]]))["labels"]
        pad_text = m(x, text=torch.tensor([[0, 0, 0, 0]]))["labels"]
    assert torch.allclose(img_only, masked, atol=1e-6)
    assert not torch.allclose(img_only, zero_filled, atol=1e-6)
    assert not torch.allclose(img_only, with_text, atol=1e-6)
    assert torch.allclose(img_only, pad_text, atol=1e-6)


def test_head_sizes_follow_the_taxonomy():
    from hcview.models.labels import from_dict

    ls = from_dict({"name": "t", "kind": "taxonomy3", "tree": [
        {"disease": "a", "anatomy": "X", "category": "c1"}, {"disease": "b", "anatomy": "Y", "category": "c2"},
        {"disease": "c", "anatomy": "Z", "category": "c3"}]})
    m = create_model("hcnet", "demo", label_space=ls).eval()
    out = m(torch.randn(1, 3, 32, 32))
    assert {k: v.shape[1] for k, v in out.items()} == {"anatomy": 3, "category": 3, "disease": 3}


def test_paper_label_spaces_match_notes():
    hc = get_spec("hcnet").label_space("paper")
    assert hc.head_sizes == {"anatomy": 4, "category": 2, "disease": 40}
    cih = get_spec("cihmlc").label_space("paper")
    assert cih.head_sizes == {"labels": 21} and len(cih.edges) == 20
    assert cih.heads[0].labels[14] == "Uncertain" and cih.heads[0].labels[15] == "Abnormal"
    assert ("Consolidation", "Pneumonia") in cih.edges


def test_unknown_model_and_variant_are_one_line_errors():
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        get_spec("nope")
    with pytest.raises(ModelError, match="no variant 'huge'"):
        create_model("hcnet", "huge")


def test_pretrained_falls_back_to_random_with_notice(monkeypatch):
    monkeypatch.setenv("TORCH_HOME", "/nonexistent-hcview-test")
    monkeypatch.setenv("HCVIEW_ALLOW_DOWNLOAD", "0")
    m = create_model("hcnet", "paper")  # paper asks for ImageNet weights
    assert m.weights.used_pretrained is False
    assert "random initialisation" in m.weights.notice


def test_small_backbones_are_scaled_down_family_members():
    from hcview.models import backbones

    feats, wr, width = backbones.efficientnet("efficientnet-small", pretrained=True)
    assert width == 640 and not wr.used_pretrained and "random initialisation" in wr.notice
    assert feats(torch.randn(1, 3, 64, 64)).shape == (1, 640, 2, 2)
    n_small = sum(p.numel() for p in feats.parameters())
    n_b0 = sum(p.numel() for p in backbones.efficientnet("efficientnet_b0", pretrained=False)[0].parameters())
    assert n_small < n_b0 / 4


def test_hcnet_flat_baseline_one_head_and_parents_sum_its_diseases():
    spec = get_spec("hcnet")
    ls = spec.label_space("demo")
    flat = create_model("hcnet", "demo", flat=True).eval()
    assert list(flat.heads) == ["disease"]
    out = flat(torch.randn(3, 3, 64, 64))
    assert list(out) == [h.name for h in ls.heads]
    p = torch.softmax(out["disease"], 1)
    normal = [i for i, d in enumerate(ls.head("disease").labels) if ls.parent_of(d)[1] == "normal"]
    cat = torch.softmax(out["category"], 1)
    assert torch.allclose(cat[:, ls.head("category").labels.index("normal")], p[:, normal].sum(1), atol=1e-5)
    assert torch.allclose(torch.softmax(out["anatomy"], 1), torch.ones(3, 1))
    # same backbone as the hierarchical model: only the heads differ
    hier = create_model("hcnet", "demo")
    trunk = lambda m: {k: v.shape for k, v in m.state_dict().items() if not k.startswith("heads.")}  # noqa: E731
    assert trunk(flat) == trunk(hier)


def test_catalog_snapshot_matches_the_registry():
    """catalog_snapshot.json (what the first page reads without torch) is the registry's own; after changing a
    paper's spec, run ``python -m hcview models --snapshot``."""
    import json

    from hcview.models.cards import SNAPSHOT, catalog_rows
    from hcview.models.catalog import catalog, snapshot

    assert json.loads(SNAPSHOT.read_text()) == json.loads(json.dumps(snapshot()))
    assert catalog_rows() == json.loads(json.dumps(catalog()))
