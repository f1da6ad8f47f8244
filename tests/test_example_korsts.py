"""examples/korsts_similarity.py end to end on a slice of KorSTS, as a user runs it."""

import re

import pytest

from conftest import SHARED_DATA, run_example


def test_quick_mode_on_a_slice(tmp_path, minilm_one_layer):
    source = SHARED_DATA / "korsts"
    if not (source / "sts-train.tsv").exists():
        pytest.skip(f"KorSTS not found at {source}")
    data = tmp_path / "korsts"
    data.mkdir()
    for name, rows in (("sts-train.tsv", 24), ("sts-test.tsv", 40)):
        lines = (source / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (data / name).write_text("".join(lines[:rows + 1]), encoding="utf-8")
    done = run_example("korsts_similarity.py", "--quick", "--data-dir", str(data),
                       "--max-seq-len", "32", "--model", str(minilm_one_layer),
                       tmp_path=tmp_path, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "KorSTS: 24 training pairs, 20 test pairs" in out  # --quick: every second test pair
    rows = dict(re.findall(r"^  (bi-encoder, zero-shot|bi-encoder, trained|cross-encoder, \w+ ?\w*)"
                           r"\s+(-?\d+\.\d+)\s+-?\d+\.\d+$", out, flags=re.M))
    # --quick's cross-encoder reads the mean of the token vectors, not MiniLM's unused pooler.
    assert set(rows) == {"bi-encoder, zero-shot", "bi-encoder, trained",
                         "cross-encoder, mean pooling"}
    assert "Semantic search over" in out and "한 남자가 기타를 치고 있다." in out
