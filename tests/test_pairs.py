"""Sentence pairs in every text path: make_dataset, encode_texts, validation_split,
predict_texts / predict_text, and their errors."""

import keras
import numpy as np
import pytest

from bertcls import (BertBackbone, BertClassifier, BertTagger, FeatureEncoder, encode_texts,
                     make_dataset, validation_split)
from warm import warm_run

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "very", "!"]
WORDS = ["good", "bad", "movie", "very", "!"]


def words(n, seed):
    rng = np.random.default_rng(seed)
    return " ".join(rng.choice(WORDS, size=n))


def pairs_of(n, seed=0, longest=30):
    rng = np.random.default_rng(seed)
    a = [words(int(rng.integers(1, longest)), seed * 1000 + i) for i in range(n)]
    b = [words(int(rng.integers(1, longest)), seed * 1000 + 500 + i) for i in range(n)]
    return a, b


def tiny_backbone(seed=0):
    keras.utils.set_random_seed(seed)
    return BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2, hidden_size=16,
                        intermediate_size=32, dropout=0.0, attention_dropout=0.0)


@pytest.fixture
def encoder():
    return FeatureEncoder(VOCAB, max_seq_len=40)


@pytest.fixture(scope="module")
def classifier():
    encoder = FeatureEncoder(VOCAB, max_seq_len=40)
    return BertClassifier(tiny_backbone(), num_classes=3, encoder=encoder)


def test_make_dataset_buckets_on_the_pair_length_and_truncates_longest_first(encoder):
    a, b = pairs_of(50, seed=1)
    a[0], b[0] = words(35, 7), words(3, 8)      # 35 + 3 + 3 > 40: the long half is cut
    a[1], b[1] = words(4, 9), words(4, 10)      # each half < 16, the pair is 11 tokens
    a[2], b[2] = words(8, 11), words(9, 12)     # each half < 16, the pair is 20 > 16
    expected = {k: v.numpy() for k, v in encoder((a, b)).items()}
    lengths = expected["attention_mask"].sum(1)
    assert lengths[0] == 40 and expected["token_type_ids"][0].sum() == 4  # b kept whole
    seen = []
    for features, index in make_dataset((a, b), np.arange(50), encoder=encoder, batch_size=4,
                                        shuffle=True, seed=3):
        width = features["input_ids"].shape[1]
        for j, i in enumerate(index.numpy()):
            n = lengths[i]
            assert width == min(b for b in (16, 32, 40) if b >= n) or width >= n
            for k in expected:
                np.testing.assert_array_equal(features[k][j, :n], expected[k][i, :n])
                assert not features[k].numpy()[j, n:].any() or k == "input_ids"
        bucket = min(b for b in (16, 32, 40) if b >= lengths[index.numpy()].max())
        assert width == bucket
        seen += index.numpy().tolist()
    assert sorted(seen) == list(range(50))


def test_make_dataset_fixed_length_pairs_match_encoder(encoder):
    a, b = pairs_of(6, seed=2)
    (features, labels), = make_dataset((a, b), np.arange(6.0), encoder=encoder,
                                       batch_size=6, bucket_lengths=None)
    for k, v in encoder((a, b)).items():
        np.testing.assert_array_equal(features[k], v)


def test_encode_texts_pairs_in_chunks_equal_one_call(encoder):
    a, b = pairs_of(23, seed=3)
    chunked = encode_texts(encoder, (a, b), batch_size=5)
    for k, v in encoder((a, b)).items():
        np.testing.assert_array_equal(chunked[k], v)
    # Pre-encoded pairs then go through make_dataset like single texts.
    rows = sum(len(y) for _, y in make_dataset(chunked, np.zeros(23), batch_size=8))
    assert rows == 23


def test_validation_split_takes_pairs_and_features(encoder):
    a, b = pairs_of(10)
    for data in ((a, b), a, encode_texts(encoder, (a, b)), 10):
        train, val = validation_split(data, 0.3)
        assert train.tolist() == list(range(7)) and val.tolist() == [7, 8, 9]


def test_pandas_columns_are_accepted(encoder):
    pd = pytest.importorskip("pandas")
    a, b = pairs_of(5, seed=4)
    frame = pd.DataFrame({"a": a, "b": b})
    got = encode_texts(encoder, (frame["a"], frame["b"]))
    np.testing.assert_array_equal(got["input_ids"], encoder((a, b))["input_ids"])


@pytest.mark.parametrize("x, message", [
    ((["good"], ["bad", "movie"]), "differ in length: 1 and 2"),
    ((["good"], ["bad"], ["movie"]), "tuple of 3"),
    ([("good", "bad")], "not a list of pairs"),
    (("good", "bad"), "tuple holding strings"),
    ((["good"], [""]), "empty"),
    ((["good"], [None]), r"x\[1\]. must hold strings; item 0 is NoneType"),
])
def test_make_dataset_pair_errors(encoder, x, message):
    with pytest.raises(ValueError, match=message):
        make_dataset(x, [1], encoder=encoder)


def test_predict_texts_on_pairs_equals_direct_call(classifier):
    a, b = pairs_of(17, seed=5)
    a[3] = words(60, 13)  # truncated
    b[4] = ""             # prediction (unlike training) takes empty halves
    result = classifier.predict_texts((a, b), batch_size=4)
    direct = np.asarray(classifier(classifier.encoder((a, b))))
    np.testing.assert_allclose(result["probabilities"], direct, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result["labels"], direct.argmax(-1))
    # Order matters: (a, b) is not (b, a).
    swapped = classifier.predict_texts((b, a))["probabilities"]
    np.testing.assert_allclose(swapped, np.asarray(classifier(classifier.encoder((b, a)))),
                               rtol=1e-5, atol=1e-6)
    label, probabilities = classifier.predict_text((a[2], b[2]))
    np.testing.assert_allclose(probabilities, direct[2], rtol=1e-5, atol=1e-6)
    assert label == direct[2].argmax()
    # Single texts still go through the single-text function, not the pair one.
    single = classifier.predict_text(a[2])[1]
    np.testing.assert_allclose(single, np.asarray(classifier(classifier.encoder([a[2]])))[0],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda m: m.predict_text(("good",)), "tuple \\(text_a, text_b\\)"),
    (lambda m: m.predict_text(("good", 3)), "tuple \\(text_a, text_b\\)"),
    (lambda m: m.predict_texts((["good"], ["bad", "bad"])), "differ in length"),
    (lambda m: m.predict_texts([("good", "bad")]), "not a list of pairs"),
])
def test_predict_pair_errors(classifier, call, message):
    with pytest.raises(ValueError, match=message):
        call(classifier)


def test_tagger_says_it_takes_no_pairs():
    tagger = BertTagger(tiny_backbone(), tags=["O", "B-X", "I-X"],
                        encoder=FeatureEncoder(VOCAB, max_seq_len=16))
    with pytest.raises(ValueError, match="does not take sentence pairs"):
        tagger.predict_texts((["good"], ["bad"]))


# === Labels by name (NLI) ===

NLI = ["entailment", "neutral", "contradiction"]


def test_labels_by_name_are_saved_and_predicted(tmp_path):
    model = BertClassifier(tiny_backbone(), labels=NLI, encoder=FeatureEncoder(VOCAB,
                                                                               max_seq_len=24))
    assert model.num_classes == 3 and model.labels == NLI
    model.compile()
    (a, b), names = pairs_of(12, seed=6), [NLI[i % 3] for i in range(12)]
    ids = model.label_ids(names)
    assert ids.tolist() == [i % 3 for i in range(12)]
    model.fit(make_dataset((a, b), ids, encoder=model.encoder, batch_size=4), verbose=0)
    result = model.predict_texts((a, b))
    assert result["labels"].tolist() == [NLI[i] for i in result["probabilities"].argmax(-1)]
    label, probabilities = model.predict_text((a[0], b[0]))
    assert type(label) is str and label == NLI[int(np.argmax(probabilities))]
    path = tmp_path / "nli.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.labels == NLI and loaded.get_config()["labels"] == NLI
    assert loaded.predict_texts((a, b))["labels"].tolist() == result["labels"].tolist()


def test_binary_and_multi_label_names():
    binary = BertClassifier(tiny_backbone(), labels=["negative", "positive"],
                            encoder=FeatureEncoder(VOCAB, max_seq_len=16))
    assert binary.binary
    result = binary.predict_texts(["good", "bad"], threshold=0.0)
    assert result["labels"].tolist() == ["positive", "positive"]
    multi = BertClassifier(tiny_backbone(), labels=["x", "y", "z"], multi_label=True,
                           encoder=FeatureEncoder(VOCAB, max_seq_len=16))
    np.testing.assert_array_equal(multi.label_ids([["x", "z"], []]), [[1, 0, 1], [0, 0, 0]])
    assert multi.predict_texts(["good"], threshold=0.0)["labels"] == [["x", "y", "z"]]


@pytest.mark.parametrize("make, message", [
    (lambda: BertClassifier(tiny_backbone(), num_classes=2, labels=NLI), "disagrees"),
    (lambda: BertClassifier(tiny_backbone(), labels=["a", "a"]), "distinct"),
    (lambda: BertClassifier(tiny_backbone(), labels="abc"), "list of label names"),
    (lambda: BertClassifier(tiny_backbone(), labels=NLI).label_ids(["maybe"]),
     "Unknown label 'maybe'"),
    (lambda: BertClassifier(tiny_backbone()).label_ids(["a"]), "no label names"),
    (lambda: BertClassifier(tiny_backbone(), labels=NLI).fit(
        {k: np.zeros((2, 4), "int32") for k in ("input_ids", "attention_mask",
                                                "token_type_ids")}, np.array(NLI[:2])),
     r"model.label_ids\(names\)"),
])
def test_label_name_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# The same tiny models in the test process (TensorFlow) and a JAX subprocess: weights drawn
# with numpy so both backends start from the same values.
PAIR_MODELS = """
import numpy as np
from bertcls import BertBackbone, BertClassifier, BertRegressor, FeatureEncoder


def pair_models(vocab):
    encoder = FeatureEncoder(vocab, max_seq_len=24)
    models = []
    for make in (lambda b: BertClassifier(b, encoder=encoder,
                                          labels=["entailment", "neutral", "contradiction"]),
                 lambda b: BertRegressor(b, encoder=encoder, pooling="mean")):
        model = make(BertBackbone(vocabulary_size=len(vocab), num_layers=1, num_heads=2,
                                  hidden_size=16, intermediate_size=32))
        rng = np.random.RandomState(len(models))
        model.set_weights([rng.normal(0.0, 0.3, w.shape).astype("float32")
                           for w in model.get_weights()])
        models.append(model)
    return models


def pair_predictions(vocab, a, b):
    classifier, regressor = pair_models(vocab)
    result = classifier.predict_texts((a, b), batch_size=4)
    label, probabilities = classifier.predict_text((a[1], b[1]))
    return {"probabilities": result["probabilities"].tolist(),
            "labels": result["labels"].tolist(), "label": str(label),
            "one": probabilities.tolist(),
            "values": regressor.predict_texts((a, b), batch_size=4).tolist(),
            "value": regressor.predict_text((a[2], b[2]))}
"""


@pytest.mark.jax
def test_pair_prediction_under_jax_equals_tensorflow():
    import json

    a, b = pairs_of(9, seed=7)
    a[3] = words(40, 17)  # truncated longest-first
    script = PAIR_MODELS + (
        "import json, sys, keras\n"
        "assert keras.backend.backend() == 'jax'\n"
        "print('RESULT ' + json.dumps(pair_predictions(*json.loads(sys.argv[1]))))\n")
    done = warm_run("jax", ["-c", script, json.dumps([VOCAB, a, b])], timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stderr[-3000:]
    jax_side = json.loads(lines[-1][len("RESULT "):])
    namespace = {}
    exec(PAIR_MODELS, namespace)
    tf_side = namespace["pair_predictions"](VOCAB, a, b)
    assert jax_side["labels"] == tf_side["labels"] and jax_side["label"] == tf_side["label"]
    assert set(tf_side["labels"]) <= {"entailment", "neutral", "contradiction"}
    for key in ("probabilities", "one", "values", "value"):
        np.testing.assert_allclose(jax_side[key], tf_side[key], rtol=1e-4, atol=1e-5,
                                   err_msg=key)
    # Not a constant: the pairs get different outputs.
    assert np.ptp(np.asarray(tf_side["values"])) > 1e-3
