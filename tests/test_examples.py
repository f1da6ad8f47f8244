"""The examples run end to end: quick mode on a tiny slice, and a fast, clear offline failure.

Each example runs in a subprocess (as a user runs it). The slices are tiny so the whole file
takes well under two minutes on 2 cores; accuracy at this size is meaningless, only the
pipeline and the printed report are checked.
"""

import pytest
from conftest import EXAMPLES, run_example


def test_nsmc_quick_tiny_slice(tmp_path):
    result = run_example("nsmc_sentiment.py", "--quick", "--limit", "300", "--epochs", "1",
                         tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "NOT pretrained" in out
    assert "test loss, test acc:" in out
    assert "test accuracy:" in out and "examples/s" in out and "wall time:" in out
    assert "batches:        bucketed by length" in out
    # One tutorial-style line per sample review, whichever sign the tiny model picks.
    assert out.count("확률로") == 4
    assert "리뷰입니다." in out


def test_nsmc_quick_with_masked_lm_first_fixed_length_and_save(tmp_path):
    # Masked-LM pretraining first, the tutorial's fixed padding, and --save writing the
    # .keras model and the export: one run (the default bucketing is the run above).
    result = run_example("nsmc_sentiment.py", "--quick", "--limit", "200", "--epochs", "1",
                         "--mlm-epochs", "1", "--fixed-length", "--no-progress",
                         "--save", str(tmp_path / "out"), tmp_path=tmp_path, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "Masked-LM pretraining: 1 epoch(s) on 160 reviews" in out  # the training rows
    assert "masked-LM:      1 epoch(s) first, last loss" in out
    assert "fine-tuning:    1 epoch(s)" in out and "test accuracy:" in out
    assert "batches:        fixed 64" in out
    assert (tmp_path / "out" / "nsmc.keras").is_file()
    assert (tmp_path / "out" / "export" / "saved_model.pb").is_file()


def test_nsmc_offline_default_fails_fast_with_hint(tmp_path):
    # No --data-dir, no --quick: the default mode downloads NSMC. This machine has no network
    # (and the cache is an empty temporary directory), so it must stop at once with a short
    # message naming the three ways out, not a traceback. A process of its own: what a user
    # sees from the first line of a start, not from the suite's warm worker.
    result = run_example("nsmc_sentiment.py", tmp_path=tmp_path, timeout=60, fresh=True)
    if result.returncode == 0:
        pytest.skip("network available: the default mode downloaded NSMC")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    for flag in ("--data-dir", "--preset", "--quick"):
        assert flag in result.stderr


def test_nsmc_missing_preset_fails_with_hint(tmp_path):
    # Data given locally, but a preset directory that does not exist.
    result = run_example("nsmc_sentiment.py", "--data-dir", str(EXAMPLES / "data" / "nsmc_quick"),
                         "--preset", str(tmp_path / "no-such-model"), "--limit", "50",
                         tmp_path=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "no-such-model" in result.stderr
    assert "--preset" in result.stderr and "--quick" in result.stderr


def test_nsmc_local_data_and_pretrained_preset(tmp_path, minilm_one_layer):
    # The non-quick path as a user without Hub access runs it: local NSMC files and a local
    # Hugging Face checkpoint directory (MiniLM's first layer; any BERT directory works).
    result = run_example("nsmc_sentiment.py", "--data-dir", str(EXAMPLES / "data" / "nsmc_quick"),
                         "--preset", str(minilm_one_layer), "--limit", "128", "--epochs", "1",
                         "--max-seq-len", "64", "--no-progress", tmp_path=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "NOT pretrained" not in out
    assert f"model:          {minilm_one_layer}" in out
    assert "test loss, test acc:" in out and out.count("확률로") == 4
