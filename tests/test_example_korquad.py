"""examples/korquad_qa.py end to end on a tiny slice (a subprocess, as a user runs it; no network).
Scores at this size are meaningless; the pipeline, the report and the saved checkpoint are
checked."""

import json

import pytest
from conftest import SHARED_DATA, run_example

KORQUAD_DEV = SHARED_DATA / "korquad" / "KorQuAD_v1.0_dev.json"


@pytest.mark.skipif(not KORQUAD_DEV.exists(), reason=f"{KORQUAD_DEV} not found")
def test_korquad_quick_tiny_slice(tmp_path, minilm_one_layer):
    result = run_example("korquad_qa.py", "--quick", "--data-dir", str(KORQUAD_DEV.parent),
                         "--train-questions", "6", "--eval-questions", "3", "--steps", "2",
                         "--save", str(tmp_path / "saved"), "--preset", str(minilm_one_layer),
                         tmp_path=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "split by article into train" in out
    assert f"model: {minilm_one_layer}" in out
    assert "windows: max_seq_len 64, doc_stride 16" in out
    assert "trained: 2 steps of 8 windows" in out
    assert out.count("  Q: ") == 3 and out.count("gold: ") == 3
    assert "test questions: 3" in out
    assert "KorQuAD 1.0 official metric: EM " in out and " F1 " in out
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["architectures"] == ["BertForQuestionAnswering"]


def test_missing_data_fails_fast_with_a_hint(tmp_path):
    result = run_example("korquad_qa.py", "--data-dir", str(tmp_path), tmp_path=tmp_path)
    assert result.returncode != 0
    assert "KorQuAD file not found" in result.stderr and "--quick" in result.stderr
