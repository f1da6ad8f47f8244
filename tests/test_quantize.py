"""`Task.quantize`: Keras' int8 quantization taking effect in bertcls' own prediction paths
(the traced functions of predict_texts / embed / predict_answers are dropped and retraced),
without a warning per non-quantizable layer; a quantized model saves, loads and exports."""

import logging
import warnings

import keras
import numpy as np
import pytest

from bertcls import (BertBackbone, BertClassifier, BertQuestionAnswerer, BertTagger,
                     FeatureEncoder, SentenceEmbedder, export_text_model)

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "kim", "went",
         "to", "seoul"]
TEXTS = ["good movie", "bad movie went", "kim went to seoul", "movie"]


def encoder():
    return FeatureEncoder(VOCAB, max_seq_len=12)


def backbone():
    keras.utils.set_random_seed(0)
    return BertBackbone(vocabulary_size=len(VOCAB), num_layers=2, num_heads=2, hidden_size=32,
                        intermediate_size=64)


def int8_weights(model):
    return [v.path for v in model.weights if "int8" in str(v.dtype)]


MODELS = {
    "classifier": (lambda: BertClassifier(backbone(), num_classes=3, encoder=encoder()),
                   lambda m: m.predict_texts(TEXTS)["probabilities"]),
    "tagger": (lambda: BertTagger(backbone(), tags=["O", "B-PS", "I-PS"], encoder=encoder()),
               lambda m: _tag_probabilities(m)),
    "embedder": (lambda: SentenceEmbedder(backbone(), encoder=encoder()),
                 lambda m: m.embed(TEXTS)),
    "reader": (lambda: BertQuestionAnswerer(backbone(), encoder=encoder(), max_question_len=4,
                                            doc_stride=2),
               lambda m: m.predict_logits(m.encode(["kim"], ["kim went to seoul"]))),
}


def _tag_probabilities(model):
    from bertcls.tasks.prediction import predict_features
    features = {k: np.asarray(v) for k, v in model.encoder(TEXTS).items()}
    return predict_features(model, features)


def eager(model, name):
    """The quantized model's own forward pass, outside bertcls' traced functions."""
    if name == "reader":
        windows = model.encode(["kim"], ["kim went to seoul"])
        return keras.ops.convert_to_numpy(model(windows.features))
    features = {k: np.asarray(v) for k, v in model.encoder(TEXTS).items()}
    return keras.ops.convert_to_numpy(model(features))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_quantize_takes_effect_in_the_prediction_paths(name, caplog):
    build, predict = MODELS[name]
    model = build()
    before = np.asarray(predict(model))  # traces bertcls' prediction function on floats
    caplog.set_level(logging.INFO, logger="bertcls.tasks.base")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.quantize("int8")
    assert not [w for w in caught if "does not have a `quantize` method" in str(w.message)]
    assert int8_weights(model), "no int8 variable after quantize"
    assert any("Quantized" in r.getMessage() for r in caplog.records)
    after = np.asarray(predict(model))
    assert np.abs(after - before).max() > 0, "predictions still from the float weights"
    reference = eager(model, name)
    if name == "reader":  # compared at the real tokens (predict_logits pads with zeros)
        mask = model.encode(["kim"], ["kim went to seoul"]).features["attention_mask"] == 1
        after, reference = after.reshape(reference.shape)[mask], reference[mask]
    np.testing.assert_allclose(after, reference, atol=1e-5)


def test_a_quantized_classifier_saves_loads_and_exports(tmp_path):
    import tensorflow as tf

    model = BertClassifier(backbone(), num_classes=3, encoder=encoder())
    model.quantize("int8")
    expected = model.predict_texts(TEXTS)["probabilities"]
    path = str(tmp_path / "quantized.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert int8_weights(loaded)
    np.testing.assert_allclose(loaded.predict_texts(TEXTS)["probabilities"], expected,
                               atol=1e-6)
    exported = export_text_model(model, str(tmp_path / "served"))
    reloaded = tf.saved_model.load(exported)  # kept: its variables live as long as it does
    served = reloaded.serve(tf.constant(TEXTS))["probabilities"]
    np.testing.assert_allclose(np.asarray(served), expected, atol=1e-5)


def test_quantize_frees_each_float_weight_it_replaces():
    # Task.quantize keeps the objects alive before it out of Keras' per-weight collections
    # (gc.freeze); the float kernels it replaces must still be gone right after.
    import gc
    import weakref

    model = BertClassifier(backbone(), num_classes=3, encoder=encoder())
    model.predict_texts(TEXTS)  # traced functions capture the float weights, as in use
    kernels = [weakref.ref(layer._kernel) for layer in model._flatten_layers()
               if isinstance(layer, (keras.layers.Dense, keras.layers.EinsumDense))]
    assert len(kernels) >= 6
    frozen = gc.get_freeze_count()
    model.quantize("int8")
    assert gc.isenabled() and gc.get_freeze_count() == frozen  # the freeze is undone
    assert [ref for ref in kernels if ref() is not None] == []


def test_quantize_keeps_a_freeze_the_process_made():
    import gc

    model = BertClassifier(backbone(), num_classes=3, encoder=encoder())
    already = gc.get_freeze_count()  # in the suite, what tests/conftest.py froze
    gc.freeze()  # as a pre-forking server does before its workers start
    try:
        frozen = gc.get_freeze_count()
        model.quantize("int8")
        # Still frozen: fewer only by the float weights freed (an unfreeze would leave 0).
        assert frozen > gc.get_freeze_count() > frozen - 10_000
    finally:
        if not already:  # an unfreeze here would also undo the suite's freeze: every later
            gc.unfreeze()  # collection walked all earlier files' objects again
