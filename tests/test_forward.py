"""One forward path: the trainer's validation metrics and the stored evaluation agree; the predictions
table reads back (reader beside writer) to the arrays it was written from."""
import numpy as np
import pytest

from hcview.data.datasets import build_dataset
from hcview.infer.evaluate import (evaluate_model, head_arrays, load_evaluation, predictions_frame,
                                   read_predictions, stored_signature)
from hcview.train.forward import collect, eval_loader, probabilities, report_inputs
from hcview.train.trainer import simple_metrics


@pytest.fixture(scope="module")
def hcnet_outputs():
    from hcview.infer import predictor

    pred = predictor.get_predictor("hcnet", "demo", fresh=True)  # evaluate_model below gets this one too
    ds = build_dataset("sample:brain-mri", pred.label_space, "test", pred.input_size, pred.spec.mean, pred.spec.std,
                       model_id="hcnet")
    yield pred, ds, collect(pred.model, eval_loader(ds, 16), pred.spec, pred.device, lock=pred.lock)
    predictor._CACHE.clear()  # later tests build their predictors from their own checkpoints


def test_collect_keeps_dataset_order_ids_and_paths(hcnet_outputs):
    pred, ds, out = hcnet_outputs
    assert out.ids == [str(i) for i in ds.ids] and len(out.paths) == len(ds) and all(out.paths)
    assert np.isnan(out.loss)  # no criterion given
    probs = probabilities(out.logits, pred.label_space)
    for h in pred.label_space.heads:
        assert probs[h.name].shape == (len(ds), h.size) and np.allclose(probs[h.name].sum(1), 1)


def test_validation_metrics_equal_the_stored_evaluation(hcnet_outputs, tmp_path, tmp_var_dir):
    pred, ds, out = hcnet_outputs
    val = simple_metrics(pred.label_space, out.targets, out.logits, out.reg_mask)
    seen = []
    stored = evaluate_model("hcnet", "demo", "sample:brain-mri", "test", tmp_path / "ev",
                            progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(ds), len(ds)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    for h in ("anatomy", "category", "disease"):
        assert stored["heads"][h]["accuracy"] == pytest.approx(val[f"val_{h}_acc"])
    assert stored["n_cases"] == len(out.ids)


def test_predictions_table_reads_back(hcnet_outputs, tmp_path):
    pred, ds, out = hcnet_outputs
    ls = pred.label_space
    probs = probabilities(out.logits, ls)
    y_true, _ = report_inputs(ls, out.targets, probs, out.reg_mask)
    y_true["disease"][0] = -1  # an unknown truth is written as '' and read back as -1
    predictions_frame(ls, out.ids, out.paths, y_true, probs).to_csv(tmp_path / "predictions.csv", index=False)
    table = read_predictions(tmp_path / "predictions.csv")
    assert table["id"].tolist() == out.ids
    for h in ls.heads:
        y, s = head_arrays(table, h)
        assert (y == y_true[h.name]).all() and np.allclose(s, probs[h.name])
    assert stored_signature(tmp_path) is None  # no metrics.json: nothing stored
    with pytest.raises(Exception, match="no stored evaluation"):
        load_evaluation(tmp_path)
