"""`BertQuestionAnswerer` <-> Hugging Face `BertForQuestionAnswering` checkpoints: the backbone
through `bertcls.models.checkpoints`' weight names, the span head as `qa_outputs`."""

import contextlib
import json
import logging
import os

import keras
import numpy as np

from bertcls.hub import resolve_preset
from bertcls.models import checkpoints
from bertcls.models.backbone import BertBackbone

HEAD_PREFIX = "qa_outputs."


def _head_dense(model):
    dense = getattr(model.head, "dense", None)
    if dense is None or tuple(dense.kernel.shape)[-1] != 2:
        raise ValueError(
            "save_pretrained writes the default span head (a BertHead with a 2-unit `dense`) "
            f"as `qa_outputs`; this model's head is {type(model.head).__name__}.")
    return dense


def _weight_names(directory):
    """The tensor names of a checkpoint directory, cheaply where the format allows."""
    path = os.path.join(directory, "model.safetensors")
    index = path + ".index.json"
    if os.path.exists(path):
        from safetensors import safe_open
        with safe_open(path, framework="np") as f:
            return set(f.keys())
    if os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            return set(json.load(f)["weight_map"])
    return None  # a .bin: the names come with the tensors


@contextlib.contextmanager
def _quiet_pooler():
    """transformers' QA model has no pooler, and the span head never reads it."""
    logger = logging.getLogger(checkpoints.__name__)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def load_qa_preset(cls, preset, max_seq_len=384, **kwargs):
    """Implementation of `BertQuestionAnswerer.from_preset` (see there)."""
    from bertcls.text.feature_encoder import FeatureEncoder

    directory = resolve_preset(preset)
    encoder = FeatureEncoder.from_preset(directory, max_seq_len=max_seq_len)
    names = _weight_names(directory)
    if names is not None and not any(n.startswith(HEAD_PREFIX) for n in names):
        return cls(BertBackbone.from_preset(directory), encoder=encoder, **kwargs)
    state = checkpoints.read_checkpoint(directory)
    head = {n[len(HEAD_PREFIX):]: state.pop(n) for n in list(state) if n.startswith(HEAD_PREFIX)}
    if not head:  # a .bin without a QA head
        return cls(BertBackbone.from_preset(directory), encoder=encoder, **kwargs)
    backbone = BertBackbone.from_hf_config(directory)
    with _quiet_pooler():
        checkpoints.set_hf_weights(backbone, state)
    model = cls(backbone, encoder=encoder, **kwargs)
    dense = _head_dense(model)
    expected = {"weight": (2, backbone.hidden_size), "bias": (2,)}
    found = {k: tuple(np.shape(v)) for k, v in head.items()}
    if found != expected:
        raise ValueError(
            f"{directory}: the checkpoint's qa_outputs weights have shapes {found}, expected "
            f"{expected} (2 labels, start and end).")
    dense.kernel.assign(np.asarray(head["weight"], np.float32).T)
    dense.bias.assign(np.asarray(head["bias"], np.float32))
    return model


def save_qa_pretrained(model, directory):
    """Implementation of `BertQuestionAnswerer.save_pretrained` (see there)."""
    from safetensors.numpy import save_file

    dense = _head_dense(model)
    backbone = model.backbone
    os.makedirs(directory, exist_ok=True)
    config = dict(backbone.to_hf_config(), architectures=["BertForQuestionAnswering"])
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    weights = {"bert." + name: value
               for name, value in checkpoints.get_hf_weights(backbone).items()
               if name not in checkpoints.POOLER_NAMES}
    weights["qa_outputs.weight"] = np.ascontiguousarray(
        keras.ops.convert_to_numpy(dense.kernel.value).T, dtype=np.float32)
    weights["qa_outputs.bias"] = np.ascontiguousarray(
        keras.ops.convert_to_numpy(dense.bias.value), dtype=np.float32)
    save_file(weights, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    if model.encoder is not None:
        checkpoints.save_tokenizer(model.encoder, directory,
                                   model_max_length=backbone.max_sequence_length)
    return directory
