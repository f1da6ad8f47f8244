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
from warm import warm_run

TEXTS = ["good movie", "bad plot", "movie"]
LOAD = textwrap.dedent("""
    import json, sys
    import tensorflow as tf, tensorflow_text  # noqa: F401 (registers the tokenizer ops)
    assert "bertcls" not in sys.modules
    outs, signatures = [], []
    for path in json.loads(sys.argv[1]):
        served = tf.saved_model.load(path)
        out = served.serve(tf.constant(json.loads(sys.argv[2])))
        outs.append({k: v.numpy().tolist() for k, v in out.items()} if isinstance(out, dict)
                    else out.numpy().tolist())
        default = served.signatures["serving_default"]  # what TensorFlow Serving reads
        signatures.append([sorted(default.structured_input_signature[1]),
                           sorted(default.structured_outputs)])
    assert "bertcls" not in sys.modules
    print("OUT=" + json.dumps(outs))
    print("SIGNATURES=" + json.dumps(signatures))
""")


def load_in_fresh_process(paths, texts, signatures=False, fresh=False):
    """Load each SavedModel in `paths` in a process without bertcls, as the docs say, and
    serve `texts`; one output per path (with `signatures=True`, also each `serving_default`
    signature's input and output names). `fresh=True`: a process of its own, started for
    this call; else tests/warm.py's "bare" worker."""
    args = ["-c", LOAD, json.dumps([str(p) for p in paths]), json.dumps(texts)]
    if fresh:
        result = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                                timeout=300, cwd="/")
    else:
        result = warm_run("bare", args, cwd="/", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(x.split("=", 1) for x in result.stdout.splitlines()
                 if x.startswith(("OUT=", "SIGNATURES=")))
    outs = json.loads(lines["OUT"])
    return (outs, json.loads(lines["SIGNATURES"])) if signatures else outs


def tiny_backbone(vocabulary_size):
    keras.utils.set_random_seed(0)
    return BertBackbone(vocabulary_size=vocabulary_size, num_layers=1, num_heads=2,
                        hidden_size=8, intermediate_size=16)


def test_exports_load_as_the_docs_say_with_predict_texts_names_and_shapes(tmp_path):
    from bertcls import BertRegressor, BertTagger, SentenceEmbedder
    encoder = FeatureEncoder(VOCAB, max_seq_len=8)
    binary = BertClassifier(tiny_backbone(len(VOCAB)), encoder=encoder)
    three = BertClassifier(tiny_backbone(len(VOCAB)), num_classes=3, encoder=encoder)
    regressor = BertRegressor(tiny_backbone(len(VOCAB)), encoder=encoder)
    tagger = BertTagger(tiny_backbone(len(VOCAB)), tags=TAGS, encoder=encoder)
    embedder = SentenceEmbedder(tiny_backbone(len(VOCAB)), encoder=encoder)
    paths = [export_text_model(binary, tmp_path / "binary"),
             export_text_model(three, tmp_path / "three"),
             export_text_model(regressor, tmp_path / "regressor"),
             export_text_model(tagger, tmp_path / "tagger"),
             export_text_model(embedder, tmp_path / "embedder"),
             export_text_model(binary, tmp_path / "raw", named_outputs=False)]
    outs, signatures = load_in_fresh_process(paths, TEXTS, signatures=True, fresh=True)
    served, served3, values, tagged, embedded, raw = outs
    # TensorFlow Serving's default signature: input `texts`, the same output names.
    assert signatures[0] == [["texts"], ["label_ids", "probabilities"]]
    assert signatures[3] == [["texts"], ["probabilities", "tag_ids"]]

    expected = binary.predict_texts(TEXTS)
    assert sorted(served) == ["label_ids", "probabilities"]
    assert np.array(served["probabilities"]).shape == expected["probabilities"].shape == (3,)
    np.testing.assert_allclose(served["probabilities"], expected["probabilities"], atol=1e-5)
    np.testing.assert_array_equal(served["label_ids"], expected["labels"])
    assert np.array(raw).shape == (3, 1)  # named_outputs=False: the model's own tensor
    np.testing.assert_allclose(np.array(raw)[:, 0], expected["probabilities"], atol=1e-5)

    expected = three.predict_texts(TEXTS)
    assert np.array(served3["probabilities"]).shape == (3, 3)
    np.testing.assert_allclose(served3["probabilities"], expected["probabilities"], atol=1e-5)
    np.testing.assert_array_equal(served3["label_ids"], expected["labels"])

    assert sorted(values) == ["values"] and np.array(values["values"]).shape == (3,)
    np.testing.assert_allclose(values["values"], regressor.predict_texts(TEXTS), atol=1e-5)

    probabilities = np.array(tagged["probabilities"])
    assert probabilities.shape == (3, 8, len(TAGS))
    np.testing.assert_array_equal(tagged["tag_ids"], probabilities.argmax(-1))
    np.testing.assert_allclose(probabilities, tagger.predict_on_batch(encoder(TEXTS)),
                               atol=1e-5)

    assert sorted(embedded) == ["embeddings"]
    np.testing.assert_allclose(embedded["embeddings"], embedder.embed(TEXTS), atol=1e-5)


def test_multi_output_head_exports_with_its_names(tmp_path):
    encoder = FeatureEncoder(VOCAB, max_seq_len=8)
    model = build_joint_model(tiny_backbone(len(VOCAB)), len(INTENTS), len(TAGS))
    path = export_text_model(model, tmp_path / "export", encoder=encoder)
    served, = load_in_fresh_process([path], TEXTS)
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
