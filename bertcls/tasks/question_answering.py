"""`BertQuestionAnswerer`: extractive question answering (start and end logits per token) on a
backbone, with long contexts split into windows and answers read back from the context."""

import warnings

import keras
import numpy as np
from keras import ops

from bertcls.tasks.base import Task
from bertcls.tasks.heads import BertHead
from bertcls.tasks.prediction import predict_features, width_batches
from bertcls.tasks.pretrained import load_task, read_settings, save_task_pretrained
from bertcls.tasks.qa_answers import best_answers, check_null_threshold, no_answer_margins
from bertcls.tasks.qa_windows import encode_qa
from bertcls.text.inputs import string_list


@keras.saving.register_keras_serializable(package="bertcls")
class SpanLoss(keras.losses.Loss):
    """Cross-entropy of the start and of the end position, averaged (Hugging Face's
    `BertForQuestionAnswering` loss).

    `y_true` is int `(batch, 2)`: start and end token; `y_pred` is `(batch, length, 2)`
    logits (start, end).

    Example:

    >>> import numpy as np
    >>> logits = np.zeros((1, 4, 2), "float32")
    >>> round(float(SpanLoss()(np.array([[1, 2]]), logits)), 4)  # log(4)
    1.3863
    """

    def __init__(self, name="span_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        y_pred = ops.cast(y_pred, "float32")
        start = keras.losses.sparse_categorical_crossentropy(
            y_true[:, 0], y_pred[..., 0], from_logits=True)
        end = keras.losses.sparse_categorical_crossentropy(
            y_true[:, 1], y_pred[..., 1], from_logits=True)
        return (start + end) / 2.0


@keras.saving.register_keras_serializable(package="bertcls")
class SpanAccuracy(keras.metrics.MeanMetricWrapper):
    """Share of windows whose most likely start *and* end are both the labelled ones.

    Example:

    >>> import numpy as np
    >>> logits = np.zeros((2, 3, 2), "float32")
    >>> logits[:, 1, :] = 1.0  # both rows predict the span (1, 1)
    >>> metric = SpanAccuracy()
    >>> metric.update_state(np.array([[1, 1], [1, 2]]), logits)
    >>> float(metric.result())
    0.5
    """

    def __init__(self, name="span_accuracy", dtype=None):
        super().__init__(_span_hits, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def _span_hits(y_true, y_pred):
    y_true = ops.cast(y_true, "int32")
    predicted = ops.cast(ops.argmax(y_pred, axis=1), "int32")  # (batch, 2)
    return ops.cast(ops.all(ops.equal(predicted, y_true), axis=-1), "float32")


@keras.saving.register_keras_serializable(package="bertcls")
class BertQuestionAnswerer(Task):
    """Extractive question answering: a `BertBackbone` and a per-token head with two logits,
    the answer's start and end (Hugging Face's `BertForQuestionAnswering`).

    The model reads windows `[CLS] question [SEP] context part [SEP]` (`encode`, built on
    `bertcls.encode_qa`: contexts longer than the encoder's `max_seq_len` are split into
    windows sharing `doc_stride` tokens; questions are cut to `max_question_len` tokens).
    Labels are int `(windows, 2)`: the answer's start and end token in the window, `[CLS]`
    (0, 0) where the window does not hold the answer or the question has none (SQuAD 2.0's
    unanswerable questions); `fit`/`evaluate` check them.
    `predict_answers` runs every window and returns each question's best span over its
    windows, sliced from the context (`bertcls.best_answers`); with a `null_threshold` it
    answers "no answer" (empty text) where the `[CLS]` score beats the best span by more than
    the threshold. `tune_null_threshold` sets it from a dev set; it is saved with the model.

    Args:
        backbone: a `BertBackbone`.
        head: a layer replacing the default head (a `BertHead` with 2 logits per token, no
            dropout, like Hugging Face's `qa_outputs`); it receives the backbone's output
            dict plus `attention_mask` and returns `(batch, length, 2)` logits.
        encoder: a `FeatureEncoder` (its `max_seq_len` is the window length); needed by
            `encode` and `predict_answers`.
        doc_stride: context tokens shared by consecutive windows.
        max_question_len: question tokens kept.
        max_answer_length: the longest answer predicted, in tokens.
        n_best: start and end candidates per window in post-processing.
        null_threshold: None (the default: always answer with a span), or the margin
            `null_score - score` above which `predict_answers` says "no answer" (see
            `bertcls.best_answers`; 0.0 is Hugging Face's default).

    Call arguments:
        inputs: dict of int `input_ids`, `attention_mask`, `token_type_ids`.

    Returns:
        logits `(batch, length, 2)`: `[..., 0]` start, `[..., 1]` end.

    Example:

    >>> from bertcls import BertBackbone, FeatureEncoder
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "who", "kim", "went", "to", "seoul"]
    >>> encoder = FeatureEncoder(vocab, max_seq_len=8)
    >>> backbone = BertBackbone(vocabulary_size=9, num_layers=1, num_heads=2,
    ...                         hidden_size=8, intermediate_size=16)
    >>> model = BertQuestionAnswerer(backbone, encoder=encoder, doc_stride=1,
    ...                              max_question_len=2)
    >>> model.compile()
    >>> windows = model.encode(["who"], ["kim went to seoul"], [("kim", 0)])
    >>> _ = model.fit(windows.features, windows.labels, epochs=1, verbose=0)
    >>> answer = model.predict_answer("who", "kim went to seoul")
    >>> answer.text in "kim went to seoul"
    True
    >>> model.null_threshold = -1e9  # any [CLS] score wins: always "no answer"
    >>> model.predict_answer("who", "kim went to seoul").text
    ''
    """

    def __init__(self, backbone, head=None, encoder=None, doc_stride=128, max_question_len=64,
                 max_answer_length=30, n_best=20, null_threshold=None, **kwargs):
        for name, value, low in (("doc_stride", doc_stride, 0),
                                 ("max_question_len", max_question_len, 0),
                                 ("max_answer_length", max_answer_length, 1),
                                 ("n_best", n_best, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"`{name}` must be an integer >= {low}, received {value!r}.")
        # === Layers ===
        if head is None:
            head = BertHead(num_outputs=2, task_type="many_to_many", activation=None,
                            dropout=0.0, name="qa_head")
        outputs = self._wire(backbone, head, encoder, **kwargs)

        # === Config ===
        self.doc_stride = doc_stride
        self.max_question_len = max_question_len
        self.max_answer_length = max_answer_length
        self.n_best = n_best
        self.null_threshold = null_threshold
        if len(outputs.shape) != 3 or outputs.shape[-1] != 2:
            raise ValueError(
                f"The head must output (batch, length, 2) start/end logits, its output has "
                f"shape {outputs.shape}.")

    hf_task = "QuestionAnswering"

    @classmethod
    def from_preset(cls, preset, max_seq_len=None, strict=False, new_head=False,
                    null_threshold=None, **kwargs):
        """Backbone and encoder from a Hugging Face directory or Hub id; the span head is the
        checkpoint's `qa_outputs` when it has one (a `*ForQuestionAnswering` checkpoint of
        any family, e.g. one written by `save_pretrained`), a new one otherwise (reported as
        newly initialised). A classification or tagging checkpoint is an error naming the
        class that loads it, unless `new_head=True`.

        The backbone's family comes from `config.json`'s `model_type`, the encoder from the
        tokenizer files present (`bertcls.encoder_from_preset`: WordPiece or SentencePiece).

        Args:
            preset: local directory or Hub id.
            max_seq_len: the window length; None: the one `save_pretrained` recorded, else
                384 (at most the checkpoint's positions).
            strict: refuse NaN/infinite weights, unexpected tensors and missing weights (a
                missing pooler is fine: the span head never reads it).
            new_head: a new span head even when the checkpoint has one.
            null_threshold: as in the constructor; None: the one `save_pretrained` recorded
                (`config.json`'s `bertcls` block), else none (always a span).
            **kwargs: other constructor arguments (`doc_stride`, `max_question_len`, ...).
        """
        return load_task(cls, preset, {"null_threshold": null_threshold},
                         max_seq_len=max_seq_len, strict=strict, new_head=new_head,
                         default_max_seq_len=384, **kwargs)

    @classmethod
    def preset_arguments(cls, found, null_threshold=None):
        """The span head is two logits per token; the checkpoint's `bertcls` block may hold
        the tuned `null_threshold`, which the caller's replaces."""
        if null_threshold is None:
            null_threshold = read_settings(found, "null_threshold", (int, float))
        return {"null_threshold": null_threshold}

    def save_pretrained(self, directory, **card):
        """Write a Hugging Face `*ForQuestionAnswering` checkpoint of the backbone's family
        (`BertForQuestionAnswering`, `RobertaForQuestionAnswering`, ...): `config.json`,
        `model.safetensors` (`bert.*` / `roberta.*` / ... without the pooler, which
        transformers' QA models lack, and `qa_outputs.*`), with an encoder its tokenizer
        files (`vocab.txt` or the SentencePiece model, and `tokenizer_config.json`), and a
        model card. `transformers.AutoModelForQuestionAnswering.from_pretrained(directory)`
        gives the same start/end logits; `BertQuestionAnswerer.from_preset(directory)` reads
        it back, with the tuned `null_threshold` (kept in `config.json`'s `bertcls` block).

        Args:
            directory: output directory (created if missing).
            **card: model card fields, as in `BertClassifier.save_pretrained`.

        Returns:
            The directory path.
        """
        settings = {} if self.null_threshold is None else {
            "null_threshold": float(self.null_threshold)}
        return save_task_pretrained(self, directory, "QuestionAnswering", settings=settings,
                                    card=card)

    # --- Training --------------------------------------------------------------------------

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """Keras `compile` with defaults Adam(5e-5), `SpanLoss` and `SpanAccuracy`; any
        argument may be overridden."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate=5e-5)
        if loss == "auto":
            loss = SpanLoss()
        if metrics == "auto":
            metrics = [SpanAccuracy()]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def fit(self, x=None, y=None, **kwargs):
        # The span head never reads the pooler; Keras would warn on every fit.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r"Gradients do not exist for variables \['pooler_dense")
            return super().fit(x, y, **kwargs)

    def check_labels(self, y, features=None):
        """Raise ValueError unless `y` is int `(windows, 2)` start/end tokens with
        `0 <= start <= end < length` (the length of `features["input_ids"]`, when given)."""
        y = np.asarray(y)
        if y.dtype.kind not in "iu" and not (
                y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y))):
            raise ValueError(
                f"Span labels must be integer token positions, received dtype {y.dtype}.")
        if y.ndim != 2 or y.shape[1] != 2:
            raise ValueError(
                f"Span labels must have shape (windows, 2) (start, end), received {y.shape}.")
        length = None
        if isinstance(features, dict) and "input_ids" in features:
            shape = tuple(np.shape(features["input_ids"]))
            if shape[0] != y.shape[0]:
                raise ValueError(
                    f"Got {y.shape[0]} span labels for {shape[0]} windows of input_ids.")
            length = shape[1]
        bad = (y[:, 0] < 0) | (y[:, 1] < y[:, 0])
        if length is not None:
            bad |= y[:, 1] >= length
        if np.any(bad):
            raise ValueError(
                f"Span labels must satisfy 0 <= start <= end < length ({length}); received "
                f"{y[bad][:3].tolist()}.")
        return y

    def encode(self, questions, contexts, answers=None, answerless_windows="cls"):
        """`bertcls.encode_qa` with this model's encoder, `doc_stride` and
        `max_question_len`: the windows to `fit` on (`windows.features`, `windows.labels`).
        `answers`: `(text, start)` per question, `None` when unanswerable (all its windows
        point at `[CLS]`); `answerless_windows`: see `encode_qa`."""
        return encode_qa(self._encoder(), questions, contexts, answers,
                         doc_stride=self.doc_stride, max_question_len=self.max_question_len,
                         answerless_windows=answerless_windows)

    def _encoder(self):
        if self.encoder is None:
            raise ValueError(
                "BertQuestionAnswerer has no encoder; pass `encoder=FeatureEncoder(...)` to the "
                "constructor (from_preset does).")
        return self.encoder

    # --- From text to answer ---------------------------------------------------------------

    def predict_logits(self, windows, batch_size=32):
        """Start/end logits `(windows, max_seq_len, 2)` of encoded windows, run in batches of
        one width: windows sorted by length, each batch cut to its longest window (rounded
        up to a multiple of 16 tokens off TensorFlow; the same shapes as `predict_texts`)."""
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer, received {batch_size!r}.")
        features = windows.features
        count, length = features["input_ids"].shape
        lengths = features["attention_mask"].sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        logits = np.zeros((count, length, 2), np.float32)
        for begin, end, width in width_batches(lengths[order], batch_size, length):
            rows = order[begin:end]
            batch = {k: v[rows, :width] for k, v in features.items()}
            logits[rows, :width] = predict_features(self, batch)
        return logits

    @property
    def null_threshold(self):
        """None (always a span) or the `null_score - score` margin above which
        `predict_answers` says "no answer"; settable, saved in `get_config`."""
        return self._null_threshold

    @null_threshold.setter
    def null_threshold(self, value):
        self._null_threshold = check_null_threshold(value)

    def predict_answers(self, questions, contexts, batch_size=32):
        """The answer to each question in its context, or "no answer" (empty text) when the
        model has a `null_threshold` and the `[CLS]` score beats the best span by more.

        Contexts longer than a window are split (`encode`); windows run in length-sorted
        batches; each question's best span over its windows is sliced from its context.

        Args:
            questions, contexts: lists of strings of equal length.
            batch_size: windows per forward pass.

        Returns:
            list of `Answer(text, start, end, score, null_score)`: `text ==
            context[start:end]`, `score` the best span's start + end logit, `null_score` the
            `[CLS]` start + end logit (smallest over the windows).
        """
        string_list(questions, "questions"), string_list(contexts, "contexts")
        return self._answers(questions, contexts, batch_size, self.null_threshold)

    def _answers(self, questions, contexts, batch_size, null_threshold):
        windows = self.encode(questions, contexts)
        logits = self.predict_logits(windows, batch_size)
        return best_answers(logits, windows, list(contexts), n_best=self.n_best,
                            max_answer_length=self.max_answer_length,
                            null_threshold=null_threshold)

    def tune_null_threshold(self, questions, contexts, references, metric="f1",
                            batch_size=32):
        """Set `null_threshold` to the value that maximises SQuAD 2.0's F1 (or exact match)
        on a dev set, by the official evaluator's best-threshold search
        (`bertcls.best_no_answer_threshold` on the margins `null_score - score`). As in the
        official search, when no threshold scores better than "no answer" for every question,
        the threshold returned is 0.0 (Hugging Face's default margin).

        Args:
            questions, contexts: lists of strings of equal length.
            references: one list of gold answer texts per question, empty for an
                unanswerable one.
            metric: `"f1"` or `"exact"`.
            batch_size: windows per forward pass.

        Returns:
            `(threshold, score)`: the threshold now set on the model, and the dev score
            (x100) it gives.

        Example (a random tiny model; on real data use a held-out dev set):

        >>> from bertcls import BertBackbone, FeatureEncoder
        >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "who", "kim", "went", "to", "seoul"]
        >>> model = BertQuestionAnswerer(
        ...     BertBackbone(vocabulary_size=9, num_layers=1, num_heads=2, hidden_size=8,
        ...                  intermediate_size=16),
        ...     encoder=FeatureEncoder(vocab, max_seq_len=8), doc_stride=1, max_question_len=2)
        >>> threshold, f1 = model.tune_null_threshold(["who", "who"], ["kim went", "to seoul"],
        ...                                           [["kim"], []])
        >>> model.null_threshold == threshold
        True
        """
        from bertcls.tasks.squad_v2_metrics import best_no_answer_threshold

        if isinstance(references, str) or len(references) != len(questions):
            raise ValueError(
                f"`references` must be a list of {len(questions)} lists of gold answers (one "
                f"per question, empty when unanswerable), received "
                f"{type(references).__name__} of length {len(references)}.")
        answers = self._answers(questions, contexts, batch_size, None)
        ids = [str(i) for i in range(len(answers))]
        threshold, score = best_no_answer_threshold(
            {i: a.text for i, a in zip(ids, answers)},
            {i: list(r) if not isinstance(r, str) else r for i, r in zip(ids, references)},
            dict(zip(ids, no_answer_margins(answers))), metric=metric)
        self.null_threshold = threshold
        return threshold, score

    def predict_answer(self, question, context):
        """The `Answer` to one question (see `predict_answers`)."""
        if not isinstance(question, str) or not isinstance(context, str):
            raise ValueError(
                f"predict_answer takes a question and a context string, received "
                f"{type(question).__name__} and {type(context).__name__}.")
        return self.predict_answers([question], [context], batch_size=8)[0]

    # --- Serialization ---------------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **self.quantization_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "head": keras.saving.serialize_keras_object(self.head),
            "encoder": (None if self.encoder is None
                        else keras.saving.serialize_keras_object(self.encoder)),
            "doc_stride": self.doc_stride,
            "max_question_len": self.max_question_len,
            "max_answer_length": self.max_answer_length,
            "n_best": self.n_best,
            "null_threshold": self.null_threshold,
        }
