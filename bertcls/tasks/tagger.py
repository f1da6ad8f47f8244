"""`BertTagger`: per-token tagging (NER) on a backbone, with -100 positions ignored."""

import keras
import numpy as np
from keras import ops

from bertcls.tasks.base import Task
from bertcls.tasks.heads import BertHead
from bertcls.tasks.ner import IGNORE_INDEX, LEVELS, decode_entities
from bertcls.tasks.pretrained import load_task, read_settings, save_task_pretrained
from bertcls.tasks.prediction import predict_features, sorted_batches, text_encoder
from bertcls.text.inputs import pair_or_text, string_list


@keras.saving.register_keras_serializable(package="bertcls")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Sparse categorical cross-entropy averaged over the positions whose label is not
    `ignore_index` (-100: padding, `[CLS]`/`[SEP]`, non-first sub-tokens).

    Labels at ignored positions never reach the loss, whatever their value. `call` returns
    one value per example (its labelled tokens' share of the batch mean, so that Keras'
    default reduction gives the mean over all labelled tokens of the batch); under a
    tf.distribute strategy each replica's mean is divided by the replica count like any Keras
    loss. With `reduction=None` the per-example values sum to `batch_size` times the mean.

    Args:
        from_logits: whether predictions are logits rather than probabilities.
        ignore_index: the label value to ignore.

    Example:

    >>> import numpy as np
    >>> loss = MaskedSparseCategoricalCrossentropy()
    >>> y_pred = np.array([[[0.9, 0.1], [0.5, 0.5]]], "float32")
    >>> round(float(loss(np.array([[0, -100]]), y_pred)), 4)
    0.1054
    """

    def __init__(self, from_logits=False, ignore_index=IGNORE_INDEX,
                 name="masked_sparse_categorical_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.from_logits = from_logits
        self.ignore_index = ignore_index

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, -1)
        mask = ops.not_equal(y_true, self.ignore_index)
        safe = ops.where(mask, y_true, ops.zeros_like(y_true))
        losses = keras.losses.sparse_categorical_crossentropy(
            safe, y_pred, from_logits=self.from_logits)
        mask = ops.cast(mask, losses.dtype)
        # One value per example, its labelled tokens' losses summed and scaled so that
        # Keras' reduction (sum over the batch / batch size) gives the mean over the batch's
        # labelled tokens. Not a scalar: Keras returns a scalar from `call` as it is, without
        # dividing it by the replica count of a tf.distribute strategy, whose replicas' losses
        # (and gradients) are then summed: the loss and the step came out N times too large.
        batch = ops.cast(ops.shape(losses)[0], losses.dtype)
        return ops.sum(losses * mask, axis=-1) * batch / ops.maximum(ops.sum(mask), 1.0)

    def get_config(self):
        config = super().get_config()
        config.update({"from_logits": self.from_logits, "ignore_index": self.ignore_index})
        return config


@keras.saving.register_keras_serializable(package="bertcls")
class MaskedAccuracy(keras.metrics.Metric):
    """Token accuracy over positions whose label is not `ignore_index` (-100).

    Example:

    >>> import numpy as np
    >>> metric = MaskedAccuracy()
    >>> metric.update_state(np.array([[1, 0, -100]]),
    ...                     np.array([[[0.2, 0.8], [0.3, 0.7], [0.9, 0.1]]]))
    >>> float(metric.result())
    0.5
    """

    def __init__(self, ignore_index=IGNORE_INDEX, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ignore_index = ignore_index
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, -1)
        mask = ops.cast(ops.not_equal(y_true, self.ignore_index), "float32")
        if sample_weight is not None:
            weight = ops.cast(sample_weight, "float32")
            while len(weight.shape) < len(mask.shape):
                weight = ops.expand_dims(weight, -1)
            mask = mask * weight
        hits = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true),
                        "float32")
        self.correct.assign_add(ops.sum(hits * mask))
        self.count.assign_add(ops.sum(mask))

    def result(self):
        return self.correct / ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        config = super().get_config()
        config["ignore_index"] = self.ignore_index
        return config


@keras.saving.register_keras_serializable(package="bertcls")
class BertTagger(Task):
    """A token tagger: a `BertBackbone` and a many-to-many `BertHead` (softmax per token).

    Labels are int tag ids of shape `(batch, length)` (the encoder's length), with -100 at
    positions loss and metrics ignore: padding, `[CLS]`/`[SEP]` and, for word-level tags,
    sub-tokens after a word's first (`bertcls.encode_tagged` builds them). `fit`/`evaluate`
    check labels (shape equal to `input_ids`, integer values, each in `[0, num_tags)` or
    -100): in full before training for numpy arrays; for a `tf.data` dataset the first batch
    before training, then every batch as it is read (a `ValueError` naming the batch).

    Args:
        backbone: a `BertBackbone` or another family's backbone.
        tags: list of tag strings (e.g. `["O", "B-PS", "I-PS"]`), index = tag id; needed to
            decode entities. Give either `tags` or `num_tags`.
        num_tags: number of tags when names are not known.
        dropout: dropout before the dense layer.
        head: a layer replacing the default head; receives the backbone outputs plus
            `attention_mask`, returns `(batch, length, num_tags)` probabilities.
        encoder: optional `FeatureEncoder` for `predict_texts` and export.
        level: `"char"` or `"word"`: how tags were aligned (see `bertcls.tasks.ner`); used to
            decode entities.

    Call arguments:
        inputs: dict of int `input_ids`, `attention_mask`, `token_type_ids`.

    Returns:
        tag probabilities `(batch, length, num_tags)`.

    Example:

    >>> from bertcls import BertBackbone, FeatureEncoder
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "kim", "went", "to", "seoul"]
    >>> encoder = FeatureEncoder(vocab, max_seq_len=8)
    >>> backbone = BertBackbone(vocabulary_size=8, num_layers=1, num_heads=2,
    ...                         hidden_size=8, intermediate_size=16)
    >>> tagger = BertTagger(backbone, tags=["O", "B-PS", "I-PS"], encoder=encoder,
    ...                     level="word")
    >>> tagger.compile()
    >>> x = encoder(["kim went"])
    >>> y = np.array([[-100, 1, 0, -100, -100, -100, -100, -100]])
    >>> _ = tagger.fit(x, y, epochs=1, verbose=0)
    >>> spans = tagger.predict_texts(["kim went to seoul"])
    >>> len(spans)
    1
    """

    hf_task = "TokenClassification"

    def __init__(self, backbone, tags=None, num_tags=None, dropout=0.1, head=None,
                 encoder=None, level="char", **kwargs):
        if tags is not None:
            tags = list(tags)
            if not tags or not all(isinstance(t, str) for t in tags) or (
                    len(set(tags)) != len(tags)):
                raise ValueError(
                    f"`tags` must be a non-empty list of distinct tag strings, received "
                    f"{tags!r}.")
            if num_tags is not None and num_tags != len(tags):
                raise ValueError(
                    f"`num_tags` ({num_tags}) disagrees with the {len(tags)} `tags` given.")
            num_tags = len(tags)
        if not isinstance(num_tags, int) or isinstance(num_tags, bool) or num_tags < 1:
            raise ValueError(
                f"Give `tags` (list of strings) or `num_tags` (positive integer); received "
                f"tags={tags!r}, num_tags={num_tags!r}.")
        if level not in LEVELS:
            raise ValueError(f"`level` must be one of {LEVELS}, received {level!r}.")
        # === Layers ===
        if head is None:
            head = BertHead(num_outputs=num_tags, task_type="many_to_many",
                            activation="softmax", dropout=dropout, name="tagger_head")
        outputs = self._wire(backbone, head, encoder, **kwargs)

        # === Config ===
        self.tags = tags
        self.num_tags = num_tags
        self.dropout = dropout
        self.level = level
        if len(outputs.shape) != 3 or outputs.shape[-1] != num_tags:
            raise ValueError(
                f"The head must output (batch, length, {num_tags}), its output has shape "
                f"{outputs.shape}.")

    @classmethod
    def from_preset(cls, preset, tags=None, num_tags=None, max_seq_len=None, strict=False,
                    new_head=False, level=None, **kwargs):
        """A tagger from a Hugging Face directory or Hub id, with the checkpoint's own head
        when it has one.

        A `*ForTokenClassification` checkpoint of any family (transformers', or this class's
        `save_pretrained`) loads with its `classifier` head, `id2label` as the tags and the
        recorded `level`; softmax of transformers' logits equals the probabilities. A base or
        pre-training checkpoint gets a new head of `tags` / `num_tags`. Tags that disagree
        with the checkpoint's head are an error unless `new_head=True`; a sequence
        classification or QA checkpoint is an error naming the class that loads it. The
        tagger never reads the pooler, so a checkpoint without one loads under `strict`.
        One report of unused and newly initialised weights is logged (`WeightReport`).

        Args:
            preset: local directory or Hub id.
            tags, num_tags, level: as in the constructor; None: the checkpoint's.
            max_seq_len: the encoder's length; None: the one `save_pretrained` recorded,
                else 128 (at most the checkpoint's positions).
            strict: refuse NaN/infinite weights, unexpected tensors and missing weights.
            new_head: a new head even when the checkpoint has one.
            **kwargs: other constructor arguments (`dropout`, `head`).

        Example:

        >>> import tempfile
        >>> from bertcls import BertBackbone, FeatureEncoder
        >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "kim", "went", "to", "seoul"]
        >>> backbone = BertBackbone(vocabulary_size=8, num_layers=1, num_heads=2,
        ...                         hidden_size=8, intermediate_size=16)
        >>> tagger = BertTagger(backbone, tags=["O", "B-PS", "I-PS"], level="word",
        ...                     encoder=FeatureEncoder(vocab, max_seq_len=8))
        >>> loaded = BertTagger.from_preset(tagger.save_pretrained(tempfile.mkdtemp()))
        >>> loaded.tags, loaded.level
        (['O', 'B-PS', 'I-PS'], 'word')
        """
        return load_task(cls, preset, dict(tags=tags, num_tags=num_tags, level=level),
                         max_seq_len=max_seq_len, strict=strict, new_head=new_head, **kwargs)

    @classmethod
    def preset_arguments(cls, found, tags=None, num_tags=None, level=None):
        """Constructor arguments from the checkpoint's head (`found`, or None for a new
        head) and the caller's, which must agree with it."""
        level = level or read_settings(found, "level", str, "char")
        if found is None:
            return dict(tags=tags, num_tags=num_tags, level=level)
        n = found.num_labels
        if (tags is not None and len(tags) != n) or (num_tags is not None and num_tags != n):
            raise ValueError(
                f"tags={tags!r}, num_tags={num_tags!r} disagree with the checkpoint's "
                f"{found.architecture} head ({n} tags"
                f"{': ' + ', '.join(found.labels) if found.labels else ''}). Leave them out "
                f"to use the checkpoint's head, or pass new_head=True for a new one.")
        names = tags if tags is not None else found.labels
        return dict(tags=names, num_tags=None if names is not None else n, level=level)

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """Keras `compile` with defaults Adam(5e-5), `MaskedSparseCategoricalCrossentropy`
        and `MaskedAccuracy`; any argument may be overridden."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate=5e-5)
        if loss == "auto":
            loss = MaskedSparseCategoricalCrossentropy()
        if metrics == "auto":
            metrics = [MaskedAccuracy()]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def check_labels(self, y, features=None):
        """Raise ValueError unless `y` holds tag ids in `[0, num_tags)` or -100, shaped like
        `features["input_ids"]` (when given)."""
        y = np.asarray(y)
        if y.dtype.kind not in "iu" and not (
                y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y))):
            raise ValueError(
                f"Tag labels must be integer tag ids (or -100), received dtype {y.dtype}.")
        if y.ndim != 2:
            raise ValueError(
                f"Tag labels must have shape (batch, length), received {y.shape}.")
        if isinstance(features, dict) and "input_ids" in features:
            expected = tuple(np.shape(features["input_ids"]))
            if tuple(y.shape) != expected:
                raise ValueError(
                    f"Tag labels must have the shape of input_ids {expected}, received "
                    f"{y.shape}.")
        bad = (y != IGNORE_INDEX) & ((y < 0) | (y >= self.num_tags))
        if np.any(bad):
            raise ValueError(
                f"Tag labels must be in [0, {self.num_tags}) or {IGNORE_INDEX} (ignored), "
                f"received {sorted(set(y[bad].tolist()))[:5]}.")
        return y

    def predict_texts(self, texts, batch_size=32):
        """Entity spans for a list of strings (sorted-by-length batches, input order kept).

        Returns:
            one list of `Entity(type, start, end, text)` per input text.
        """
        if self.tags is None:
            raise ValueError("predict_texts needs tag names: build the tagger with `tags=`.")
        if isinstance(texts, tuple):
            raise ValueError("BertTagger tags single texts; it does not take sentence pairs "
                             "(a tuple (texts_a, texts_b)). Pass a list of strings.")
        encoder = text_encoder(self, offsets=True)
        texts = string_list(texts)
        results = [None] * len(texts)
        for indices, features, offsets in sorted_batches(encoder, texts, batch_size):
            ids = predict_features(self, features).argmax(axis=-1)
            for row, index in enumerate(indices):
                names = [self.tags[t] for t in ids[row]]
                results[index] = decode_entities(texts[index], offsets[row], names, self.level)
        return results

    def predict_text(self, text):
        """Entity spans of one string, without batching or sorting."""
        pair_or_text(text, "text", pairs=False)
        return self.predict_texts([text], batch_size=1)[0]

    def save_pretrained(self, directory, **card):
        """Write this tagger for transformers' `AutoModelForTokenClassification`.

        The backbone's weights under its family's names, the head as `classifier`,
        `config.json` with `architectures` and `id2label` (the tags, or `LABEL_i`), and the
        encoder's tokenizer files. softmax of transformers' logits equals this model's
        probabilities. `config.json`'s `bertcls` block records the `level` and the encoder's
        `max_seq_len`, and a model card (`README.md`) is written; `BertTagger.from_preset`
        reads the directory back whole.

        Args:
            directory: output directory (created if missing).
            **card: model card fields, as in `BertClassifier.save_pretrained`.

        Returns:
            The directory path.

        Example:

        >>> import json, os, tempfile
        >>> from bertcls import ElectraBackbone
        >>> backbone = ElectraBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
        ...                            hidden_size=8, intermediate_size=16)
        >>> directory = BertTagger(backbone, tags=["O", "B-PS", "I-PS"]).save_pretrained(
        ...     tempfile.mkdtemp())
        >>> json.load(open(os.path.join(directory, "config.json")))["architectures"]
        ['ElectraForTokenClassification']
        """
        tags = self.tags or [f"LABEL_{i}" for i in range(self.num_tags)]
        return save_task_pretrained(self, directory, "TokenClassification", tags,
                                    settings={"level": self.level}, card=card)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **self.quantization_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "tags": self.tags,
            "num_tags": self.num_tags,
            "dropout": self.dropout,
            "head": keras.saving.serialize_keras_object(self.head),
            "encoder": (None if self.encoder is None
                        else keras.saving.serialize_keras_object(self.encoder)),
            "level": self.level,
        }
