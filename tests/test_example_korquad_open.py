"""examples/korquad_open.py end to end on a slice of articles (a subprocess, as a user runs it;
no network). Scores at this size are meaningless; the stages, the report and the saved and
saved passage index are checked."""

import pytest
from conftest import SHARED_DATA, run_example

from bertcls import PassageIndex

KORQUAD_DEV = SHARED_DATA / "korquad" / "KorQuAD_v1.0_dev.json"


@pytest.mark.skipif(not KORQUAD_DEV.exists(), reason=f"{KORQUAD_DEV} not found")
def test_korquad_open_quick_slice(tmp_path, minilm_one_layer):
    args = ["--quick", "--data-dir", str(KORQUAD_DEV.parent), "--articles", "8", "--steps",
            "2", "--train-questions", "4", "--tune-questions", "2", "--test-questions", "2",
            "--index", str(tmp_path / "corpus.npz"), "--embedder", str(minilm_one_layer),
            "--reader", str(minilm_one_layer)]
    result = run_example("korquad_open.py", *args, tmp_path=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert f"models: embedder {minilm_one_layer}, reader {minilm_one_layer}" in out
    assert "articles left out: their questions have no answer in it" in out
    assert "embedded and saved to" in out
    assert "reader: 2 steps of 8 windows" in out and "synthetic negatives" in out
    assert "null_threshold " in out and "reader NoAns accuracy: 'no answer' on " in out
    assert "(not in the corpus)" in out
    assert "test: 2 answerable + 1 unanswerable questions" in out
    assert "retrieval recall@k: @1 " in out and "@10 " in out
    assert ("BM25 baseline recall@k (bm25s): @1 " in out
            or "BM25 baseline: skipped (pip install bm25s)" in out)
    assert "KorQuAD 1.0 EM " in out and "NoAns accuracy " in out
    index = PassageIndex.load(str(tmp_path / "corpus.npz"))
    assert len(index) > 8 and index.embeddings.shape[1] == 384


def test_missing_data_fails_fast_with_a_hint(tmp_path):
    result = run_example("korquad_open.py", "--data-dir", str(tmp_path), tmp_path=tmp_path)
    assert result.returncode != 0
    assert "KorQuAD file not found" in result.stderr and "--data-dir" in result.stderr
