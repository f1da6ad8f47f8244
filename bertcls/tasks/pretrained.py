"""Task models <-> Hugging Face task directories, both ways, for every family and task.

Reading (`load_task`, behind every task's `from_preset`): the preset is resolved and read
once (`Preset`: `config.json` and the tensors), the backbone of the family `config.json`
names is built from it, the encoder from the tokenizer files, and the task head from the
checkpoint's own head when it has one for this task (`*ForSequenceClassification`,
`*ForTokenClassification`, `*ForQuestionAnswering`), as transformers' `AutoModelFor...` does.
`id2label` becomes the label names. One `WeightReport` covers the whole load.

Writing (`save_task_pretrained`): the backbone's weights under the family's base-model prefix
(`bert.`, `roberta.`, `electra.`, `albert.`, `distilbert.`), the head under transformers'
names, `config.json` with `architectures`, `id2label` / `label2id` and `problem_type`, the
tokenizer files and a model card.

The heads are one table (`HF_TASKS`, `head_names`): a task's Hugging Face head is one or two
dense layers, `BertHead.hidden_dense` (role `"hidden"`) and `BertHead.dense` (role
`"output"`), under names that depend on the task and, for sequence classification, on the
family (`backbone.hf_classifier_names`: `classifier`; `classifier.dense` +
`classifier.out_proj` for RoBERTa / XLM-R / ELECTRA; `pre_classifier` + `classifier` for
DistilBERT). The activations and pooling of each family's head are the backbone's
`classifier_head`, which `BertHead` reproduces.

transformers' heads output logits, bertcls' heads probabilities. A multi-class classifier
maps to softmax over the logits, a multi-label one to a sigmoid per logit
(`problem_type: multi_label_classification`), a regressor to the logits themselves
(`problem_type: regression`). A binary classifier (one sigmoid unit with logit `z`) is
written as a 2-class head whose logits are `[0, z]`: the first row of the weight matrix and
the first bias are zero, so `softmax([0, z])[1] == sigmoid(z)` exactly, the probability
bertcls gives; `config.json`'s `bertcls` block says so (`"binary": true`), and reading it back
gives the one-unit sigmoid again. Any other 2-label checkpoint keeps its 2-unit softmax.
"""

import collections
import json
import logging
import os

import keras
import numpy as np

from bertcls.models.checkpoint_files import Preset
from bertcls.models.checkpoints import (HEAD_PREFIXES, get_hf_weights, load_backbone,
                                        normalize_names, save_tokenizer)
from bertcls.models.errors import CheckpointError
from bertcls.models.presets import preset_backbone_class
from bertcls.models.weight_report import WeightReport
from bertcls.tasks.heads import BertHead
from bertcls.tasks.model_card import write_model_card
from bertcls.text.presets import encoder_from_directory

logger = logging.getLogger(__name__)

# transformers' task architectures bertcls reads and writes: the suffix after `<Family>For`,
# the bertcls class for each `problem_type`, and the head's names (None: the family's
# sequence-classification names, `backbone.hf_classifier_names`).
HF_TASKS = {
    "SequenceClassification": {
        "classes": {"single_label_classification": "BertClassifier",
                    "multi_label_classification": "BertClassifier",
                    "regression": "BertRegressor"},
        "names": None},
    "TokenClassification": {"classes": {None: "BertTagger"}, "names": {"output": "classifier"}},
    "QuestionAnswering": {"classes": {None: "BertQuestionAnswerer"},
                          "names": {"output": "qa_outputs"}},
}
# The Hub's pipeline tag of each architecture bertcls writes (masked LM too: its head is read
# from any pre-training checkpoint, so it is not a task head `HF_TASKS` tells apart).
PIPELINE_TAGS = {"SequenceClassification": "text-classification",
                 "TokenClassification": "token-classification",
                 "QuestionAnswering": "question-answering", "MaskedLM": "fill-mask"}
PROBLEM_TYPES = ("single_label_classification", "multi_label_classification", "regression")
# config.json's block of bertcls settings that transformers has no key for.
SETTINGS_KEY = "bertcls"

CheckpointHead = collections.namedtuple(
    "CheckpointHead", "architecture kind problem_type num_labels labels settings task_class")
CheckpointHead.__doc__ = """What a task checkpoint's `config.json` says of its head: the
`architecture` (`"ElectraForSequenceClassification"`), its `kind` (a key of `HF_TASKS`), the
`problem_type` (sequence classification only), `num_labels`, the label names (`labels`, None
when `id2label` holds only transformers' defaults `LABEL_0`, `LABEL_1`, ...), the `bertcls`
settings block and the name of the bertcls class that loads it."""


# === Reading ===

def checkpoint_head(config, source="config.json"):
    """The task head a `config.json` dict describes, or None for a base or pre-training
    checkpoint (`BertModel`, `BertForMaskedLM`, `ElectraForPreTraining`, no `architectures`).

    Every value is checked: the file is untrusted.

    Raises:
        CheckpointError: `architectures`, `id2label`, `num_labels`, `problem_type` or the
            `bertcls` block has a value of the wrong type or shape (named).

    Example:

    >>> head = checkpoint_head({"architectures": ["BertForSequenceClassification"],
    ...                         "id2label": {"0": "neg", "1": "pos"}})
    >>> head.kind, head.problem_type, head.labels, head.task_class
    ('SequenceClassification', 'single_label_classification', ['neg', 'pos'], 'BertClassifier')
    >>> checkpoint_head({"architectures": ["BertForMaskedLM"]}) is None
    True
    """
    architectures = config.get("architectures")
    if architectures is None:
        return None
    if (not isinstance(architectures, list) or not architectures
            or not all(isinstance(a, str) for a in architectures)):
        raise CheckpointError(
            f"{source}: `architectures` must be a non-empty list of class names, received "
            f"{architectures!r}.")
    architecture = architectures[0]
    kind = architecture.split("For", 1)[1] if "For" in architecture else None
    if kind not in HF_TASKS:
        return None
    settings = config_settings(config, source)
    names = _label_names(config, source)
    num_labels = len(names) if names is not None else config.get("num_labels", 2)
    if not isinstance(num_labels, int) or isinstance(num_labels, bool) or num_labels < 1:
        raise CheckpointError(f"{source}: `num_labels` must be a positive integer, received "
                              f"{num_labels!r}.")
    problem_type = None
    if kind == "SequenceClassification":
        problem_type = config.get("problem_type")
        if problem_type is None:  # transformers' rule when it has no labels to look at
            problem_type = "regression" if num_labels == 1 else "single_label_classification"
        if problem_type not in PROBLEM_TYPES:
            raise CheckpointError(f"{source}: `problem_type` must be one of {PROBLEM_TYPES}, "
                                  f"received {problem_type!r}.")
    default = names is None or names == [f"LABEL_{i}" for i in range(len(names))]
    return CheckpointHead(architecture, kind, problem_type, num_labels,
                          None if default else names, settings,
                          HF_TASKS[kind]["classes"][problem_type])


def _label_names(config, source):
    id2label = config.get("id2label")
    if id2label is None:
        return None
    if not isinstance(id2label, dict) or not id2label:
        raise CheckpointError(f"{source}: `id2label` must be a non-empty object, received "
                              f"{id2label!r}.")
    expected = [str(i) for i in range(len(id2label))]
    if sorted(id2label, key=lambda k: (len(k), k)) != expected:
        raise CheckpointError(
            f"{source}: `id2label` keys must be the ids 0..{len(id2label) - 1}, received "
            f"{sorted(id2label)[:10]}.")
    names = [id2label[key] for key in expected]
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise CheckpointError(
            f"{source}: `id2label` values must be distinct non-empty strings, received "
            f"{names[:10]}.")
    return names


def head_names(backbone, kind):
    """Role (`"hidden"`, `"output"`) -> Hugging Face name of a `kind` head on `backbone`."""
    names = HF_TASKS[kind]["names"]
    return dict(getattr(backbone, "hf_classifier_names", {"output": "classifier"})
                if names is None else names)


def head_layers(head, roles):
    """Role -> the `BertHead` dense layer holding it.

    Raises:
        ValueError: `head` is not a `BertHead` of that shape (a custom head).
    """
    if not isinstance(head, BertHead):
        raise ValueError(
            f"Hugging Face task heads map onto bertcls' BertHead only; this model's head is "
            f"a {type(head).__name__}, which transformers has no class for.")
    layers = {"output": head.dense}
    if "hidden" in roles:
        if head.hidden_activation is None:
            raise ValueError("The checkpoint's head has a hidden dense layer, this BertHead "
                             "has none (hidden_activation=None).")
        layers["hidden"] = head.hidden_dense
    return layers


def config_settings(config, source="config.json"):
    """The `bertcls` settings block of a `config.json` dict (`{}` when it has none).

    Raises:
        CheckpointError: the block is not a JSON object.
    """
    settings = config.get(SETTINGS_KEY, {})
    if not isinstance(settings, dict):
        raise CheckpointError(f"{source}: `{SETTINGS_KEY}` must be an object, received "
                              f"{settings!r}.")
    return settings


def read_settings(found, key, kinds, default=None):
    """One value of a checkpoint's `bertcls` settings block (`found`: a `CheckpointHead`, or
    the block itself as a dict), type-checked."""
    settings = found if isinstance(found, dict) else (
        found.settings if found is not None else {})
    value = settings.get(key, default)
    if value is not None and not isinstance(value, kinds):
        raise CheckpointError(f"config.json: `{SETTINGS_KEY}.{key}` has the wrong type: "
                              f"{value!r}.")
    return value


def load_task(cls, preset, task_args, max_seq_len=None, strict=False, new_head=False,
              default_max_seq_len=128, encoder_options=None, **kwargs):
    """Implementation of the task models' `from_preset` (see `BertClassifier.from_preset`).

    Args:
        cls: the task class; it gives `hf_task` (its `HF_TASKS` key) and
            `preset_arguments(found, **task_args)` (constructor arguments from the
            checkpoint's head and the caller's task arguments).
        preset: a directory, Hub id or `Preset`.
        task_args: the caller's task arguments (`num_classes`, `tags`, ...); None values
            mean "from the checkpoint".
        max_seq_len: the encoder's length; None: the checkpoint's `bertcls.max_seq_len`, else
            `default_max_seq_len`, at most the checkpoint's positions.
        strict: refuse NaN/infinite weights, unexpected tensors and missing weights.
        new_head: build a new head even when the checkpoint has one for this task.
        encoder_options: passed to `encoder_from_preset` (e.g. `lowercase`).
        **kwargs: other constructor arguments (`dropout`, `head`, `pooling`, ...).

    Raises:
        ValueError: the checkpoint's head belongs to another task class (named), or the task
            arguments disagree with it (without `new_head`).
        CheckpointError: the head's tensors have the wrong shapes; with `strict`, a
            non-finite, unexpected or missing weight.
    """
    preset = Preset.read(preset)
    family = preset_backbone_class(preset)
    found = checkpoint_head(preset.config, preset.config_path)
    custom = kwargs.get("head") is not None or kwargs.get("pooling") is not None
    ours = found is not None and found.task_class == cls.__name__
    if found is not None and not ours and not new_head and not custom:
        raise ValueError(
            f"{preset.directory} is a {found.architecture} checkpoint ("
            f"{_describe(found)}), which {found.task_class}.from_preset loads; "
            f"{cls.__name__} cannot use its head. Load it with {found.task_class}, or pass "
            f"new_head=True to put a new {cls.__name__} head on its backbone.")
    keep = ours and not new_head and not custom
    arguments = cls.preset_arguments(found if keep else None, **task_args)
    report = WeightReport(preset.directory)
    roles = head_names(family, cls.hf_task)
    backbone, encoder = backbone_and_encoder(
        preset, strict, report, reads_pooler(cls, family, kwargs), max_seq_len,
        read_settings(found if keep else None, "max_seq_len", int) or default_max_seq_len,
        encoder_options)
    model = cls(backbone, encoder=encoder, **arguments, **kwargs)
    if keep:
        state = normalize_names(preset.tensors, family.hf_prefix, preset.directory)
        load_head(model, roles, state, report, preset.directory, strict,
                  binary=getattr(model, "binary", False))
        report.reclassify(HEAD_PREFIXES, f"not part of the {found.architecture} head")
    else:
        if found is not None:
            report.reclassify(HEAD_PREFIXES, f"the checkpoint's {found.architecture} head, "
                              f"replaced by a new one", expected=True)
        reason = ("a new task head, as asked: train it" if found is not None else
                  f"a new task head: the checkpoint has no {cls.hf_task} head; train it")
        report.initialised([w.path for w in model.head.weights], reason, expected=True)
    report.finish(strict)
    return model


def backbone_and_encoder(preset, strict, report, needs_pooler, max_seq_len=None,
                         default_max_seq_len=128, encoder_options=None):
    """The backbone (recorded into `report`) and the encoder of a read `Preset`: what every
    task's `from_preset` builds its head on.

    Args:
        max_seq_len: the encoder's length; None: `default_max_seq_len`, at most the
            checkpoint's positions.
    """
    backbone = load_backbone(preset_backbone_class(preset), preset, strict=strict,
                             report=report, needs_pooler=needs_pooler)
    if max_seq_len is None:
        max_seq_len = min(default_max_seq_len, backbone.max_input_length)
    encoder = encoder_from_directory(preset.directory, model_config=preset.config,
                                     max_seq_len=max_seq_len, **(encoder_options or {}))
    return backbone, encoder


def reads_pooler(cls, family, kwargs):
    """Whether the task's head will read the pooled output: a custom head may; an explicit
    `pooling` says; else the family's sequence-classification head for a classifier or
    regressor, never for a tagger or a span head. A checkpoint without a pooler then loads
    under `strict` wherever nothing reads it."""
    if kwargs.get("head") is not None:
        return True
    if kwargs.get("pooling") is not None:
        return kwargs["pooling"] == "pooled"
    return cls.hf_task == "SequenceClassification" and (
        family.classifier_head["pooling"] == "pooled")


def _describe(found):
    what = {"SequenceClassification": found.problem_type,
            "TokenClassification": "token classification",
            "QuestionAnswering": "extractive question answering"}[found.kind]
    return f"{what}, {found.num_labels} label{'s' if found.num_labels != 1 else ''}"


def load_head(model, roles, state, report, source, strict, binary=False):
    """Assign the checkpoint's head tensors (`roles`: role -> Hugging Face name) to the
    model's `BertHead`, checked first; a binary sigmoid head reads transformers' 2 logits
    `[a, b]` as the one logit `b - a` (`softmax([a, b])[1] == sigmoid(b - a)`)."""
    layers = head_layers(model.head, roles)
    values, missing, mismatched = {}, [], []
    for role, dense in layers.items():
        name = roles[role]
        kernel_in, units = tuple(dense.kernel.shape)
        rows = 2 if binary and role == "output" else units
        for suffix, shape in (("weight", (rows, kernel_in)), ("bias", (rows,))):
            key = f"{name}.{suffix}"
            if key not in state:
                missing.append(key)
            elif tuple(state[key].shape) != shape:
                mismatched.append(f"{key}: checkpoint {tuple(state[key].shape)}, expected "
                                  f"{shape}")
            else:
                values[key] = np.asarray(state[key], np.float32)
    if mismatched:
        raise CheckpointError(f"{source}: the head's tensors do not match the model's head: "
                              f"{'; '.join(mismatched)}.")
    if missing:
        report.initialised(missing, "the checkpoint's config names a task head, its "
                                    "weights lack these")
    non_finite = [k for k, v in values.items() if not np.isfinite(v).all()]
    if non_finite:
        message = f"{source}: the head tensors {', '.join(non_finite)} hold NaN or infinite values"
        if strict:
            raise CheckpointError(message + " (strict=True).")
        logger.warning("%s.", message)
    for role, dense in layers.items():
        weight, bias = values.get(f"{roles[role]}.weight"), values.get(f"{roles[role]}.bias")
        if binary and role == "output" and weight is not None and bias is not None:
            weight, bias = weight[1:] - weight[:1], bias[1:] - bias[:1]
        if weight is not None:
            dense.kernel.assign(weight.T)
        if bias is not None:
            dense.bias.assign(bias)
    report.claim(values)


def load_task_parts(preset, max_seq_len=128, strict=False, pooling="cls", **encoder_options):
    """The backbone and feature encoder of a preset, without a task head (the sentence
    embedder's `from_preset`); the load is reported (`WeightReport`), a task checkpoint's head
    named as not used.

    Args:
        preset: a local Hugging Face directory, a Hub id or a `Preset`.
        max_seq_len: the encoder's maximum length; None: 128, or less when the checkpoint
            has fewer positions.
        strict: refuse NaN/infinite weights, and a missing pooler when `pooling="pooled"`.
        pooling: `"pooled"` when the caller reads the pooler, anything else when not.
        **encoder_options: passed to `encoder_from_preset` (e.g. `lowercase`).

    Returns:
        `(directory, backbone, encoder)`.

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
    preset = Preset.read(preset)
    report = WeightReport(preset.directory)
    backbone, encoder = backbone_and_encoder(preset, strict, report, pooling == "pooled",
                                             max_seq_len, encoder_options=encoder_options)
    report.finish(strict)
    return preset.directory, backbone, encoder


# === Writing ===

def _array(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable.value), dtype=np.float32)


def head_tensors(task, kind, binary=False):
    """The task head's weights under transformers' names for `kind` and the backbone's
    family.

    Raises:
        ValueError: a head transformers' class for this family cannot represent (a
            custom head, another pooling, a hidden layer where the family has none).
    """
    backbone, head = task.backbone, task.head
    roles = head_names(backbone, kind)
    if kind == "SequenceClassification" and isinstance(head, BertHead):
        spec = getattr(backbone, "classifier_head", {"pooling": "pooled"})
        pooling, hidden = spec["pooling"], spec.get("hidden_activation")
        if head.pooling != pooling or head.hidden_activation != hidden:
            arch = f"{backbone.hf_architecture}ForSequenceClassification"
            raise ValueError(
                f"transformers' {arch} reads pooling={pooling!r} with hidden_activation="
                f"{hidden!r}; this head has pooling={head.pooling!r}, hidden_activation="
                f"{head.hidden_activation!r}, which it cannot represent. Build the model with "
                f"pooling=None (the family's head) to save it for transformers.")
    tensors = {}
    for role, dense in head_layers(head, roles).items():
        weight, bias = np.ascontiguousarray(_array(dense.kernel).T), _array(dense.bias)
        if binary and role == "output":  # one sigmoid logit z -> logits [0, z]
            weight = np.concatenate([np.zeros_like(weight), weight])
            bias = np.concatenate([np.zeros_like(bias), bias])
        tensors[f"{roles[role]}.weight"], tensors[f"{roles[role]}.bias"] = weight, bias
    return tensors


def save_task_pretrained(task, directory, kind, labels=None, problem_type=None, settings=None,
                         card=None, head=None):
    """Write `task` (backbone + head, + tokenizer files + model card) for
    `AutoModelFor<kind>`.

    Args:
        task: a task model with a `BertHead`.
        directory: output directory (created if missing).
        kind: a key of `HF_TASKS`, or `"MaskedLM"` (with `head`).
        labels: the label names, index = class id (None: no `id2label`, as for QA).
        problem_type: transformers' `problem_type` (None to leave it out).
        settings: the `bertcls` block (`binary`, `level`, ...); `max_seq_len` is added
            from the encoder.
        card: `write_model_card` options (`base_model`, `results`, `language`, ...).
        head: the head's tensors under transformers' names (None: `head_tensors`, the
            `BertHead` of the `HF_TASKS` table; the masked-LM head passes its own).

    Returns:
        The directory path.
    """
    backbone = family_backbone(task)
    settings = dict(settings or {})
    if head is None:
        head = head_tensors(task, kind, binary=bool(settings.get("binary")))
    config_updates = {}
    if labels is not None:
        config_updates["id2label"] = {str(i): name for i, name in enumerate(labels)}
        config_updates["label2id"] = {name: i for i, name in enumerate(labels)}
    if problem_type:
        config_updates["problem_type"] = problem_type
    if getattr(task.encoder, "max_seq_len", None) is not None:
        settings["max_seq_len"] = int(task.encoder.max_seq_len)
    settings["task"] = type(task).__name__
    config_updates[SETTINGS_KEY] = settings
    # transformers' task classes keep the pooler only where their head reads it.
    pooler = (kind == "SequenceClassification"
              and getattr(backbone, "classifier_head", {}).get("pooling") == "pooled")
    write_task_directory(task, directory, kind, head, config_updates, pooler=pooler)
    write_model_card(directory, architecture=f"{backbone.hf_architecture}For{kind}",
                     pipeline_tag=PIPELINE_TAGS[kind], task_class=type(task).__name__,
                     labels=labels, **(card or {}))
    return directory


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
        json.dump(config, f, indent=2, sort_keys=True, ensure_ascii=False)
    save_file(tensors, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    save_encoder_files(task.encoder, directory, backbone.max_input_length)
    return directory


def save_encoder_files(encoder, directory, model_max_length):
    """The tokenizer files of `encoder` (a `FeatureEncoder`'s `vocab.txt`, a
    `SentencePieceEncoder`'s model, and `tokenizer_config.json`); None writes none."""
    if hasattr(encoder, "save_tokenizer"):  # SentencePieceEncoder: its .model file
        encoder.save_tokenizer(directory, model_max_length=model_max_length)
    elif encoder is not None:
        if hasattr(encoder, "vocabulary") and hasattr(encoder, "lowercase"):
            save_tokenizer(encoder, directory, model_max_length=model_max_length)
        else:
            logger.warning("save_pretrained wrote no tokenizer files: %s is neither a "
                           "FeatureEncoder nor a SentencePieceEncoder.",
                           type(encoder).__name__)


def family_backbone(task):
    """`task.backbone`, which must be a bertcls family backbone to be written."""
    backbone = task.backbone
    if not hasattr(backbone, "hf_weight_map"):
        raise ValueError(
            f"save_pretrained needs a bertcls family backbone, received "
            f"{type(backbone).__name__}.")
    return backbone
