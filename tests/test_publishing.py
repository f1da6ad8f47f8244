"""Publishing: the sentence embedder's and the span reader's save_pretrained -> from_preset
round trips on every family (sentence-transformers loads the embedder's directory to the same
embeddings), the model card's Hub metadata, and `push_to_hub` up to the upload call (no
network here: huggingface_hub's `HfApi` is replaced by a recorder)."""

import json
import os

import keras
import numpy as np
import pytest
from conftest import requires_refvenv, run_reference
from test_family_tasks import BUILDERS, VOCAB, randomize

from bertcls import BertClassifier, BertQuestionAnswerer, FeatureEncoder, PresetError, \
    SentenceEmbedder
from bertcls.tasks.model_card import model_card

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXTS = ["good movie", "bad movies", "kim went to seoul", "the movie"]
POOLINGS = {"bert": "mean", "roberta": "cls", "xlm-roberta": ["mean", "max"],
            "electra": "mean", "albert": "max", "distilbert": "mean"}


@pytest.fixture(scope="module")
def embedders(tmp_path_factory):
    """One saved embedder per family (random weights, varied pooling and normalisation)."""
    tmp_path = tmp_path_factory.mktemp("embedders")
    entries = []
    for i, family in enumerate(sorted(BUILDERS)):
        model = SentenceEmbedder(BUILDERS[family](), pooling=POOLINGS[family],
                                 normalize=i % 2 == 0,
                                 encoder=FeatureEncoder(VOCAB, max_seq_len=10))
        randomize(model, seed=i)
        directory = model.save_pretrained(str(tmp_path / family))
        expected = str(tmp_path / f"{family}.npz")
        np.savez(expected, texts=np.array(TEXTS), embeddings=model.embed(TEXTS))
        entries.append({"directory": directory, "expected": expected, "family": family,
                        "normalize": model.normalize, "pooling": model.pooling})
    return entries


def test_embedder_round_trip_on_every_family(embedders):
    for entry in embedders:
        loaded = SentenceEmbedder.from_preset(entry["directory"])
        np.testing.assert_allclose(loaded.embed(TEXTS), np.load(entry["expected"])["embeddings"],
                                   atol=1e-6, err_msg=entry["family"])
        assert loaded.normalize == entry["normalize"] and loaded.pooling == entry["pooling"]
        assert loaded.encoder.max_seq_len == 10
        assert type(loaded.backbone) is type(BUILDERS[entry["family"]]())


@requires_refvenv
def test_sentence_transformers_loads_the_embedder(embedders, tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(embedders))
    proc = run_reference(os.path.join(REPO, "tests", "golden", "check_st_pretrained.py"),
                         manifest)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, proc.stderr[-3000:]
    results = json.loads(lines[0][len("RESULT"):])
    for entry in embedders:
        result = results[entry["directory"]]
        assert result["max_diff"] <= 1e-5, (entry["family"], result)
        modules = ["Transformer", "Pooling"] + (["Normalize"] if entry["normalize"] else [])
        assert result["modules"] == modules, result


def test_span_reader_round_trip_on_every_family(tmp_path):
    encoder = FeatureEncoder(VOCAB, max_seq_len=12)
    x = {k: np.asarray(v) for k, v in encoder((["kim went"], ["to seoul the movie"])).items()}
    x["token_type_ids"] = np.zeros_like(x["token_type_ids"])  # RoBERTa has one token type
    for i, family in enumerate(sorted(BUILDERS)):
        model = BertQuestionAnswerer(BUILDERS[family](), encoder=encoder)
        randomize(model, seed=10 + i)
        loaded = BertQuestionAnswerer.from_preset(
            model.save_pretrained(str(tmp_path / family)))
        assert loaded.encoder.max_seq_len == 12
        np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)),
                                   keras.ops.convert_to_numpy(model(x)), atol=1e-6,
                                   err_msg=family)


def front_matter(text):
    assert text.startswith("---\n")
    return text.split("---\n")[1]


def test_save_pretrained_writes_a_model_card(tmp_path):
    model = BertClassifier(BUILDERS["roberta"](), labels=["부정", "긍정"],
                           encoder=FeatureEncoder(VOCAB, max_seq_len=8))
    directory = model.save_pretrained(
        str(tmp_path / "nsmc"), base_model="klue/roberta-base", language="ko",
        license="cc-by-sa-4.0",
        results=[{"dataset": "NSMC", "split": "test", "metric": "accuracy", "value": 0.9001}])
    card = open(os.path.join(directory, "README.md"), encoding="utf-8").read()
    meta = front_matter(card)
    for line in ('library_name: "bertcls"', 'pipeline_tag: "text-classification"',
                 'base_model: "klue/roberta-base"', '- "ko"', 'license: "cc-by-sa-4.0"',
                 '      name: "NSMC"', '      split: "test"', '    - type: "accuracy"',
                 "      value: 0.9001"):
        assert line in meta.splitlines(), (line, meta)
    assert "| 1 | 긍정 |" in card and "RobertaForSequenceClassification" in card
    assert 'bertcls.BertClassifier.from_preset("<this directory or Hub id>")' in card


@pytest.mark.parametrize("results, message", [
    ({"dataset": "NSMC", "value": 0.9}, r"`results\[0\]` must be a dict with keys"),
    ({"dataset": "NSMC", "metric": "accuracy", "value": float("nan")}, "finite number"),
    ({"dataset": "", "metric": "accuracy", "value": 0.9}, "non-empty string"),
])
def test_model_card_results_are_checked(results, message):
    with pytest.raises(ValueError, match=message):
        model_card("BertForSequenceClassification", "text-classification", results=results)


class RecordingApi:
    """Stands in for huggingface_hub.HfApi: records the calls and what the uploaded folder
    held while the upload ran."""

    calls = []

    def __init__(self, token=None):
        self.token = token

    def create_repo(self, **kwargs):
        RecordingApi.calls.append(("create_repo", kwargs))

    def upload_folder(self, folder_path, **kwargs):
        files = {}
        for root, _, names in os.walk(folder_path):
            for name in names:
                path = os.path.join(root, name)
                files[os.path.relpath(path, folder_path)] = open(path, "rb").read()
        RecordingApi.calls.append(("upload_folder", dict(kwargs, files=files)))
        return "commit-info"


def test_push_to_hub_uploads_exactly_the_saved_directory(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    RecordingApi.calls = []
    model = BertClassifier(BUILDERS["electra"](), labels=["neg", "pos"],
                           encoder=FeatureEncoder(VOCAB, max_seq_len=8))
    assert model.push_to_hub("me/nsmc-electra", token="t0k", private=True,
                             base_model="monologg/koelectra-base-v3-discriminator") == \
        "commit-info"
    (_, create), (_, upload) = RecordingApi.calls
    assert create == {"repo_id": "me/nsmc-electra", "repo_type": "model", "private": True,
                      "exist_ok": True}
    assert upload["repo_id"] == "me/nsmc-electra" and upload["repo_type"] == "model"
    saved = model.save_pretrained(str(tmp_path / "local"),
                                  base_model="monologg/koelectra-base-v3-discriminator")
    local = {name: open(os.path.join(saved, name), "rb").read()
             for name in os.listdir(saved)}
    assert set(upload["files"]) == set(local)
    for name in ("config.json", "README.md", "vocab.txt", "tokenizer_config.json"):
        assert upload["files"][name] == local[name], name
    with pytest.raises(PresetError, match="'namespace/name'"):
        model.push_to_hub("no-namespace")


def test_the_hub_page_runs_as_written(tmp_path, monkeypatch, capsys):
    """Every python block of docs/hub.md, in order, in one namespace (offline: the page
    builds its own fine-tuned directories); the printed values its comments show."""
    import re

    monkeypatch.chdir(tmp_path)
    text = open(os.path.join(REPO, "docs", "hub.md"), encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 5
    namespace = {}
    for block in blocks:
        exec(compile(block, "docs/hub.md", "exec"), namespace)
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["['부정', '긍정']", "True", "['O', 'B-PS', 'I-PS'] word"]
    assert out[3] == "True" and out[4].startswith("num_classes=5 disagrees with the checkpoint")
    assert out[5] == "5"
    assert out[6] == "['---', 'library_name: \"bertcls\"', 'pipeline_tag: \"text-classification\"']"


def test_span_reader_keeps_its_null_threshold_through_save_pretrained(tmp_path):
    model = BertQuestionAnswerer(BUILDERS["bert"](), encoder=FeatureEncoder(VOCAB, max_seq_len=12),
                                 null_threshold=1.25)
    directory = model.save_pretrained(str(tmp_path / "qa"))
    assert BertQuestionAnswerer.from_preset(directory).null_threshold == 1.25
    assert BertQuestionAnswerer.from_preset(directory, null_threshold=-2.0).null_threshold == -2.0
    plain = BertQuestionAnswerer(BUILDERS["bert"](), encoder=FeatureEncoder(VOCAB, max_seq_len=12))
    assert BertQuestionAnswerer.from_preset(
        plain.save_pretrained(str(tmp_path / "plain"))).null_threshold is None


def test_masked_lm_save_pretrained_round_trip_with_card(tmp_path):
    from bertcls import BertMaskedLM

    model = BertMaskedLM(BUILDERS["albert"](), encoder=FeatureEncoder(VOCAB, max_seq_len=10))
    randomize(model, seed=3)
    directory = model.save_pretrained(str(tmp_path / "mlm"), language="ko")
    card = open(os.path.join(directory, "README.md"), encoding="utf-8").read()
    assert 'pipeline_tag: "fill-mask"' in front_matter(card)
    assert "bertcls.BertMaskedLM.from_preset" in card
    loaded = BertMaskedLM.from_preset(directory)
    assert loaded.encoder.max_seq_len == 10
    x = {k: np.asarray(v) for k, v in loaded.encoder(TEXTS).items()}
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)),
                               keras.ops.convert_to_numpy(model(x)), atol=1e-5)
