"""`BertClassifier`: sentence classification (binary, multi-class, multi-label) on a backbone."""

import keras
import numpy as np

from bertcls.tasks.base import Task, check_values
from bertcls.tasks.heads import POOLINGS, BertHead
from bertcls.tasks.prediction import (count_texts, predict_features, predict_strings,
                                      sorted_batches, text_encoder)
from bertcls.tasks.pretrained import load_task, read_settings, save_task_pretrained
from bertcls.text.inputs import pair_or_text


@keras.saving.register_keras_serializable(package="bertcls")
class BertClassifier(Task):
    """A sentence classifier: a backbone of any family and a many-to-one `BertHead`.

    Three tasks, picked by `num_classes` and `multi_label`:

    - binary (`num_classes=2`): one sigmoid unit, `BinaryCrossentropy`, accuracy; exactly
      the tutorial's model. Labels: 0/1, shape `(batch,)` or `(batch, 1)`.
    - multi-class (`num_classes > 2`): softmax, sparse categorical cross-entropy. Labels:
      class ids in `[0, num_classes)`, shape `(batch,)` or `(batch, 1)`.
    - multi-label (`multi_label=True`): one sigmoid per class, binary cross-entropy.
      Labels: 0/1 (or probabilities), shape `(batch, num_classes)`.

    Sentence pairs (NLI, paraphrase) are the same model on `[CLS] a [SEP] b [SEP]`: pass a
    tuple `(texts_a, texts_b)` to `make_dataset` and `predict_texts`, and name the classes
    with `labels=`.

    `fit` (training and `validation_data`) and `evaluate` check labels: numpy/list labels in
    full before running, a `tf.data.Dataset`'s label dtype and first batch before running and
    every batch as it is read (in the input pipeline). Wrong shape, non-numeric dtype, NaN,
    fractions for class ids and out-of-range values raise `ValueError` (naming the batch).
    Labels of Python generators and `keras.utils.PyDataset` are not checked.

    Args:
        backbone: a `BertBackbone` or another family's backbone (or any Keras model mapping
            the three int inputs to `sequence_output` and `pooled_output`).
        num_classes: number of classes (2 for binary); defaults to `len(labels)`, else 2.
        multi_label: independent sigmoid per class.
        pooling: None (default): the head transformers' `*ForSequenceClassification` of
            the backbone's family uses (`backbone.classifier_head`): the pooled output for
            BERT (the tutorial) and ALBERT; the first token through a hidden dense layer
            (tanh for RoBERTa / XLM-R, GELU for ELECTRA, ReLU for DistilBERT) for the others.
            Or `"pooled"`, `"cls"` or `"mean"`: a plain dense head on that; see `BertHead`.
        dropout: dropout before the dense layer (0 in the tutorial).
        head: a layer replacing the default `BertHead`; it receives the backbone's output
            dict plus `attention_mask` and must return probabilities of shape
            `(batch, 1)` (binary) or `(batch, num_classes)`.
        encoder: optional `FeatureEncoder`, needed by `predict_texts`/`predict_text` and
            string-in export. It is not applied in `call`: the model takes the encoder's dict.
        labels: optional class names, in class-id order (e.g.
            `["entailment", "neutral", "contradiction"]`; for binary, the names of 0 and 1).
            Saved with the model; `predict_texts`/`predict_text` then answer with names and
            `label_ids(names)` maps names to the ids `fit` takes.
        binary: None (default): two classes, single-label, is one sigmoid unit (the
            tutorial's binary model); False: a 2-unit softmax head instead (what a 2-label
            transformers checkpoint holds); True: insist on the sigmoid unit.

    Call arguments:
        inputs: dict of int `input_ids`, `attention_mask`, `token_type_ids` `(batch, length)`.

    Returns:
        probabilities `(batch, 1)` (binary) or `(batch, num_classes)`.

    Example:

    >>> from bertcls import BertBackbone, FeatureEncoder
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad", "movie"]
    >>> encoder = FeatureEncoder(vocab, max_seq_len=8)
    >>> backbone = BertBackbone(vocabulary_size=7, num_layers=1, num_heads=2,
    ...                         hidden_size=8, intermediate_size=16)
    >>> model = BertClassifier(backbone, num_classes=2, encoder=encoder)
    >>> model.compile()
    >>> x = encoder(["good movie", "bad movie"])
    >>> _ = model.fit(x, np.array([1, 0]), epochs=1, verbose=0)
    >>> result = model.predict_texts(["good movie", "bad"], batch_size=2)
    >>> result["labels"].shape, result["probabilities"].shape
    ((2,), (2,))
    """

    hf_task = "SequenceClassification"

    def __init__(self, backbone, num_classes=None, multi_label=False, pooling=None,
                 dropout=0.0, head=None, encoder=None, labels=None, binary=None, **kwargs):
        labels = _check_names(labels, num_classes)
        if num_classes is None:
            num_classes = len(labels) if labels is not None else 2
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
            raise ValueError(
                f"`num_classes` must be an integer >= 2 (2 for binary), received "
                f"{num_classes!r}.")
        spec = {"pooling": pooling}
        if pooling is None:
            spec = dict(getattr(backbone, "classifier_head", {"pooling": "pooled"}))
            pooling = spec["pooling"]
        if pooling not in POOLINGS:
            raise ValueError(
                f"`pooling` must be None or one of {POOLINGS}, received {pooling!r}.")
        if pooling == "pooled" and head is None and not getattr(backbone, "has_pooler", True):
            raise ValueError(
                f"pooling='pooled' needs a backbone with a pooler; {type(backbone).__name__} "
                f"has none. Use pooling=None (the family's head), 'cls' or 'mean'.")
        if binary is None:
            binary = num_classes == 2 and not multi_label
        elif binary not in (True, False):
            raise ValueError(f"`binary` must be None, True or False, received {binary!r}.")
        elif binary and (num_classes != 2 or multi_label):
            raise ValueError(
                f"`binary=True` (one sigmoid unit) needs num_classes=2 and multi_label=False, "
                f"received num_classes={num_classes!r}, multi_label={multi_label!r}.")
        # === Layers ===
        if head is None:
            head = BertHead(
                num_outputs=1 if binary else num_classes, task_type="many_to_one",
                pooling=pooling, activation="softmax" if not (binary or multi_label)
                else "sigmoid", dropout=dropout,
                hidden_activation=spec.get("hidden_activation"), name="classifier_head")
        outputs = self._wire(backbone, head, encoder, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.labels = labels
        self.multi_label = bool(multi_label)
        self.pooling = pooling
        self.dropout = dropout
        self.binary = binary
        width = 1 if binary else num_classes
        if outputs.shape[-1] != width:
            raise ValueError(
                f"The head must output {width} values per example for this task, its output "
                f"has shape {outputs.shape}.")

    @classmethod
    def from_preset(cls, preset, num_classes=None, multi_label=None, max_seq_len=None,
                    strict=False, new_head=False, labels=None, binary=None, **kwargs):
        """A classifier from a Hugging Face directory or Hub id, with the checkpoint's own
        head when it has one.

        A `*ForSequenceClassification` checkpoint of any family (one transformers wrote, or
        this class's `save_pretrained`) loads with its head: `num_labels`, `problem_type`
        (single-label softmax, a 2-label checkpoint included; multi-label sigmoid) and
        `id2label` (the label names; transformers' default `LABEL_0`, `LABEL_1`, ... mean
        none) come from `config.json`, and the probabilities equal softmax (sigmoid) of
        transformers' logits. A base or pre-training checkpoint (`klue/bert-base`) gets a
        new head: `num_classes` (default 2) and `multi_label` say which. As in keras-hub,
        `from_preset(x)` keeps a preset's head; bertcls refuses a `num_classes` that
        disagrees with it rather than dropping it silently: pass `new_head=True` for a new
        one. Every load logs one report of unused and newly initialised weights
        (`WeightReport`).

        The backbone's family comes from `config.json`'s `model_type`
        (`bertcls.backbone_from_preset`), the encoder from the tokenizer files present
        (`bertcls.encoder_from_preset`: WordPiece or SentencePiece).

        Args:
            preset: local directory (config.json, weights, tokenizer files) or Hub id.
            num_classes, multi_label, labels, binary: the task, as in the constructor; None:
                the checkpoint's (a value that disagrees with its head is an error unless
                `new_head`).
            max_seq_len: the encoder's maximum length (at most the checkpoint's
                `max_position_embeddings`); None: the length a bertcls `save_pretrained`
                recorded, else 128.
            strict: refuse a checkpoint with NaN/infinite weights, an unexpected tensor or a
                missing weight (a pooler the head reads, a head tensor), or a new head the
                call did not ask for.
            new_head: a new, randomly initialised head even when the checkpoint has one
                (the checkpoint's head is then reported as not used).
            **kwargs: other constructor arguments (`pooling`, `dropout`, `head`; a
                `pooling` or `head` other than the family's means a new head).

        Raises:
            ValueError: the checkpoint's head is another task's (a tagger's, a regressor's:
                the message names the class to use), or the task arguments disagree with it.
            bertcls.CheckpointError: unreadable or mismatched weights; see `strict`.

        Example:

        >>> import tempfile
        >>> from bertcls import ElectraBackbone, FeatureEncoder
        >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad", "movie"]
        >>> backbone = ElectraBackbone(vocabulary_size=7, num_layers=1, num_heads=2,
        ...                            hidden_size=8, intermediate_size=16)
        >>> model = BertClassifier(backbone, labels=["neg", "neu", "pos"],
        ...                        encoder=FeatureEncoder(vocab, max_seq_len=8))
        >>> directory = model.save_pretrained(tempfile.mkdtemp())
        >>> loaded = BertClassifier.from_preset(directory)
        >>> loaded.labels, loaded.encoder.max_seq_len
        (['neg', 'neu', 'pos'], 8)
        >>> bool(np.allclose(loaded.predict_texts(["good movie"])["probabilities"],
        ...                  model.predict_texts(["good movie"])["probabilities"], atol=1e-6))
        True
        """
        task_args = dict(num_classes=num_classes, multi_label=multi_label, labels=labels,
                         binary=binary)
        return load_task(cls, preset, task_args, max_seq_len=max_seq_len, strict=strict,
                         new_head=new_head, **kwargs)

    @classmethod
    def preset_arguments(cls, found, num_classes=None, multi_label=None, labels=None,
                         binary=None):
        """Constructor arguments from the checkpoint's head (`found`, a `CheckpointHead`,
        or None for a new head) and the caller's task arguments, which must agree with it."""
        if found is None:
            return dict(num_classes=num_classes, multi_label=bool(multi_label), labels=labels,
                        binary=binary)
        found_multi = found.problem_type == "multi_label_classification"
        n = found.num_labels
        names = labels if labels is not None else found.labels
        saved_binary = read_settings(found, "binary", bool, False)
        problems = []
        if num_classes is not None and num_classes != n:
            problems.append(f"num_classes={num_classes!r}")
        if multi_label is not None and bool(multi_label) != found_multi:
            problems.append(f"multi_label={multi_label!r}")
        if labels is not None and len(labels) != n:
            problems.append(f"{len(labels)} labels")
        if binary and (n != 2 or found_multi):
            problems.append("binary=True")
        if problems:
            raise ValueError(
                f"{', '.join(problems)} disagree{'s' if len(problems) == 1 else ''} with the "
                f"checkpoint's {found.architecture} head ({found.problem_type}, {n} labels"
                f"{': ' + ', '.join(found.labels) if found.labels else ''}). Leave them out "
                f"to use the checkpoint's head, or pass new_head=True for a new one.")
        return dict(num_classes=n, multi_label=found_multi, labels=names,
                    binary=saved_binary if binary is None else binary)

    # --- Training defaults -----------------------------------------------------------------

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """Keras `compile` with the tutorial's defaults: Adam(5e-5), the task's loss and
        accuracy. Any argument may be overridden.

        `micro_batch_tokens=N` (TensorFlow backend) lowers training memory: each batch's
        forward and backward pass run on slices of at most N tokens (rows x padded
        length), with one update per batch equal to the whole batch's (docs/benchmarks.md,
        "Memory")."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate=5e-5)
        if loss == "auto":
            loss = (keras.losses.SparseCategoricalCrossentropy() if self._multi_class
                    else keras.losses.BinaryCrossentropy())
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")
                       if self._multi_class else keras.metrics.BinaryAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    @property
    def _multi_class(self):
        return not (self.binary or self.multi_label)

    def check_labels(self, y, features=None):
        """Raise ValueError if `y` (array-like) cannot be this task's labels; return it as
        a numpy array otherwise. `features` is unused here (the tagger compares shapes)."""
        y = np.asarray(y)
        if y.dtype.kind in "OUS" and self.labels is not None:
            raise ValueError(
                "Labels are given by name; map them to class ids first: "
                f"`model.label_ids(names)` (this model's labels: {self.labels}).")
        if self.multi_label:
            if y.ndim != 2 or y.shape[1] != self.num_classes:
                raise ValueError(
                    f"Multi-label labels must have shape (batch, {self.num_classes}), "
                    f"received {y.shape}.")
            check_values(y, 0, 1, False, "Multi-label labels")
            return y
        if not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
            raise ValueError(
                f"Labels must have shape (batch,) or (batch, 1) (one class id per example), "
                f"received {y.shape}.")
        if self.binary:
            check_values(y, 0, 1, False, "Binary labels")
        else:
            check_values(y, 0, self.num_classes - 1, True,
                         f"Class ids (num_classes={self.num_classes})")
        return y

    # --- From text to answer ---------------------------------------------------------------

    def _answer(self, probabilities, threshold):
        if self.binary:
            p = probabilities[:, 0]
            ids, probabilities = (p > threshold).astype(np.int64), p
        elif self.multi_label:
            ids = (probabilities > threshold).astype(np.int64)
        else:
            ids = probabilities.argmax(axis=-1)
        if self.labels is None:
            return ids, probabilities
        if self.multi_label:
            return [[self.labels[j] for j in np.flatnonzero(row)] for row in ids], probabilities
        return np.asarray(self.labels)[ids], probabilities

    def label_ids(self, names):
        """Class ids for label names (`labels=` in the constructor), to train on named labels.

        Args:
            names: a list of label names; for a multi-label model, a list of lists of names.

        Returns:
            int64 class ids `(n,)`, or for multi-label a 0/1 float32 matrix
            `(n, num_classes)`.

        Raises:
            ValueError: the model has no label names, or a name is not one of them.

        Example:

        >>> from bertcls import BertBackbone
        >>> backbone = BertBackbone(vocabulary_size=8, num_layers=1, num_heads=2,
        ...                         hidden_size=8, intermediate_size=16)
        >>> model = BertClassifier(backbone, labels=["entailment", "neutral", "contradiction"])
        >>> model.num_classes, model.label_ids(["neutral", "contradiction"]).tolist()
        (3, [1, 2])
        """
        if self.labels is None:
            raise ValueError("This classifier has no label names; build it with "
                             "`labels=[...]` to map names to ids.")
        index = {name: i for i, name in enumerate(self.labels)}
        if isinstance(names, str):
            raise ValueError("label_ids takes a list of names, received a single string.")

        def lookup(name):
            if name not in index:
                raise ValueError(f"Unknown label {name!r}; this model's labels are "
                                 f"{self.labels}.")
            return index[name]

        if not self.multi_label:
            return np.asarray([lookup(name) for name in names], np.int64).reshape(-1)
        matrix = np.zeros((len(names), self.num_classes), np.float32)
        for row, row_names in enumerate(names):
            if isinstance(row_names, str):
                raise ValueError("A multi-label classifier takes a list of names per example, "
                                 f"received the string {row_names!r} at row {row}.")
            for name in row_names:
                matrix[row, lookup(name)] = 1.0
        return matrix

    def predict_texts(self, texts, batch_size=32, threshold=0.5):
        """Labels and probabilities for a list of strings.

        Texts are encoded in large chunks, sorted by token length into batches of one length
        (a multiple of 16 tokens off TensorFlow), run through a compiled forward pass, and
        returned in input order.

        Args:
            texts: list of strings, or sentence pairs as a tuple `(texts_a, texts_b)` of
                two equally long lists.
            batch_size: examples per forward pass.
            threshold: decision threshold for sigmoid outputs (binary, multi-label).

        Returns:
            dict with `labels` (`(n,)` class ids, or `(n, num_classes)` 0/1 for multi-label;
            with label names, an array of names, or for multi-label a list of name lists)
            and `probabilities` (`(n,)` positive-class probability for binary, else
            `(n, num_classes)` in class-id order).
        """
        encoder = text_encoder(self)
        width = 1 if self.binary else self.num_classes
        probabilities = np.zeros((count_texts(texts), width), np.float32)
        for indices, features, _ in sorted_batches(encoder, texts, batch_size):
            probabilities[indices] = predict_features(self, features)
        labels, probabilities = self._answer(probabilities, threshold)
        return {"labels": labels, "probabilities": probabilities}

    def predict_text(self, text, threshold=0.5):
        """One string, or one sentence pair as a tuple `(text_a, text_b)`:
        `(label, probability)` (the label's name when the model has `labels`) from one
        compiled call (on TensorFlow the encoder and the model
        run in a single traced function), for low-latency serving of single requests."""
        batch = pair_or_text(text, "text")
        labels, probabilities = self._answer(predict_strings(self, batch), threshold)
        label = labels[0]
        return (str(label) if isinstance(label, np.str_) else label), probabilities[0]

    # --- Hugging Face ----------------------------------------------------------------------

    def save_pretrained(self, directory, labels=None, **card):
        """Write this classifier for transformers' `AutoModelForSequenceClassification`.

        The backbone's weights under its family's names, the head under transformers'
        (`classifier`; `classifier.dense` / `classifier.out_proj` for RoBERTa and ELECTRA;
        `pre_classifier` / `classifier` for DistilBERT), `config.json` with `architectures`,
        `id2label` and `problem_type`, and the encoder's `vocab.txt` /
        `tokenizer_config.json`. softmax (sigmoid for multi-label) of transformers' logits
        equals this model's probabilities; a binary classifier is written as two logits
        `[0, z]` for its sigmoid logit `z`, so `softmax(logits)[:, 1]` is its probability
        (see `bertcls.tasks.pretrained`). `config.json`'s `bertcls` block records what
        transformers has no key for (the sigmoid binary head, the encoder's `max_seq_len`).
        `BertClassifier.from_preset(directory)` reads it all back, head and label names
        included; `bertcls.backbone_from_preset(directory)` the backbone alone. A model card
        (`README.md` with the Hub's YAML metadata) is written beside it.

        Args:
            directory: output directory (created if missing).
            labels: optional class names, index = class id (default: the model's `labels`,
                else `LABEL_0`, ...).
            **card: model card fields (`bertcls.tasks.model_card.model_card`):
                `base_model`, `results` (e.g. `{"dataset": "NSMC", "split": "test",
                "metric": "accuracy", "value": 0.90}`), `language`, `license`,
                `model_name`, `tags`.

        Returns:
            The directory path.

        Raises:
            ValueError: a custom head, or a head transformers' class for this family does
                not have (e.g. `pooling="mean"`).

        Example:

        >>> import os, tempfile
        >>> from bertcls import RobertaBackbone
        >>> backbone = RobertaBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
        ...                            hidden_size=8, intermediate_size=16)
        >>> directory = BertClassifier(backbone, num_classes=3).save_pretrained(
        ...     tempfile.mkdtemp(), labels=["neg", "neu", "pos"])
        >>> sorted(os.listdir(directory))
        ['README.md', 'config.json', 'model.safetensors']
        """
        if labels is None:
            labels = self.labels or [f"LABEL_{i}" for i in range(self.num_classes)]
        if len(labels) != self.num_classes or not all(isinstance(t, str) for t in labels):
            raise ValueError(
                f"`labels` must be {self.num_classes} strings, received {labels!r}.")
        return save_task_pretrained(
            self, directory, "SequenceClassification", list(labels),
            "multi_label_classification" if self.multi_label
            else "single_label_classification",
            settings={"binary": True} if self.binary else {}, card=card)

    # --- Serialization ---------------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **self.quantization_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "labels": self.labels,
            "multi_label": self.multi_label,
            "pooling": self.pooling,
            "dropout": self.dropout,
            "binary": self.binary,
            "head": keras.saving.serialize_keras_object(self.head),
            "encoder": (None if self.encoder is None
                        else keras.saving.serialize_keras_object(self.encoder)),
        }


def _check_names(labels, num_classes):
    if labels is None:
        return None
    if isinstance(labels, str) or not all(isinstance(name, str) for name in labels):
        raise ValueError(f"`labels` must be a list of label names (strings), received "
                         f"{labels!r}.")
    labels = list(labels)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"`labels` must hold at least 2 distinct names, received {labels!r}.")
    if num_classes is not None and num_classes != len(labels):
        raise ValueError(f"`num_classes` ({num_classes}) disagrees with the {len(labels)} "
                         f"`labels` given.")
    return labels
