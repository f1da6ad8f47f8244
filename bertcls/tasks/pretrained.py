"""Task models <-> Hugging Face directories: what every task's `from_preset` shares
(`load_task_parts`: the backbone of the family `config.json` names, the feature encoder of the
tokenizer files present), and `save_pretrained`: a directory transformers'
`AutoModelFor...` loads.

The backbone's weights go under the family's base-model prefix (`bert.`, `roberta.`,
`electra.`, `albert.`, `distilbert.`), the head under transformers' names for that family
(`classifier`, `classifier.dense` + `classifier.out_proj`, `pre_classifier` +
`classifier`), and `config.json` gets `architectures`, `id2label` / `label2id` and
`problem_type`.

transformers' heads output logits, bertcls' heads probabilities. A multi-class classifier
maps to softmax over the logits, a multi-label one to a sigmoid per logit
(`problem_type: multi_label_classification`). A binary classifier (one sigmoid unit with
logit `z`) is written as a 2-class head whose logits are `[0, z]`: the first row of the
weight matrix and the first bias are zero, so `softmax([0, z])[1] == sigmoid(z)` exactly,
the probability bertcls gives.
"""

import json
import logging
import os

import keras
import numpy as np

from bertcls.models.checkpoints import get_hf_weights, save_tokenizer
from bertcls.models.presets import preset_family
from bertcls.tasks.heads import BertHead
from bertcls.text.presets import encoder_from_preset

logger = logging.getLogger(__name__)


def load_task_parts(preset, max_seq_len=128, strict=False, pooling="cls", **encoder_options):
    """The backbone and feature encoder a task's `from_preset` builds on.

    The backbone's family comes from `config.json`'s `model_type`
    (`bertcls.backbone_from_preset`), the encoder from the tokenizer files present
    (`bertcls.encoder_from_preset`: WordPiece `vocab.txt` or a SentencePiece model).

    Args:
        preset: a local Hugging Face directory or a Hub id.
        max_seq_len: the encoder's maximum length; None: 128, or less when the checkpoint
            has fewer positions. (More than the checkpoint's positions is refused when the
            task is built.)
        strict: refuse NaN/infinite weights, and a missing pooler when the head reads it.
        pooling: what the task's head reads: `"pooled"` (the pooler), None (the family's
            sequence-classification head, `backbone.classifier_head`), anything else
            (`"cls"`, `"mean"`, a tagger, a span head) never reads the pooler, so a
            checkpoint without one (RoBERTa masked-LM, `*ForQuestionAnswering`) loads under
            `strict` too.
        **encoder_options: passed to `encoder_from_preset` (e.g. `lowercase`).

    Returns:
        `(directory, backbone, encoder)`: the local directory, the loaded backbone, the
        encoder.

    Raises:
        ValueError: whatever `backbone_from_preset` / `encoder_from_preset` raise.

    Example:

    >>> import tempfile, pathlib
    >>> from bertcls import RobertaBackbone
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = RobertaBackbone(vocabulary_size=6, num_layers=1, num_heads=2, hidden_size=8,
    ...                     intermediate_size=16, max_sequence_length=12,
    ...                     pad_token_id=0).save_pretrained(str(d))
    >>> _ = (d / "vocab.txt").write_text("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\nhi\\nyo\\n")
    >>> _, backbone, encoder = load_task_parts(str(d), max_seq_len=None)
    >>> type(backbone).__name__, encoder.max_seq_len
    ('RobertaBackbone', 11)
    """
    directory, cls = preset_family(preset)
    if pooling is None:
        pooling = cls.classifier_head["pooling"]
    backbone = cls.from_preset(directory, strict=strict, needs_pooler=pooling == "pooled")
    if max_seq_len is None:
        max_seq_len = min(128, backbone.max_input_length)
    encoder = encoder_from_preset(directory, max_seq_len=max_seq_len, **encoder_options)
    return directory, backbone, encoder


def _array(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable.value), dtype=np.float32)


def _dense(dense, name):
    return {f"{name}.weight": np.ascontiguousarray(_array(dense.kernel).T),
            f"{name}.bias": _array(dense.bias)}


def head_weights(task, many_to_one, binary):
    """The task head's weights under transformers' names for the backbone's family.

    Raises:
        ValueError: a head transformers' class for this family cannot represent (a
            custom head, another pooling, a hidden layer where the family has none).
    """
    backbone, head = task.backbone, task.head
    if not isinstance(head, BertHead):
        raise ValueError(
            f"save_pretrained writes bertcls' BertHead only; this model's head is a "
            f"{type(head).__name__}, which transformers has no class for.")
    if not many_to_one:
        names, pooling, hidden = {"output": "classifier"}, None, None
    else:
        spec = getattr(backbone, "classifier_head", {"pooling": "pooled"})
        names = getattr(backbone, "hf_classifier_names", {"output": "classifier"})
        pooling, hidden = spec["pooling"], spec.get("hidden_activation")
    arch = f"{backbone.hf_architecture}ForSequenceClassification"
    if many_to_one and (head.pooling != pooling or head.hidden_activation != hidden):
        raise ValueError(
            f"transformers' {arch} reads pooling={pooling!r} with hidden_activation="
            f"{hidden!r}; this head has pooling={head.pooling!r}, hidden_activation="
            f"{head.hidden_activation!r}, which it cannot represent. Build the classifier "
            f"with pooling=None (the family's head) to save it for transformers.")
    weights = {}
    if many_to_one and hidden is not None:
        weights.update(_dense(head.hidden_dense, names["hidden"]))
    output = _dense(head.dense, names["output"])
    if binary:  # one sigmoid logit z -> logits [0, z]: softmax(...)[1] == sigmoid(z)
        weight, bias = output[f"{names['output']}.weight"], output[f"{names['output']}.bias"]
        output = {f"{names['output']}.weight": np.concatenate([np.zeros_like(weight), weight]),
                  f"{names['output']}.bias": np.concatenate([np.zeros_like(bias), bias])}
    weights.update(output)
    return weights


def save_task_pretrained(task, directory, kind, labels, problem_type, binary=False):
    """Write `task` (backbone + head, + tokenizer files) for `AutoModelFor<kind>`.

    Args:
        task: a `BertClassifier` or `BertTagger`.
        directory: output directory (created if missing).
        kind: `"SequenceClassification"` or `"TokenClassification"`.
        labels: the label names, index = class id.
        problem_type: transformers' `problem_type` (None to leave it out).
        binary: the head is one sigmoid unit (written as two logits, see the module).

    Returns:
        The directory path.
    """
    family_backbone(task)
    many_to_one = kind == "SequenceClassification"
    head = head_weights(task, many_to_one, binary)
    config = {
        "id2label": {str(i): name for i, name in enumerate(labels)},
        "label2id": {name: i for i, name in enumerate(labels)},
    }
    if problem_type:
        config["problem_type"] = problem_type
    # transformers' task classes keep the pooler only where their head reads it.
    return write_task_directory(task, directory, kind, head, config,
                                pooler=many_to_one and task.head.pooling == "pooled")


def write_task_directory(task, directory, kind, head, config_updates, pooler=False):
    """Write `config.json` (the backbone's, `architectures` = the family's `...For<kind>`,
    plus `config_updates`), `model.safetensors` (the backbone under the family's prefix,
    the pooler only with `pooler`, and the `head` tensors) and the tokenizer files.

    Returns:
        The directory path.
    """
    from safetensors.numpy import save_file

    backbone = family_backbone(task)
    tensors = get_hf_weights(backbone, prefix=f"{backbone.hf_prefix}.", pooler=pooler)
    tensors.update(head)
    config = backbone.to_hf_config()
    config["architectures"] = [f"{backbone.hf_architecture}For{kind}"]
    config.update(config_updates)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    save_file(tensors, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    encoder = task.encoder
    if hasattr(encoder, "save_tokenizer"):  # SentencePieceEncoder: its .model file
        encoder.save_tokenizer(directory, model_max_length=backbone.max_input_length)
    elif encoder is not None:
        if hasattr(encoder, "vocabulary") and hasattr(encoder, "lowercase"):
            save_tokenizer(encoder, directory, model_max_length=backbone.max_input_length)
        else:
            logger.warning("save_pretrained wrote no tokenizer files: %s is neither a "
                           "FeatureEncoder nor a SentencePieceEncoder.",
                           type(encoder).__name__)
    return directory


def family_backbone(task):
    """`task.backbone`, which must be a bertcls family backbone to be written."""
    backbone = task.backbone
    if not hasattr(backbone, "hf_weight_map"):
        raise ValueError(
            f"save_pretrained needs a bertcls family backbone, received "
            f"{type(backbone).__name__}.")
    return backbone
