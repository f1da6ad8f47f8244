"""`BertQuestionAnswerer` <-> Hugging Face `*ForQuestionAnswering` checkpoints of every family
(`BertForQuestionAnswering`, `RobertaForQuestionAnswering`, `XLMRobertaForQuestionAnswering`,
`ElectraForQuestionAnswering`, `AlbertForQuestionAnswering`,
`DistilBertForQuestionAnswering`): the backbone under the family's prefix, without a pooler
(transformers' QA classes have none), the span head as `qa_outputs`."""

import keras
import numpy as np

from bertcls.models import checkpoints
from bertcls.tasks.pretrained import load_task_parts, write_task_directory

HEAD_PREFIX = "qa_outputs."


def _head_dense(model):
    dense = getattr(model.head, "dense", None)
    if dense is None or tuple(dense.kernel.shape)[-1] != 2:
        raise ValueError(
            "save_pretrained writes the default span head (a BertHead with a 2-unit `dense`) "
            f"as `qa_outputs`; this model's head is {type(model.head).__name__}.")
    return dense


def load_qa_preset(cls, preset, max_seq_len=384, strict=False, **kwargs):
    """Implementation of `BertQuestionAnswerer.from_preset` (see there)."""
    directory, backbone, encoder = load_task_parts(
        preset, max_seq_len, strict=strict,
        pooling="span" if kwargs.get("head") is None else "pooled")
    model = cls(backbone, encoder=encoder, **kwargs)
    head = {n[len(HEAD_PREFIX):]: v
            for n, v in checkpoints.read_prefixed(directory, HEAD_PREFIX).items()}
    if not head:  # a base or pre-training checkpoint: a new span head
        return model
    dense = _head_dense(model)
    expected = {"weight": (2, backbone.hidden_size), "bias": (2,)}
    found = {k: tuple(np.shape(v)) for k, v in head.items()}
    if found != expected:
        raise checkpoints.CheckpointError(
            f"{directory}: the checkpoint's qa_outputs weights have shapes {found}, expected "
            f"{expected} (2 labels, start and end).")
    values = {k: np.asarray(v, np.float32) for k, v in head.items()}
    if not all(np.isfinite(v).all() for v in values.values()):
        message = f"{directory}: the qa_outputs weights hold NaN or infinite values"
        if strict:
            raise checkpoints.CheckpointError(message + " (strict=True).")
        checkpoints.logger.warning("%s.", message)
    dense.kernel.assign(values["weight"].T)
    dense.bias.assign(values["bias"])
    return model


def save_qa_pretrained(model, directory):
    """Implementation of `BertQuestionAnswerer.save_pretrained` (see there)."""
    dense = _head_dense(model)
    head = {
        "qa_outputs.weight": np.ascontiguousarray(
            keras.ops.convert_to_numpy(dense.kernel.value).T, dtype=np.float32),
        "qa_outputs.bias": np.ascontiguousarray(
            keras.ops.convert_to_numpy(dense.bias.value), dtype=np.float32),
    }
    return write_task_directory(model, directory, "QuestionAnswering", head, {})
