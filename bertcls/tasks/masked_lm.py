"""`BertMaskedLM`: masked language modelling on any family's backbone (fill-mask, continued
pretraining), its head loaded from and written to transformers' `*ForMaskedLM` checkpoints."""

import logging

import keras
import numpy as np

from bertcls.models import checkpoints
from bertcls.tasks.base import Task
from bertcls.tasks.mlm_head import (MaskedLMHead, head_options, mlm_head_spec,
                                    mlm_head_tensors, read_mlm_head)
from bertcls.tasks.ner import IGNORE_INDEX
from bertcls.tasks.prediction import predict_features, text_encoder
from bertcls.models.checkpoint_files import Preset
from bertcls.models.weight_report import WeightReport
from bertcls.tasks.pretrained import (backbone_and_encoder, config_settings, read_settings,
                                      save_task_pretrained)
from bertcls.tasks.tagger import MaskedAccuracy, MaskedSparseCategoricalCrossentropy

logger = logging.getLogger(__name__)


@keras.saving.register_keras_serializable(package="bertcls")
class BertMaskedLM(Task):
    """A masked language model: a backbone of any family and its family's masked-LM head
    (dense -> activation -> LayerNorm -> the word embeddings, tied, plus a bias), as
    transformers' `*ForMaskedLM` (`bertcls.tasks.mlm_head.MLM_HEADS` lists what differs).

    Outputs logits `(batch, length, vocabulary_size)` at every position. Labels for `fit`
    are token ids shaped like `input_ids`, -100 where no token is predicted (every position
    but the masked ones); `bertcls.make_mlm_dataset` masks raw text that way.

    The backbone is used, not copied: after MLM training `BertClassifier(mlm.backbone, ...)`
    fine-tunes the very same weights (see docs/masked_lm.md).

    Args:
        backbone: a family backbone (`BertBackbone`, `RobertaBackbone`, `XLMRobertaBackbone`,
            `ElectraBackbone` (for ELECTRA's generator), `AlbertBackbone`,
            `DistilBertBackbone`).
        encoder: optional `FeatureEncoder` / `SentencePieceEncoder`, for `fill_mask`.

    Call arguments:
        inputs: dict of int `input_ids`, `attention_mask`, `token_type_ids`.

    Example:

    >>> from bertcls import BertBackbone, FeatureEncoder
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "kim", "went", "home"]
    >>> encoder = FeatureEncoder(vocab, max_seq_len=8)
    >>> backbone = BertBackbone(vocabulary_size=8, num_layers=1, num_heads=2,
    ...                         hidden_size=8, intermediate_size=16)
    >>> mlm = BertMaskedLM(backbone, encoder=encoder)
    >>> tuple(mlm(encoder(["kim went [MASK]"])).shape)
    (1, 8, 8)
    >>> [p["token_str"] in vocab for p in mlm.fill_mask(["kim went [MASK]"], top_k=2)[0]]
    [True, True]
    """

    def __init__(self, backbone, encoder=None, **kwargs):
        if not hasattr(backbone, "hf_weight_map") or not hasattr(backbone, "token_embedding"):
            raise ValueError(
                f"BertMaskedLM needs a bertcls family backbone (BertBackbone, "
                f"RobertaBackbone, ...), received {type(backbone).__name__}.")
        # === Layers ===
        head = MaskedLMHead(backbone.token_embedding, **head_options(backbone),
                            dtype=getattr(backbone, "_dtype_argument", None),
                            name="mlm_head")
        self._wire(backbone, head, encoder, **kwargs)

    @classmethod
    def from_preset(cls, preset, max_seq_len=None, strict=False, **kwargs):
        """A masked-LM checkpoint of any family (`*ForMaskedLM`, `BertForPreTraining`,
        `AlbertForPreTraining`, ...) with its head, and the encoder of its tokenizer files.

        The head is read by `bertcls.tasks.mlm_head.read_mlm_head`; the family's other
        pre-training heads (BERT's next-sentence `cls.seq_relationship`, ALBERT's
        `sop_classifier`, ELECTRA's discriminator head) are ignored with a log line.
        A checkpoint without a masked-LM head (a base model, an ELECTRA discriminator) gets a
        new, randomly initialised head with a warning.

        Args:
            preset: a local Hugging Face directory or a Hub id.
            max_seq_len: the encoder's maximum length (None: the one `save_pretrained`
                recorded, else 128; fewer when the
                checkpoint has fewer positions).
            strict: refuse NaN/infinite weights, a missing head, and a stored decoder
                that is not the word embeddings (an untied head bertcls cannot represent).
            **kwargs: passed to the constructor.

        Raises:
            bertcls.CheckpointError: as `backbone_from_preset`, and for a partial or
                misshapen head.
        """
        preset = Preset.read(preset)
        report = WeightReport(preset.directory)
        saved = read_settings(config_settings(preset.config, preset.config_path),
                              "max_seq_len", int)
        backbone, encoder = backbone_and_encoder(preset, strict, report, False, max_seq_len,
                                                 saved or 128)
        model = cls(backbone, encoder=encoder, **kwargs)
        load_mlm_head(model, preset.tensors, strict=strict, source=preset.directory,
                      report=report)
        report.finish(strict)
        return model

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """Keras `compile` with defaults Adam(5e-5), `MaskedSparseCategoricalCrossentropy(
        from_logits=True)` and `MaskedAccuracy` (positions labelled -100 ignored)."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(learning_rate=5e-5)
        if loss == "auto":
            loss = MaskedSparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = [MaskedAccuracy()]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def check_labels(self, y, features=None):
        """Raise ValueError unless `y` holds token ids in `[0, vocabulary_size)` or -100,
        shaped like `features["input_ids"]` (when given)."""
        y = np.asarray(y)
        if y.dtype.kind not in "iu":
            raise ValueError(
                f"Masked-LM labels must be integer token ids (or -100), received dtype "
                f"{y.dtype}.")
        if isinstance(features, dict) and "input_ids" in features:
            expected = tuple(np.shape(features["input_ids"]))
            if tuple(y.shape) != expected:
                raise ValueError(
                    f"Masked-LM labels must have the shape of input_ids {expected}, received "
                    f"{y.shape}.")
        size = self.head.vocabulary_size
        bad = (y != IGNORE_INDEX) & ((y < 0) | (y >= size))
        if np.any(bad):
            raise ValueError(
                f"Masked-LM labels must be token ids in [0, {size}) or {IGNORE_INDEX} "
                f"(ignored), received {sorted(set(y[bad].tolist()))[:5]}.")
        return y

    def fill_mask(self, texts, top_k=5):
        """The `top_k` likeliest tokens at each mask token, as transformers' fill-mask
        pipeline returns them.

        Args:
            texts: a string or a list of strings, each holding the encoder's mask token
                (`[MASK]`, `<mask>`) at least once.
            top_k: how many candidates per mask.

        Returns:
            For one string: a list of `top_k` dicts `score` (softmax probability), `token`
            (id), `token_str` (the token decoded), `sequence` (the text decoded with the
            token in place, special tokens left out); with several masks in the string, one
            such list per mask (the `sequence` then keeps the other masks and the special
            tokens, as the pipeline does). For a list: one such result per string.

        Raises:
            ValueError: no encoder, a text without the mask token, `top_k` not a positive
                int, a text truncated past its mask.
        """
        encoder = text_encoder(self)
        mask_id = getattr(encoder, "mask_token_id", None)
        if mask_id is None:
            raise ValueError(
                f"The encoder has no mask token in its vocabulary (mask_token="
                f"{getattr(encoder, 'mask_token', None)!r}); fill_mask needs one.")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive int, received {top_k!r}.")
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        if not batch or not all(isinstance(t, str) for t in batch):
            raise ValueError(
                f"texts must be a string or a non-empty list of strings, received "
                f"{type(texts).__name__}.")
        for text in batch:
            if encoder.mask_token not in text:
                raise ValueError(
                    f"texts: {text!r} has no mask token; write {encoder.mask_token!r} where "
                    f"a token is to be predicted.")
        top_k = min(top_k, self.head.vocabulary_size)
        features = {k: np.asarray(v) for k, v in encoder(batch).items()}
        ids = features["input_ids"]
        probabilities = _softmax(predict_features(self, features))
        results = []
        for row, text in enumerate(batch):
            real = ids[row][features["attention_mask"][row] == 1]
            positions = np.flatnonzero(real == mask_id)
            if not positions.size and len(real) >= encoder.max_seq_len:
                raise ValueError(
                    f"texts: the mask token of {text!r} was cut off at max_seq_len "
                    f"{encoder.max_seq_len}; shorten the text or raise max_seq_len.")
            if not positions.size:
                raise ValueError(
                    f"texts: the encoder did not keep the mask token of {text!r} whole "
                    f"({encoder.mask_token!r} became {encoder.decode(real)!r}).")
            per_mask = []
            for position in positions:
                scores = probabilities[row, position]
                best = np.argsort(-scores, kind="stable")[:top_k]
                candidates = []
                for token in best.tolist():
                    filled = real.copy()
                    filled[position] = token
                    candidates.append({
                        "score": float(scores[token]), "token": int(token),
                        "token_str": encoder.decode([token]),
                        "sequence": encoder.decode(filled,
                                                   skip_special_tokens=len(positions) == 1)})
                per_mask.append(candidates)
            results.append(per_mask[0] if len(per_mask) == 1 else per_mask)
        return results[0] if single else results

    def save_pretrained(self, directory, **card):
        """Write this model for transformers' `AutoModelForMaskedLM`: the backbone under its
        family's prefix (no pooler, as transformers' `*ForMaskedLM`), the head under the
        family's names (`bertcls.tasks.mlm_head.MLM_HEADS`; the decoder weight left out:
        transformers ties it to the word embeddings), `config.json` naming
        `<Family>ForMaskedLM` (its `bertcls` block: the encoder's `max_seq_len`, which
        `from_preset` reads back), the encoder's tokenizer files and a model card
        (`README.md`, pipeline tag `fill-mask`). transformers' logits equal this model's.

        Args:
            directory: output directory (created if missing).
            **card: model card fields, as in `BertClassifier.save_pretrained`.

        Returns:
            The directory path.

        Example:

        >>> import json, os, tempfile
        >>> from bertcls import AlbertBackbone
        >>> backbone = AlbertBackbone(vocabulary_size=10, num_layers=2, num_heads=2,
        ...                           hidden_size=8, intermediate_size=16, embedding_size=4)
        >>> directory = BertMaskedLM(backbone).save_pretrained(tempfile.mkdtemp())
        >>> json.load(open(os.path.join(directory, "config.json")))["architectures"]
        ['AlbertForMaskedLM']
        """
        return save_task_pretrained(self, directory, "MaskedLM", card=card,
                                    head=mlm_head_tensors(self.head, self.backbone))

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            **self.quantization_config(),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "encoder": (None if self.encoder is None
                        else keras.saving.serialize_keras_object(self.encoder)),
        }


def load_mlm_head(model, tensors, strict=False, source="Checkpoint", report=None):
    """Set `model.head` (a `BertMaskedLM`'s) from a checkpoint's tensors.

    Args:
        model: a `BertMaskedLM`.
        tensors: `read_checkpoint`'s dict.
        strict: a missing head, a non-finite value or an untied stored decoder is an error
            (else a warning).
        source: named in messages.
        report: the load's `WeightReport`: the head's tensors are claimed as used, a missing
            head recorded as newly initialised (a warning; an error under `strict` when the
            report finishes). None: logged here.

    Returns:
        The checkpoint names consumed (empty when the checkpoint has no head).
    """
    values, used, ignored = read_mlm_head(model.backbone, tensors, source)
    if ignored and report is None:
        logger.info("Ignored the checkpoint's other pre-training heads (a masked-LM model does "
                    "not use them): %s", ", ".join(ignored))
    if not values:
        spec = mlm_head_spec(model.backbone)
        message = (f"{source} has no masked-LM head ({spec['dense']}.*, {spec['norm']}.*, "
                   f"{spec['bias']}); the head is newly initialised")
        if report is not None:
            report.initialised([w.path for w in model.head.weights],
                               "a new masked-LM head: the checkpoint has none; train it before "
                               "using its predictions")
            return []
        if strict:
            raise checkpoints.CheckpointError(message + " (strict=True).")
        logger.warning("%s: train it before using its predictions.", message)
        return []
    if report is not None:
        report.claim(checkpoints.normalize_names(dict.fromkeys(used),
                                                 model.backbone.hf_prefix, source))
    problems = [r for r, v in values.items() if not np.isfinite(v).all()]
    decoder = values.pop("decoder.weight", None)
    if decoder is not None:
        embeddings = keras.ops.convert_to_numpy(model.backbone.token_embedding.embeddings)
        if decoder.shape != embeddings.shape or not np.allclose(decoder, embeddings, atol=1e-6):
            problems.append("decoder.weight (differs from the word embeddings; bertcls ties "
                            "them and keeps the embeddings)")
    if problems:
        message = f"{source}: masked-LM head problems: {', '.join(problems)}"
        if strict:
            raise checkpoints.CheckpointError(message + " (strict=True).")
        logger.warning("%s.", message)
    model.head.assign_hf(values, source)
    return used


def _softmax(logits):
    logits = np.asarray(logits, np.float64)
    logits = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=-1, keepdims=True)
