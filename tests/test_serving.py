"""Serving: an export loads in a fresh process exactly as the docs say (`import
tensorflow_text`, then `tf.saved_model.load`, no bertcls), and gives what the model gives;
a multi-output head (docs/extending.md's `JointHead`) exports with its outputs' names."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from bertcls import BertBackbone, BertClassifier, FeatureEncoder, export_text_model
from test_extending import INTENTS, TAGS, VOCAB, build_joint_model

TEXTS = ["good movie", "bad plot", "movie"]
LOAD = textwrap.dedent("""
    import json, sys
    import tensorflow as tf, tensorflow_text  # noqa: F401 (registers the tokenizer ops)
    assert "bertcls" not in sys.modules
    served = tf.saved_model.load(sys.argv[1])
    out = served.serve(tf.constant(json.loads(sys.argv[2])))
    out = {k: v.numpy().tolist() for k, v in out.items()} if isinstance(out, dict) else \\
        out.numpy().tolist()
    assert "bertcls" not in sys.modules
    print("OUT=" + json.dumps(out))
""")


def load_in_fresh_process(path, texts):
    result = subprocess.run([sys.executable, "-c", LOAD, str(path), json.dumps(texts)],
                            capture_output=True, text=True, timeout=300, cwd="/")
    assert result.returncode == 0, result.stderr[-3000:]
    line, = [x for x in result.stdout.splitlines() if x.startswith("OUT=")]
    return json.loads(line[len("OUT="):])


def tiny_backbone(vocabulary_size):
    keras.utils.set_random_seed(0)
    return BertBackbone(vocabulary_size=vocabulary_size, num_layers=1, num_heads=2,
                        hidden_size=8, intermediate_size=16)


def test_classifier_export_loads_as_the_docs_say(tmp_path):
    model = BertClassifier(tiny_backbone(len(VOCAB)),
                           encoder=FeatureEncoder(VOCAB, max_seq_len=8))
    path = export_text_model(model, tmp_path / "export")
    served = np.array(load_in_fresh_process(path, TEXTS))
    expected = model.predict_texts(TEXTS)["probabilities"]
    np.testing.assert_allclose(served[:, 0], expected, atol=1e-5)


def test_named_outputs_have_predict_texts_shapes(tmp_path):
    from bertcls import BertRegressor
    encoder = FeatureEncoder(VOCAB, max_seq_len=8)
    binary = BertClassifier(tiny_backbone(len(VOCAB)), encoder=encoder)
    served = load_in_fresh_process(
        export_text_model(binary, tmp_path / "binary", named_outputs=True), TEXTS)
    expected = binary.predict_texts(TEXTS)
    assert sorted(served) == ["label_ids", "probabilities"]
    assert np.array(served["probabilities"]).shape == expected["probabilities"].shape == (3,)
    np.testing.assert_allclose(served["probabilities"], expected["probabilities"], atol=1e-5)
    np.testing.assert_array_equal(served["label_ids"], expected["labels"])
    three = BertClassifier(tiny_backbone(len(VOCAB)), num_classes=3, encoder=encoder)
    served = load_in_fresh_process(
        export_text_model(three, tmp_path / "three", named_outputs=True), TEXTS)
    expected = three.predict_texts(TEXTS)
    assert np.array(served["probabilities"]).shape == (3, 3)
    np.testing.assert_array_equal(served["label_ids"], expected["labels"])
    regressor = BertRegressor(tiny_backbone(len(VOCAB)), encoder=encoder)
    served = load_in_fresh_process(
        export_text_model(regressor, tmp_path / "regressor", named_outputs=True), TEXTS)
    np.testing.assert_allclose(served["values"], regressor.predict_texts(TEXTS), atol=1e-5)


def test_multi_output_head_exports_with_its_names(tmp_path):
    encoder = FeatureEncoder(VOCAB, max_seq_len=8)
    model = build_joint_model(tiny_backbone(len(VOCAB)), len(INTENTS), len(TAGS))
    path = export_text_model(model, tmp_path / "export", encoder=encoder)
    served = load_in_fresh_process(path, TEXTS)
    assert sorted(served) == ["intent", "tags"]
    direct = model.predict_on_batch(encoder(TEXTS))
    np.testing.assert_allclose(np.array(served["intent"]), direct["intent"], atol=1e-5)
    np.testing.assert_allclose(np.array(served["tags"]), direct["tags"], atol=1e-5)
    assert np.array(served["tags"]).shape == (3, 8, len(TAGS))


def test_unnamed_outputs_are_refused_with_the_reason(tmp_path):
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
              for name in ("input_ids", "attention_mask", "token_type_ids")}
    hidden = tiny_backbone(len(VOCAB))(inputs)["pooled_output"]
    model = keras.Model(inputs, [keras.layers.Dense(2)(hidden), keras.layers.Dense(3)(hidden)])
    with pytest.raises(ValueError, match="returns a list of 2 outputs. Return a dict"):
        export_text_model(model, tmp_path / "export", encoder=FeatureEncoder(VOCAB))


def test_named_outputs_of_tagger_and_embedder(tmp_path):
    from bertcls import BertTagger, SentenceEmbedder
    encoder = FeatureEncoder(VOCAB, max_seq_len=8)
    tagger = BertTagger(tiny_backbone(len(VOCAB)), tags=TAGS, encoder=encoder)
    served = load_in_fresh_process(
        export_text_model(tagger, tmp_path / "tagger", named_outputs=True), TEXTS)
    probabilities = np.array(served["probabilities"])
    assert probabilities.shape == (3, 8, len(TAGS))
    np.testing.assert_array_equal(served["tag_ids"], probabilities.argmax(-1))
    np.testing.assert_allclose(probabilities, tagger.predict_on_batch(encoder(TEXTS)),
                               atol=1e-5)
    embedder = SentenceEmbedder(tiny_backbone(len(VOCAB)), encoder=encoder)
    served = load_in_fresh_process(
        export_text_model(embedder, tmp_path / "embedder", named_outputs=True), TEXTS)
    np.testing.assert_allclose(served["embeddings"], embedder.embed(TEXTS), atol=1e-5)
