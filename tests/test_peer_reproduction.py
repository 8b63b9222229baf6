"""``evaluate --predictions P --truth T --id-column`` reproduces a peer's published per-label AUROCs: the bundled
CheXNet reproduction (22,433 NIH test predictions, published AUROCs) scored against a separate truth file."""
import gzip
import json

import pandas as pd
import pytest

from hcview.cli import main
from hcview.paths import samples_dir

PEER = samples_dir() / "peer-chexnet"
ARGS = ["--predictions", str(PEER / "predictions.csv.gz"), "--truth", str(PEER / "truth.csv.gz"),
        "--id-column", "Image Index", "--score-pattern", "prob_{label}", "--truth-pattern", "{label}"]


def test_peer_published_aurocs_reproduced(capsys):
    rc = main(["evaluate", *ARGS, "--published", str(PEER / "published_aucs.csv"), "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    res = json.loads(out)
    assert res["join"] == {"id_column": "Image Index", "matched": 22433, "predictions_without_truth": 0,
                           "truth_without_predictions": 0}
    pub = res["published"]
    assert pub["labels_compared"] == 14 and not pub["published_only"] and not pub["reproduced_only"]
    diffs = {lab: abs(r["difference"]) for lab, r in pub["per_label"].items()}
    # the label-version difference documented in the pack's README: Pneumonia only
    assert diffs.pop("Pneumonia") == pytest.approx(0.0048, abs=5e-4)
    assert max(diffs.values()) < 5e-4, diffs
    assert res["summary"]["mean_auroc"] == pytest.approx(0.8379, abs=1e-4)


def test_published_table_printed_and_errors(tmp_path, capsys):
    rc = main(["evaluate", *ARGS, "--published", str(PEER / "published_aucs.csv")])
    out, _ = capsys.readouterr()
    assert rc == 0 and "published reproduced difference" in " ".join(out.split())
    assert "14 labels compared" in out
    bad = tmp_path / "aucs.csv"
    bad.write_text("label,auc\nAtelectasis,1.7\n")
    rc = main(["evaluate", *ARGS, "--published", str(bad)])
    _, err = capsys.readouterr()
    assert rc == 2 and err.count("\n") == 1 and "outside [0, 1]" in err
    bad.write_text("finding,score\nAtelectasis,0.7\n")
    rc = main(["evaluate", *ARGS, "--published", str(bad)])
    _, err = capsys.readouterr()
    assert rc == 2 and "needs a 'label' and an 'auc'" in err


def test_gzip_bomb_refused_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HCVIEW_MAX_INPUT_MB", "1")
    bomb = tmp_path / "preds.csv.gz"
    with gzip.open(bomb, "wb") as f:
        f.write(b"Image Index,prob_A\n" + b"x" * (3 * 1024 * 1024))
    assert bomb.stat().st_size < 64 * 1024
    rc = main(["evaluate", "--predictions", str(bomb), "--truth", str(PEER / "truth.csv.gz"),
               "--id-column", "Image Index"])
    _, err = capsys.readouterr()
    assert rc == 2 and err.count("\n") == 1 and "inflates to more than the 1 MB input limit" in err
    trunc = tmp_path / "cut.csv.gz"
    trunc.write_bytes((PEER / "truth.csv.gz").read_bytes()[:5000])
    rc = main(["evaluate", "--predictions", str(trunc), "--truth", str(PEER / "truth.csv.gz"),
               "--id-column", "Image Index"])
    _, err = capsys.readouterr()
    assert rc == 2 and "truncated gzip" in err


def test_pack_files_are_what_the_readme_says():
    preds = pd.read_csv(PEER / "predictions.csv.gz")
    truth = pd.read_csv(PEER / "truth.csv.gz")
    assert len(preds) == len(truth) == 22433
    assert set(preds["Image Index"]) == set(truth["Image Index"])
    assert set(truth.columns) - {"Image Index"} == {c[len("prob_"):] for c in preds.columns if c.startswith("prob_")}


@pytest.mark.parametrize("text,needle", [
    ("Label,AUC,auroc\nA,0.7,0.1\n", "2 AUROC columns"),
    ("label,LABEL,auc\nA,B,0.7\n", "2 label columns"),
    ("label,auc\nA,0.7,extra\n", "more fields than the header"),
    ("label,auc\n,0.6\n", "has no label"),
])
def test_ambiguous_published_files_are_one_line_errors(tmp_path, capsys, text, needle):
    bad = tmp_path / "aucs.csv"
    bad.write_text(text)
    rc = main(["evaluate", *ARGS, "--published", str(bad)])
    _, err = capsys.readouterr()
    assert rc == 2 and err.count("\n") == 1 and needle in err, err


def test_published_label_without_a_reproduced_auroc_is_named(tmp_path, capsys):
    preds = pd.DataFrame({"id": ["a", "b", "c", "d"], "A_Pred": [0.1, 0.9, 0.2, 0.8], "C_Pred": [0.5, 0.4, 0.3, 0.2]})
    truth = pd.DataFrame({"id": ["a", "b", "c", "d"], "A_GT": [0, 1, 0, 1], "C_GT": [0, 0, 0, 0]})
    preds.to_csv(tmp_path / "p.csv", index=False)
    truth.to_csv(tmp_path / "t.csv", index=False)
    (tmp_path / "pub.csv").write_text("label,auc\nA,0.9\nC,0.7\n")
    base = ["evaluate", "--predictions", str(tmp_path / "p.csv"), "--truth", str(tmp_path / "t.csv"),
            "--id-column", "id", "--published"]
    assert main([*base, str(tmp_path / "pub.csv"), "--json"]) == 0
    pub = json.loads(capsys.readouterr().out)["published"]
    assert pub["labels_compared"] == 1 and pub["undefined_here"] == ["C"]
    (tmp_path / "pub.csv").write_text("label,auc\nC,0.7\n")
    rc = main([*base, str(tmp_path / "pub.csv")])
    _, err = capsys.readouterr()
    assert rc == 2 and "C have no AUROC on these files (one class only)" in err
    assert main([*base, ""]) == 2 and "--published is empty" in capsys.readouterr().err


def test_concatenated_gzip_members_are_all_read_and_trailing_bytes_refused(tmp_path, capsys):
    lines = (PEER / "predictions.csv.gz").read_bytes()
    text = gzip.decompress(lines).decode().splitlines(keepends=True)
    two = tmp_path / "two.csv.gz"
    two.write_bytes(gzip.compress("".join(text[:101]).encode()) + gzip.compress("".join(text[101:201]).encode()))
    rc = main(["evaluate", "--predictions", str(two), *ARGS[2:], "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert json.loads(out)["join"]["matched"] == 200
    junk = tmp_path / "junk.csv.gz"
    junk.write_bytes(gzip.compress("".join(text[:101]).encode()) + b"trailing")
    rc = main(["evaluate", "--predictions", str(junk), *ARGS[2:]])
    _, err = capsys.readouterr()
    assert rc == 2 and err.count("\n") == 1 and "bytes after the end of the gzip data" in err
