"""examples/klue_ner.py end to end: quick mode on a tiny slice, a local preset with local data,
and clear, fast failures (no network, a --data-dir without the KLUE-NER file).

Each run is a subprocess, as a user runs it. The slices are tiny so that each run takes seconds;
scores at this size are meaningless, only the pipeline and the printed report are checked.
"""

import pathlib
import shutil
import socket

import pytest
from conftest import EXAMPLES, run_example

QUICK_FILE = EXAMPLES / "data" / "klue_ner_quick" / "klue-ner-v1.1_dev_first2000.tsv"
GOLDEN_KLUE_TINY = pathlib.Path(__file__).resolve().parent / "golden" / "klue_tiny" / "safetensors"


def assert_report(out):
    assert "Alignment ceiling on test" in out
    assert "test entity P / R / F1 (micro):" in out
    assert "entity F1 micro, seqeval strict IOB2:" in out
    assert "entity F1 micro, seqeval default:" in out
    assert "klue_entity_f1:" in out and "KLUE reports 83.97" in out
    assert "klue_char_f1:" in out and "KLUE reports 91.39" in out
    assert "char F1 without O (not KLUE's):" in out
    assert "examples/s" in out and "wall time:" in out
    # Tagged test sentences: gold and predicted markup for each one shown.
    assert "Tagged test sentences" in out
    assert out.count("  gold: ") == out.count("  pred: ") >= 1
    assert "<" in out.split("Tagged test sentences")[1]  # gold entities are marked <text:TYPE>


def test_klue_ner_quick_tiny_slice(tmp_path):
    result = run_example("klue_ner.py", "--quick", "--limit", "200", "--epochs", "1", "--save",
                         str(tmp_path / "saved"), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "NOT pretrained" in out
    assert "train: 160 sentences" in out and "test: 40 sentences" in out
    assert "WordPiece vocabulary" in out
    assert_report(out)
    assert (tmp_path / "saved" / "klue_ner.keras").is_file()


@pytest.mark.skipif(not (GOLDEN_KLUE_TINY / "model.safetensors").is_file(),
                    reason="tests/golden/klue_tiny is missing")
def test_klue_ner_local_preset_and_official_splits(tmp_path):
    # The default (non-quick) path without network: --data-dir with both official files and
    # --preset a local Hugging Face directory (a tiny klue-shaped BERT; its vocabulary is
    # learned here, as the checkpoint ships none).
    from bertcls import read_klue_ner, save_vocabulary, train_vocabulary

    data = tmp_path / "klue"
    data.mkdir()
    for name in ("klue-ner-v1.1_train.tsv", "klue-ner-v1.1_dev.tsv"):
        shutil.copy(QUICK_FILE, data / name)
    preset = tmp_path / "preset"
    shutil.copytree(GOLDEN_KLUE_TINY, preset)
    texts = [e.text for e in read_klue_ner(QUICK_FILE)[:200]]
    save_vocabulary(train_vocabulary(texts, vocabulary_size=1000), preset)

    result = run_example("klue_ner.py", "--data-dir", str(data), "--preset", str(preset),
                         "--limit", "80", "--epochs", "1", "--max-seq-len", "64",
                         tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "NOT pretrained" not in out
    assert "official splits" in out
    assert "train: 80 sentences" in out and "test: 20 sentences" in out
    assert f"model:              {preset}" in out
    assert_report(out)


def network_available(host="raw.githubusercontent.com", port=443):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return True
    except OSError:
        return False


def test_klue_ner_offline_default_fails_fast_with_hint(tmp_path):
    # No --data-dir, no --quick: the default mode downloads KLUE-NER. Without network (and
    # with an empty temporary cache) it must stop at once with a short message naming the
    # three ways out, not a traceback.
    if network_available():
        pytest.skip("network available: the default mode would download KLUE-NER")
    result = run_example("klue_ner.py", tmp_path=tmp_path, timeout=60)
    if result.returncode == 0:
        pytest.skip("network available: the default mode downloaded KLUE-NER")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "raw.githubusercontent.com/KLUE-benchmark/KLUE" in result.stderr
    for flag in ("--data-dir", "--preset", "--quick"):
        assert flag in result.stderr
    assert not list((tmp_path / "bertcls-cache").rglob("*.part"))  # no half-written files


def test_klue_ner_data_dir_without_file_fails_clearly(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_example("klue_ner.py", "--data-dir", str(empty), tmp_path=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "KLUE-NER file not found" in result.stderr
    assert str(empty / "klue-ner-v1.1_dev.tsv") in result.stderr
    assert "--data-dir" in result.stderr
