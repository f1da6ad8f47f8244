"""`SiameseModel`: fine-tuning a `SentenceEmbedder` on pairs, with Sentence-BERT's objectives."""

import warnings

import keras
import numpy as np
from keras import ops

from bertcls.tasks.base import check_data, check_values, no_shuffle_for_datasets
from bertcls.tasks.embedder import SentenceEmbedder

OBJECTIVES = ("cosine", "ranking", "softmax")
SIDES = ("a", "b", "negative")


def _unit(x):
    # torch.nn.functional.normalize: x / max(||x||, 1e-12)
    return x / ops.maximum(ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True)), 1e-12)


@keras.saving.register_keras_serializable(package="bertcls")
class MultipleNegativesRankingLoss(keras.losses.Loss):
    """In-batch negatives: cross-entropy of each row of a similarity matrix against its
    diagonal (sentence-transformers' `MultipleNegativesRankingLoss`, InfoNCE).

    `y_pred` is `(batch, candidates)`: scaled similarities of anchor `i` with every positive
    (column `i` is its own), then any hard negatives. `y_true` is ignored: the target of row
    `i` is column `i`.

    Example:

    >>> import numpy as np
    >>> scores = np.array([[20.0, 0.0], [0.0, 20.0]], "float32")
    >>> round(float(MultipleNegativesRankingLoss()(np.zeros(2), scores)), 6)
    0.0
    """

    def __init__(self, name="multiple_negatives_ranking_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        targets = ops.arange(ops.shape(y_pred)[0])
        return keras.losses.sparse_categorical_crossentropy(targets, y_pred, from_logits=True)


@keras.saving.register_keras_serializable(package="bertcls")
class SiameseModel(keras.Model):
    """Trains a `SentenceEmbedder` on sentence pairs the way Sentence-BERT does: both sides
    go through the same embedder (shared weights), and a loss compares the two vectors.

    Three objectives (sentence-transformers' losses of the same names):

    - `"cosine"` (`CosineSimilarityLoss`, STS): the output is `cos(u, v)`, `(batch, 1)`, the
      loss the mean squared error to the label. Labels are similarities in [-1, 1]: divide
      STS scores (0-5) by 5, as the SBERT paper does.
    - `"ranking"` (`MultipleNegativesRankingLoss`, retrieval; no labels): the output is
      `scale * cos(a_i, b_j)` for every pair of the batch, `(batch, batch)` (plus a column
      per hard negative when the input has `negative`), and the loss cross-entropy with
      `b_i` as the right answer for `a_i`: the other rows' positives are the negatives. Under
      a distribution strategy each replica uses its own part of the batch.
    - `"softmax"` (`SoftmaxLoss`, NLI, the SBERT paper's objective): a dense layer maps
      `(u, v, |u - v|)` to `num_labels` logits, with sparse categorical cross-entropy.
      Labels are class ids.

    The embedder sees each side padded to its own length (`make_siamese_dataset`); dropout
    runs independently on both sides. Only the embedder is kept after training:
    `model.embedder.save(...)` or `export_text_model(model.embedder, ...)`.

    Args:
        embedder: the `SentenceEmbedder` to train.
        objective: `"cosine"`, `"ranking"` or `"softmax"`.
        scale: the ranking objective's similarity scale (inverse temperature; 20 as in
            sentence-transformers).
        num_labels: classes of the softmax objective.

    Call arguments:
        inputs: dict with `a` and `b` (and for `"ranking"` optionally `negative`), each the
            encoder's dict for one side.

    Returns:
        `(batch, 1)` cosines, `(batch, batch * (1 + negatives))` scaled similarities, or
        `(batch, num_labels)` logits.

    Example:

    >>> from bertcls import (BertBackbone, FeatureEncoder, SentenceEmbedder,
    ...                      make_siamese_dataset)
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad", "movie", "film"]
    >>> encoder = FeatureEncoder(vocab, max_seq_len=8)
    >>> backbone = BertBackbone(vocabulary_size=8, num_layers=1, num_heads=2,
    ...                         hidden_size=8, intermediate_size=16)
    >>> embedder = SentenceEmbedder(backbone, encoder=encoder)
    >>> model = SiameseModel(embedder, objective="cosine")
    >>> model.compile()
    >>> pairs = (["good movie", "bad movie"], ["good film", "good film"])
    >>> data = make_siamese_dataset(pairs, np.array([0.9, 0.1]), encoder=encoder, batch_size=2)
    >>> history = model.fit(data, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['loss']
    """

    def __init__(self, embedder, objective="cosine", scale=20.0, num_labels=3, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(embedder, SentenceEmbedder):
            raise ValueError(
                f"`embedder` must be a SentenceEmbedder, received {type(embedder).__name__}.")
        if objective not in OBJECTIVES:
            raise ValueError(f"`objective` must be one of {OBJECTIVES}, received {objective!r}.")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
            raise ValueError(f"`scale` must be a positive number, received {scale!r}.")
        if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 2:
            raise ValueError(f"`num_labels` must be an integer >= 2, received {num_labels!r}.")
        # === Config ===
        self.embedder = embedder
        self.objective = objective
        self.scale = float(scale)
        self.num_labels = num_labels
        # === Layers ===
        self.classifier = None
        if objective == "softmax":
            self.classifier = keras.layers.Dense(num_labels, name="classifier")
            self.classifier.build((None, 3 * embedder.embedding_dim))

    def call(self, inputs, training=None):
        if not isinstance(inputs, dict) or "a" not in inputs or "b" not in inputs:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(f"SiameseModel takes a dict with `a` and `b` (the encoder's dict "
                             f"for each side), received {got}.")
        if "negative" in inputs and self.objective != "ranking":
            raise ValueError("Hard negatives (`negative`) are only used by objective='ranking'.")
        u = self.embedder(inputs["a"], training=training)
        v = self.embedder(inputs["b"], training=training)
        if self.objective == "cosine":
            # (batch, 1), not (batch,): Keras reduces a loss that comes out as a scalar
            # without scaling it for the replicas of a tf.distribute strategy.
            return ops.sum(_unit(u) * _unit(v), axis=-1, keepdims=True)
        if self.objective == "ranking":
            candidates = v
            if "negative" in inputs:
                negatives = self.embedder(inputs["negative"], training=training)
                candidates = ops.concatenate([v, negatives], axis=0)
            return self.scale * ops.matmul(_unit(u), ops.transpose(_unit(candidates)))
        return self.classifier(ops.concatenate([u, v, ops.abs(u - v)], axis=-1))

    # --- Training defaults -----------------------------------------------------------------

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """Keras `compile` with defaults: Adam(2e-5) with the gradient norm clipped at 1 (the
        SBERT paper's learning rate; sentence-transformers' clipping), the objective's loss
        (MSE, `MultipleNegativesRankingLoss`, sparse categorical cross-entropy on logits),
        and accuracy for `"softmax"`. Any argument may be overridden."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate=2e-5, global_clipnorm=1.0)
        if loss == "auto":
            loss = {"cosine": keras.losses.MeanSquaredError(),
                    "ranking": MultipleNegativesRankingLoss(),
                    "softmax": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    }[self.objective]
        if metrics == "auto":
            metrics = ([keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
                       if self.objective == "softmax" else None)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y is None and self.objective == "ranking":
            y = ops.zeros((ops.shape(y_pred)[0],), "int32")  # the loss reads no labels
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    def check_labels(self, y, features=None):
        """Raise ValueError unless `y` suits the objective: similarities in [-1, 1] for
        `"cosine"`, class ids in `[0, num_labels)` for `"softmax"`; `"ranking"` takes none."""
        y = np.asarray(y)
        if self.objective == "ranking":
            raise ValueError("objective='ranking' takes no labels: in-batch positives are the "
                             "pairs themselves; pass the pairs alone.")
        if not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
            raise ValueError(f"Labels must have shape (batch,) or (batch, 1), received "
                             f"{y.shape}.")
        if self.objective == "cosine":
            check_values(y, -1, 1, False, "Similarity labels (cosine objective; divide STS "
                         "scores 0-5 by 5)")
        else:
            check_values(y, 0, self.num_labels - 1, True,
                         f"Class ids (num_labels={self.num_labels})")
        return y

    def fit(self, x=None, y=None, **kwargs):
        """Keras `fit`, after checking the labels (see `check_labels`; numpy labels in full,
        a dataset's first batch)."""
        check_data(self, x, y)
        no_shuffle_for_datasets(x, kwargs)
        validation = kwargs.get("validation_data")
        if validation is not None and not isinstance(validation, (tuple, list)):
            check_data(self, validation, None)
        elif isinstance(validation, (tuple, list)) and len(validation) >= 2:
            check_data(self, validation[0], validation[1])
        # Sentence embeddings never read the backbone's pooler; Keras would warn that it gets
        # no gradient on every fit.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r"Gradients do not exist for variables \['pooler_dense")
            return super().fit(x, y, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        check_data(self, x, y)
        return super().evaluate(x, y, **kwargs)

    def compile_from_config(self, config):
        # Keras skips compile on load when compile() is overridden; ours takes the same args.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if hasattr(self, "optimizer") and self.built:
            self.optimizer.build(self.trainable_variables)

    # --- Serialization ---------------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "embedder": keras.saving.serialize_keras_object(self.embedder),
            "objective": self.objective,
            "scale": self.scale,
            "num_labels": self.num_labels,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("embedder"), dict):
            config["embedder"] = keras.saving.deserialize_keras_object(config["embedder"])
        return cls(**config)
