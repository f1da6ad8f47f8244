"""A worked extension (docs/extending.md): extractive question answering with a span head.

Built only from public pieces: `BertBackbone`, `BertHead` (many-to-many, logits, 2 outputs:
start and end) and `FeatureEncoder` sentence pairs.
"""

import keras
import numpy as np
from keras import ops

from bertcls import BertBackbone, BertHead, FeatureEncoder

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "who", "where", "kim", "lee", "went",
         "to", "seoul", "busan"]


@keras.saving.register_keras_serializable(package="bertcls_examples")
class SpanHead(keras.layers.Layer):
    """Start/end logits per token; positions outside the context get a large negative."""

    def __init__(self, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.dropout = dropout
        self.scores = BertHead(num_outputs=2, task_type="many_to_many", activation=None,
                               dropout=dropout, name="span_scores")

    def call(self, inputs, training=None):
        logits = self.scores(inputs, training=training)
        # Only context tokens (segment 1, not padding) can start or end an answer.
        allowed = ops.cast(inputs["token_type_ids"] * inputs["attention_mask"], logits.dtype)
        logits = logits + (1.0 - allowed[..., None]) * -1e4
        return {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}

    def get_config(self):
        return dict(super().get_config(), dropout=self.dropout)


def build_qa_model(backbone):
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
              for name in ("input_ids", "attention_mask", "token_type_ids")}
    features = dict(backbone(inputs), attention_mask=inputs["attention_mask"],
                    token_type_ids=inputs["token_type_ids"])
    return keras.Model(inputs, SpanHead(name="span_head")(features))


def toy_qa(encoder, n, seed=0):
    rng = np.random.default_rng(seed)
    questions, contexts, starts = [], [], []
    for _ in range(n):
        person, place = rng.choice(["kim", "lee"]), rng.choice(["seoul", "busan"])
        ask_person = bool(rng.integers(0, 2))
        questions.append("who" if ask_person else "where")
        contexts.append(f"{person} went to {place}")
        # [CLS] q [SEP] person went to place [SEP]: person at 3, place at 6.
        starts.append(3 if ask_person else 6)
    x = {k: np.asarray(v) for k, v in encoder((questions, contexts)).items()}
    y = np.array(starts)
    return x, {"start_logits": y, "end_logits": y}


def test_span_head_learns_toy_extractive_qa():
    keras.utils.set_random_seed(0)
    encoder = FeatureEncoder(VOCAB, max_seq_len=10)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=16, intermediate_size=32, dropout=0.0,
                            attention_dropout=0.0)
    model = build_qa_model(backbone)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss={"start_logits": loss, "end_logits": loss})
    x, y = toy_qa(encoder, 64)
    before = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0)[0]
    assert after < 0.3 * before
    predicted = model.predict_on_batch(x)
    assert np.mean(np.argmax(predicted["start_logits"], -1) == y["start_logits"]) > 0.9
    # Question tokens can never be chosen.
    assert np.all(np.argmax(predicted["end_logits"], -1) >= 3)
