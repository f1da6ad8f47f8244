"""`BertRegressor`: real-valued targets (e.g. STS similarity 0-5) from the pooled output."""

import keras
import numpy as np

from bertcls.tasks.base import Task, check_values
from bertcls.tasks.correlation import StreamingPearson
from bertcls.tasks.heads import POOLINGS, BertHead
from bertcls.tasks.pretrained import load_task, save_task_pretrained
from bertcls.tasks.prediction import (count_texts, predict_features, predict_strings,
                                      sorted_batches, text_encoder)
from bertcls.text.inputs import pair_or_text


@keras.saving.register_keras_serializable(package="bertcls")
class BertRegressor(Task):
    """A regressor: a `BertBackbone` and a many-to-one `BertHead` with a linear output,
    `num_outputs` real numbers per text or sentence pair (Hugging Face's
    `BertForSequenceClassification` with `num_labels=1`, `problem_type="regression"`, when
    `num_outputs=1`). With sentence pairs it is a cross-encoder, e.g. for STS scores 0-5.

    `compile()` defaults: Adam(5e-5), mean squared error, and `StreamingPearson` (the
    correlation over the whole evaluation set). `fit`/`evaluate` check the targets first: shape
    `(batch,)` or `(batch, 1)` for one output, `(batch, num_outputs)` for several; numeric,
    finite.

    Args:
        backbone: a `BertBackbone` or another family's backbone (or any Keras model mapping
            the three int inputs to `sequence_output` and `pooled_output`).
        num_outputs: real-valued targets per example.
        pooling: None (default): the head of transformers' `*ForSequenceClassification` for
            the backbone's family, as in `BertClassifier` (BERT's pooler; the first token
            through a hidden dense layer for RoBERTa, ELECTRA, DistilBERT). Or `"pooled"`,
            `"cls"` or `"mean"`: a plain dense head on that.
        dropout: dropout before the dense layer (0.1, Hugging Face's `hidden_dropout_prob`).
        head: a layer replacing the default `BertHead`; it receives the backbone's output dict
            plus `attention_mask` and must return `(batch, num_outputs)`.
        encoder: optional `FeatureEncoder`, needed by `predict_texts`/`predict_text` and the
            string-in export.

    Call arguments:
        inputs: dict of int `input_ids`, `attention_mask`, `token_type_ids` `(batch, length)`.

    Returns:
        float `(batch, num_outputs)`.

    Example:

    >>> from bertcls import BertBackbone, FeatureEncoder
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "man", "plays", "guitar", "cooks"]
    >>> encoder = FeatureEncoder(vocab, max_seq_len=12)
    >>> backbone = BertBackbone(vocabulary_size=9, num_layers=1, num_heads=2,
    ...                         hidden_size=8, intermediate_size=16)
    >>> model = BertRegressor(backbone, encoder=encoder)
    >>> model.compile()
    >>> pairs = (["a man plays guitar", "a man cooks"], ["a man plays", "a guitar"])
    >>> _ = model.fit(encoder(pairs), np.array([4.2, 0.6]), epochs=1, verbose=0)
    >>> model.predict_texts(pairs).shape
    (2,)
    >>> score = model.predict_text(("a man cooks", "a man cooks"))
    """

    hf_task = "SequenceClassification"

    def __init__(self, backbone, num_outputs=1, pooling=None, dropout=0.1, head=None,
                 encoder=None, **kwargs):
        if not isinstance(num_outputs, int) or isinstance(num_outputs, bool) or num_outputs < 1:
            raise ValueError(
                f"`num_outputs` must be a positive integer, received {num_outputs!r}.")
        spec = {"pooling": pooling}
        if pooling is None:
            spec = dict(getattr(backbone, "classifier_head", {"pooling": "pooled"}))
            pooling = spec["pooling"]
        if pooling not in POOLINGS:
            raise ValueError(f"`pooling` must be one of {POOLINGS}, received {pooling!r}.")
        # === Layers ===
        if head is None:
            head = BertHead(num_outputs=num_outputs, task_type="many_to_one", pooling=pooling,
                            activation=None, dropout=dropout,
                            hidden_activation=spec.get("hidden_activation"),
                            name="regressor_head")
        outputs = self._wire(backbone, head, encoder, **kwargs)

        # === Config ===
        self.num_outputs = num_outputs
        self.pooling = pooling
        self.dropout = dropout
        if len(outputs.shape) != 2 or outputs.shape[-1] != num_outputs:
            raise ValueError(
                f"The head must output (batch, {num_outputs}), its output has shape "
                f"{outputs.shape}.")

    @classmethod
    def from_preset(cls, preset, num_outputs=None, max_seq_len=None, strict=False,
                    new_head=False, **kwargs):
        """A regressor from a Hugging Face directory or Hub id, with the checkpoint's own
        head when it has one.

        A `*ForSequenceClassification` checkpoint with `problem_type: regression` (or one
        label and no `problem_type`, as transformers reads it), e.g. an STS cross-encoder or
        this class's `save_pretrained`, loads with its head: the outputs equal transformers'
        logits. A base or pre-training checkpoint gets a new head of `num_outputs` (default
        1). A classification checkpoint is an error naming `BertClassifier` unless
        `new_head=True`. The backbone's family comes from `config.json`'s `model_type`, the
        encoder from the tokenizer files present. One report of unused and newly
        initialised weights is logged (`WeightReport`).

        Args:
            preset: local directory (config.json, weights, tokenizer files) or Hub id.
            num_outputs: real-valued targets per example; None: the checkpoint's.
            max_seq_len: the encoder's maximum length (of the pair, for pairs); None: the
                one `save_pretrained` recorded, else 128.
            strict: refuse NaN/infinite weights, unexpected tensors and missing weights.
            new_head: a new head even when the checkpoint has one.
            **kwargs: other constructor arguments (`pooling`, `dropout`, `head`).

        Example:

        >>> import tempfile
        >>> from bertcls import FeatureEncoder, RobertaBackbone
        >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "man", "plays", "guitar", "cooks"]
        >>> backbone = RobertaBackbone(vocabulary_size=9, num_layers=1, num_heads=2,
        ...                            hidden_size=8, intermediate_size=16)
        >>> model = BertRegressor(backbone, encoder=FeatureEncoder(vocab, max_seq_len=8))
        >>> directory = model.save_pretrained(tempfile.mkdtemp())
        >>> BertRegressor.from_preset(directory, max_seq_len=8).num_outputs
        1
        """
        return load_task(cls, preset, dict(num_outputs=num_outputs), max_seq_len=max_seq_len,
                         strict=strict, new_head=new_head, **kwargs)

    @classmethod
    def preset_arguments(cls, found, num_outputs=None):
        """Constructor arguments from the checkpoint's head (`found`, or None for a new
        head) and the caller's `num_outputs`, which must agree with it."""
        if found is None:
            return dict(num_outputs=1 if num_outputs is None else num_outputs)
        if num_outputs is not None and num_outputs != found.num_labels:
            raise ValueError(
                f"num_outputs={num_outputs!r} disagrees with the checkpoint's "
                f"{found.architecture} regression head ({found.num_labels} outputs). Leave it "
                f"out to use the checkpoint's head, or pass new_head=True for a new one.")
        return dict(num_outputs=found.num_labels)

    def save_pretrained(self, directory, **card):
        """Write this regressor for transformers' `AutoModelForSequenceClassification`
        (`num_labels = num_outputs`, `problem_type: regression`): the backbone under its
        family's names, the head under transformers' (as `BertClassifier.save_pretrained`),
        the tokenizer files and a model card. transformers' logits equal this model's
        outputs; `BertRegressor.from_preset(directory)` reads it back.

        Args:
            directory: output directory (created if missing).
            **card: model card fields, as in `BertClassifier.save_pretrained`.

        Returns:
            The directory path.

        Raises:
            ValueError: a custom head, or a pooling transformers' class for this family does
                not have.
        """
        return save_task_pretrained(
            self, directory, "SequenceClassification",
            [f"LABEL_{i}" for i in range(self.num_outputs)], "regression", card=card)

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """Keras `compile` with defaults Adam(5e-5), mean squared error and
        `StreamingPearson`; any argument may be overridden."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate=5e-5)
        if loss == "auto":
            loss = keras.losses.MeanSquaredError()
        if metrics == "auto":
            metrics = [StreamingPearson(self.num_outputs)]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def check_labels(self, y, features=None):
        """Raise ValueError unless `y` holds finite numbers shaped `(batch,)`/`(batch, 1)`
        (one output) or `(batch, num_outputs)`; return it as a numpy array."""
        y = np.asarray(y)
        one = self.num_outputs == 1 and (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1))
        if not one and not (y.ndim == 2 and y.shape[1] == self.num_outputs):
            expected = ("(batch,) or (batch, 1)" if self.num_outputs == 1
                        else f"(batch, {self.num_outputs})")
            raise ValueError(f"Regression targets must have shape {expected}, received "
                             f"{y.shape}.")
        check_values(y, -np.inf, np.inf, False, "Regression targets")
        return y

    def _shape(self, outputs):
        return outputs[:, 0] if self.num_outputs == 1 else outputs

    def predict_texts(self, texts, batch_size=32):
        """Predicted values for a list of strings or a tuple `(texts_a, texts_b)` of sentence
        pairs (length-sorted batches of one width, a compiled forward pass, input order kept).

        Returns:
            float32 array `(n,)` for one output, `(n, num_outputs)` for several.
        """
        encoder = text_encoder(self)
        outputs = np.zeros((count_texts(texts), self.num_outputs), np.float32)
        for indices, features, _ in sorted_batches(encoder, texts, batch_size):
            outputs[indices] = predict_features(self, features)
        return self._shape(outputs)

    def predict_text(self, text):
        """One string or one pair `(text_a, text_b)`, in one compiled call: a float for one
        output, an array of `num_outputs` for several."""
        outputs = self._shape(predict_strings(self, pair_or_text(text, "text")))
        return float(outputs[0]) if self.num_outputs == 1 else outputs[0]

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **self.quantization_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_outputs": self.num_outputs,
            "pooling": self.pooling,
            "dropout": self.dropout,
            "head": keras.saving.serialize_keras_object(self.head),
            "encoder": (None if self.encoder is None
                        else keras.saving.serialize_keras_object(self.encoder)),
        }
