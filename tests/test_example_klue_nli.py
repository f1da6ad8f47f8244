"""examples/klue_nli.py end to end on a tiny slice, from the MiniLM checkpoint (offline):
KLUE-NLI with its 80/20 split of dev, and KorNLI with the pair-in export. Accuracy at this size
is meaningless; the pipeline, the names in the report and the saved files are checked."""

import re

import pytest
from conftest import SHARED_DATA, run_example


def test_klue_nli_quick_tiny_slice(tmp_path, minilm_one_layer):
    if not (SHARED_DATA / "klue-nli" / "klue-nli-v1.1_dev.json").exists():
        pytest.skip("KLUE-NLI data not found")
    result = run_example("klue_nli.py", "--quick", "--data-dir", str(SHARED_DATA / "klue-nli"),
                         "--limit", "16", "--batch-size", "8",
                         "--max-seq-len", "32", "--no-progress", "--preset",
                         str(minilm_one_layer), tmp_path=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "QUICK MODE" in out and "split 80/20" in out
    assert "train: 16 pairs, test: 4 pairs" in out
    accuracy = float(re.search(r"test accuracy:  ([0-9.]+) on 4 pairs", out).group(1))
    assert 0.0 <= accuracy <= 1.0
    assert "published, not measured here: 81.63" in out
    assert out.count("  -> ") == 3 and "gold " in out  # named predictions
    assert any(f"-> {name} (" in out for name in ("entailment", "neutral", "contradiction"))


@pytest.mark.slow  # a second MiniLM run (~1 minute idle); the KLUE one covers the default suite
def test_kornli_quick_saves_model_and_pair_export(tmp_path, minilm_path):
    if not (SHARED_DATA / "kornli" / "xnli.dev.ko.tsv").exists():
        pytest.skip("KorNLI data not found")
    result = run_example("klue_nli.py", "--task", "kornli", "--quick",
                         "--data-dir", str(SHARED_DATA / "kornli"), "--limit", "12",
                         "--batch-size", "6", "--max-seq-len", "32", "--no-progress", "--save",
                         str(tmp_path / "out"), tmp_path=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "trained on xnli.dev.ko.tsv, tested on xnli.test.ko.tsv" in out
    assert "published, not measured here" not in out
    assert (tmp_path / "out" / "nli.keras").is_file()
    assert (tmp_path / "out" / "export" / "saved_model.pb").is_file()
