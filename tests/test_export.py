"""String-in SavedModel export, loaded where bertcls cannot be imported."""

import json

import numpy as np
import pytest

from bertcls import (BertBackbone, BertClassifier, BertRegressor, BertTagger, FeatureEncoder,
                     export_text_model)
from warm import warm_run

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "##s", "the"]
TEXTS = ["good movies", "the bad movie", "", "unknown words here"]

# Run with `python -I` (no PYTHONPATH, no script dir, no user site; tests/warm.py's "bare"
# worker) from another directory, and with bertcls blocked in sys.modules so that even an
# installed copy cannot load.
LOADER = """
import json, sys
sys.modules["bertcls"] = None
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops)
try:
    import bertcls  # noqa: F401
    raise SystemExit("bertcls importable")
except ImportError:
    pass
model = tf.saved_model.load(sys.argv[1])
texts = json.loads(sys.argv[2])
if isinstance(texts, dict):  # sentence pairs, by the endpoint's input names
    out = model.serve(texts_a=tf.constant(texts["a"]), texts_b=tf.constant(texts["b"]))
else:
    out = model.serve(tf.constant(texts))
print(json.dumps({k: v.numpy().tolist() for k, v in out.items()}))
"""


def tiny_backbone():
    return BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2, hidden_size=8,
                        intermediate_size=16)


def load_elsewhere(path, texts, cwd):
    done = warm_run("bare", ["-c", LOADER, str(path), json.dumps(texts)], cwd=cwd, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {k: np.array(v) for k, v in out.items()}


def test_classifier_export_matches_model(tmp_path):
    encoder = FeatureEncoder(VOCAB, max_seq_len=16)
    model = BertClassifier(tiny_backbone(), num_classes=3, encoder=encoder)
    path = export_text_model(model, tmp_path / "served")
    served = load_elsewhere(path, TEXTS, tmp_path)
    expected = model.predict_texts(TEXTS)
    assert served["probabilities"].shape == (4, 3)
    np.testing.assert_allclose(served["probabilities"], expected["probabilities"], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(served["label_ids"], expected["labels"])


def test_tagger_export_with_offsets_encoder(tmp_path):
    encoder = FeatureEncoder(VOCAB, max_seq_len=8, return_offsets=True)
    tagger = BertTagger(tiny_backbone(), num_tags=3, encoder=encoder)
    path = export_text_model(tagger, tmp_path / "served")
    served = load_elsewhere(path, TEXTS[:2], tmp_path)
    features = FeatureEncoder(VOCAB, max_seq_len=8)(TEXTS[:2])
    probabilities = np.asarray(tagger(features))
    np.testing.assert_allclose(served["probabilities"], probabilities, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(served["tag_ids"], probabilities.argmax(-1))


def test_export_needs_an_encoder(tmp_path):
    with pytest.raises(ValueError, match="needs a FeatureEncoder"):
        export_text_model(BertClassifier(tiny_backbone()), tmp_path / "x")


def test_pair_export_of_a_regressor_matches_predict_texts(tmp_path):
    encoder = FeatureEncoder(VOCAB, max_seq_len=12)
    model = BertRegressor(tiny_backbone(), num_outputs=2, encoder=encoder)
    a = ["good movies", "the bad movie " * 5, "", "good"]
    b = ["bad", "good", "the movie", "good movies " * 4]  # rows 1 and 3 are cut longest-first
    path = export_text_model(model, tmp_path / "served", pairs=True)
    served = load_elsewhere(path, {"a": a, "b": b}, tmp_path)
    assert served["values"].shape == (4, 2)
    np.testing.assert_allclose(served["values"], model.predict_texts((a, b)), rtol=1e-5,
                               atol=1e-6)


NAMES_LOADER = """
import json, sys
sys.modules["bertcls"] = None
import numpy as np, tensorflow as tf
import tensorflow_text  # noqa: F401
model = tf.saved_model.load(sys.argv[1])
texts = json.loads(sys.argv[2])
out = model.serve(texts_a=tf.constant(texts["a"]), texts_b=tf.constant(texts["b"]))
names = [name.decode() for name in model.labels().numpy()]
print(json.dumps({"names": names, "probabilities": out["probabilities"].numpy().tolist(),
                  "predicted": [names[i] for i in out["label_ids"].numpy()]}))
"""


def test_pair_export_of_a_named_classifier_serves_its_label_names(tmp_path):
    # The Hugging Face habit: id2label travels with the model. Here a `labels()` endpoint
    # (names in class-id order) next to `serve`, usable without bertcls.
    names = ["entailment", "neutral", "contradiction"]
    encoder = FeatureEncoder(VOCAB, max_seq_len=12)
    model = BertClassifier(tiny_backbone(), encoder=encoder, labels=names)
    rng = np.random.RandomState(3)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32")
                       for w in model.get_weights()])
    a, b = ["good movies", "the bad movie", "", "good"], ["bad", "good", "the movie", "the"]
    path = export_text_model(model, tmp_path / "served", pairs=True)
    done = warm_run("bare", ["-c", NAMES_LOADER, str(path), json.dumps({"a": a, "b": b})],
                    cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    assert served["names"] == names
    expected = model.predict_texts((a, b))
    np.testing.assert_allclose(served["probabilities"], expected["probabilities"],
                               rtol=1e-5, atol=1e-6)
    assert served["predicted"] == list(expected["labels"])


def test_label_names_endpoint_only_for_models_with_names(tmp_path):
    import tensorflow as tf

    encoder = FeatureEncoder(VOCAB, max_seq_len=8)
    tags = ["O", "B-PS", "I-PS"]
    tagged = tf.saved_model.load(export_text_model(
        BertTagger(tiny_backbone(), tags=tags, encoder=encoder), tmp_path / "tagger"))
    assert [t.decode() for t in tagged.labels().numpy()] == tags
    plain = tf.saved_model.load(export_text_model(
        BertClassifier(tiny_backbone(), num_classes=3, encoder=encoder), tmp_path / "plain"))
    assert not hasattr(plain, "labels")
    with pytest.raises(ValueError, match="taken by the label names"):
        export_text_model(BertClassifier(tiny_backbone(), encoder=encoder, labels=["a", "b"]),
                          tmp_path / "clash", endpoint="labels")
