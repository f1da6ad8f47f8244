"""A worked extension (docs/extending.md): a multi-task head, one backbone pass giving a sentence
class (intent) and per-token tags (slots), trained with one loss per output.

Built only from public pieces: `BertBackbone`, two `BertHead`s (many-to-one and many-to-many),
`FeatureEncoder` with offsets, `MaskedSparseCategoricalCrossentropy` / `MaskedAccuracy` for
the tags.
"""

import keras
import numpy as np

from bertcls import (BertBackbone, BertHead, FeatureEncoder, MaskedAccuracy,
                     MaskedSparseCategoricalCrossentropy)

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "book", "a", "flight", "to", "play",
         "some", "seoul", "busan", "jazz", "rock"]
INTENTS = ["book_flight", "play_music"]
TAGS = ["O", "B-CITY", "B-GENRE"]


@keras.saving.register_keras_serializable(package="bertcls_examples")
class JointHead(keras.layers.Layer):
    """A sentence class and a tag per token from the same backbone outputs."""

    def __init__(self, num_classes, num_tags, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.num_tags, self.dropout = num_classes, num_tags, dropout
        self.sentence = BertHead(num_outputs=num_classes, pooling="pooled", activation="softmax",
                                 dropout=dropout, name="intent")
        self.tokens = BertHead(num_outputs=num_tags, task_type="many_to_many",
                               activation="softmax", dropout=dropout, name="tags")

    def build(self, input_shape):
        self.sentence.build(input_shape)
        self.tokens.build(input_shape)

    def call(self, inputs, training=None):
        return {"intent": self.sentence(inputs, training=training),
                "tags": self.tokens(inputs, training=training)}

    def get_config(self):
        return dict(super().get_config(), num_classes=self.num_classes,
                    num_tags=self.num_tags, dropout=self.dropout)


def build_joint_model(backbone, num_classes, num_tags):
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
              for name in ("input_ids", "attention_mask", "token_type_ids")}
    features = dict(backbone(inputs), attention_mask=inputs["attention_mask"])
    outputs = JointHead(num_classes, num_tags, name="joint_head")(features)
    return keras.Model(inputs, outputs)


def toy_data(encoder, n, seed=0):
    """"book a flight to <city>" (intent 0, the city tagged) and "play some <genre>"
    (intent 1, the genre tagged); tags go on tokens, -100 on [CLS]/[SEP]/padding."""
    rng = np.random.default_rng(seed)
    texts, intents = [], []
    for _ in range(n):
        if rng.integers(0, 2):
            texts.append(f"play some {rng.choice(['jazz', 'rock'])}")
            intents.append(1)
        else:
            texts.append(f"book a flight to {rng.choice(['seoul', 'busan'])}")
            intents.append(0)
    x = {k: np.asarray(v) for k, v in encoder(texts).items()}
    tags = np.full(x["input_ids"].shape, -100)
    for row, intent in enumerate(intents):
        length = int(x["attention_mask"][row].sum())
        tags[row, 1:length - 1] = 0
        tags[row, length - 2] = 2 if intent else 1  # the last word: the genre or the city
    return x, {"intent": np.array(intents), "tags": tags}


def test_joint_head_learns_intent_and_tags(tmp_path):
    keras.utils.set_random_seed(0)
    encoder = FeatureEncoder(VOCAB, max_seq_len=8)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=16, intermediate_size=32, dropout=0.0,
                            attention_dropout=0.0)
    model = build_joint_model(backbone, len(INTENTS), len(TAGS))
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss={"intent": keras.losses.SparseCategoricalCrossentropy(),
                        "tags": MaskedSparseCategoricalCrossentropy()},
                  metrics={"intent": ["accuracy"], "tags": [MaskedAccuracy()]})
    x, y = toy_data(encoder, 64)
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0, return_dict=True)
    assert after["loss"] < 0.2 * before["loss"]
    predicted = model.predict_on_batch(x)
    assert np.mean(predicted["intent"].argmax(-1) == y["intent"]) == 1.0
    kept = y["tags"] != -100
    assert np.mean(predicted["tags"].argmax(-1)[kept] == y["tags"][kept]) > 0.95
    # Registered and configured: a .keras round trip gives the same outputs.
    model.save(tmp_path / "joint.keras")
    loaded = keras.models.load_model(tmp_path / "joint.keras", compile=False)
    np.testing.assert_allclose(loaded.predict_on_batch(x)["tags"], predicted["tags"],
                               atol=1e-6)
