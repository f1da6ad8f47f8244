"""bertcls's own code paths raise no warnings: a short fit, evaluate and predict of the
README's pipeline (make_dataset -> fit -> predict_texts) print only the progress."""

import os
import warnings

import keras
import numpy as np

import bertcls
from bertcls import (BertBackbone, BertClassifier, FeatureEncoder, SentenceEmbedder,
                     SiameseModel, make_dataset, make_siamese_dataset)

PACKAGE = os.path.dirname(os.path.abspath(bertcls.__file__))
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "very"]
# The three that bertcls's usage used to trigger in TensorFlow and Keras.
KNOWN = ("`deterministic` argument has no effect", "ran out of data",
         "`shuffle=True` was passed")


def offending(caught):
    return [f"{w.filename}:{w.lineno}: {w.message}" for w in caught
            if os.path.abspath(w.filename).startswith(PACKAGE)
            or any(text in str(w.message) for text in KNOWN)]


def test_fit_evaluate_predict_raise_no_warnings():
    keras.utils.set_random_seed(0)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=16, intermediate_size=32)
    model = BertClassifier(backbone, encoder=FeatureEncoder(VOCAB, max_seq_len=40))
    model.compile()
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(["good", "bad", "movie", "very"], size=rng.integers(1, 30)))
             for _ in range(40)]
    labels = np.array([int("good" in t) for t in texts])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train = make_dataset(texts[:32], labels[:32], encoder=model.encoder, batch_size=4,
                             shuffle=True, seed=1)
        val = make_dataset(texts[32:], labels[32:], encoder=model.encoder, batch_size=4)
        model.fit(train, validation_data=val, epochs=2, verbose=0)
        model.evaluate(val, verbose=0)
        model.predict_texts(texts[:5])
        model.predict_text("good movie")
    assert offending(caught) == []


def test_siamese_fit_raises_no_warnings():
    keras.utils.set_random_seed(0)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=16, intermediate_size=32)
    embedder = SentenceEmbedder(backbone, encoder=FeatureEncoder(VOCAB, max_seq_len=40))
    model = SiameseModel(embedder, objective="cosine")
    model.compile()
    a = ["good movie", "bad movie very bad", "very good", "movie"] * 4
    b = ["good", "bad", "good movie very very good movie good", "movie movie"] * 4
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = make_siamese_dataset((a, b), np.linspace(0, 1, 16, dtype="float32"),
                                    encoder=embedder.encoder, batch_size=4, shuffle=True,
                                    seed=0)
        model.fit(data, epochs=2, verbose=0)
        embedder.similarity(a[:2], b[:2])
    assert offending(caught) == []
