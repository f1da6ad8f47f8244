"""`save_pretrained` for task models: a directory transformers' `AutoModelFor...` loads.

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
from bertcls.tasks.heads import BertHead

logger = logging.getLogger(__name__)


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
    from safetensors.numpy import save_file

    backbone = task.backbone
    if not hasattr(backbone, "hf_weight_map"):
        raise ValueError(
            f"save_pretrained needs a bertcls family backbone, received "
            f"{type(backbone).__name__}.")
    many_to_one = kind == "SequenceClassification"
    head = head_weights(task, many_to_one, binary)
    # transformers' task classes keep the pooler only where their head reads it.
    uses_pooler = many_to_one and task.head.pooling == "pooled"
    tensors = get_hf_weights(backbone, prefix=f"{backbone.hf_prefix}.", pooler=uses_pooler)
    tensors.update(head)
    config = backbone.to_hf_config()
    config.update({
        "architectures": [f"{backbone.hf_architecture}For{kind}"],
        "id2label": {str(i): name for i, name in enumerate(labels)},
        "label2id": {name: i for i, name in enumerate(labels)},
    })
    if problem_type:
        config["problem_type"] = problem_type
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    save_file(tensors, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    encoder = task.encoder
    if encoder is not None:
        if hasattr(encoder, "vocabulary") and hasattr(encoder, "lowercase"):
            save_tokenizer(encoder, directory, model_max_length=backbone.max_input_length)
        else:
            logger.warning("save_pretrained wrote no tokenizer files: %s is not a WordPiece "
                           "FeatureEncoder.", type(encoder).__name__)
    return directory
