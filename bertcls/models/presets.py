"""`backbone_from_preset`: the family backbone a Hugging Face directory's `model_type` names."""

from bertcls.models.albert import AlbertBackbone
from bertcls.models.backbone import BertBackbone
from bertcls.models.checkpoints import MODEL_TYPES, is_keras_hub_preset
from bertcls.models.checkpoint_files import Preset
from bertcls.models.distilbert import DistilBertBackbone
from bertcls.models.electra import ElectraBackbone
from bertcls.models.roberta import RobertaBackbone, XLMRobertaBackbone

# config.json `model_type` -> backbone class.
FAMILIES = {cls.model_type: cls for cls in (
    BertBackbone, RobertaBackbone, XLMRobertaBackbone, ElectraBackbone, AlbertBackbone,
    DistilBertBackbone)}
assert tuple(FAMILIES) == MODEL_TYPES


def backbone_class(config):
    """The backbone class for a `config.json` dict (no `model_type` means BERT).

    Raises:
        ValueError: `model_type` names a family bertcls does not implement (the message
            lists the ones it does).
    """
    if not isinstance(config, dict):
        raise ValueError(
            f"A Hugging Face config must be a dict (config.json), received "
            f"{type(config).__name__}.")
    model_type = config.get("model_type", "bert")
    if model_type not in FAMILIES:
        raise ValueError(
            f"Unsupported model_type {model_type!r}; bertcls implements "
            f"{', '.join(FAMILIES)}.")
    return FAMILIES[model_type]


def backbone_from_preset(preset, **overrides):
    """Load the pretrained backbone of whichever family a preset holds.

    Reads `config.json`'s `model_type` (`bert`, `roberta`, `xlm-roberta`, `electra`,
    `albert`, `distilbert`; a keras-hub BERT preset is BERT) and calls that family's
    `from_preset` on the preset as read (one resolution, one read of `config.json`). The
    load is reported as every load is (`WeightReport`): a task checkpoint's head or a
    pre-training head is named as not used, at INFO.

    Args:
        preset: a local Hugging Face directory, a Hub id such as `"klue/roberta-base"`, or a
            `Preset` already read.
        **overrides: constructor arguments replacing the checkpoint's, and the loading
            options `strict` and `needs_pooler` (see `EncoderBackbone.from_preset`).

    Returns:
        A `BertBackbone`, `RobertaBackbone`, `XLMRobertaBackbone`, `ElectraBackbone`,
        `AlbertBackbone` or `DistilBertBackbone` holding the checkpoint's weights.

    Raises:
        bertcls.PresetError: the preset cannot be found.
        ValueError: no `config.json`, an unsupported `model_type` (the message lists the
            supported ones), or weights that do not match the config.

    Example:

    >>> import tempfile
    >>> from bertcls import ElectraBackbone
    >>> directory = tempfile.mkdtemp()
    >>> _ = ElectraBackbone(vocabulary_size=10, num_layers=1, num_heads=2, hidden_size=8,
    ...                     intermediate_size=16, embedding_size=4).save_pretrained(directory)
    >>> type(backbone_from_preset(directory)).__name__
    'ElectraBackbone'
    """
    preset = Preset.read(preset)
    return preset_backbone_class(preset).from_preset(preset, **overrides)


def preset_backbone_class(preset):
    """The backbone class a read `Preset`'s `config.json` names (a keras-hub BERT preset
    gives `BertBackbone`).

    Raises:
        ValueError: an unsupported `model_type`.
    """
    config = preset.config
    return BertBackbone if is_keras_hub_preset(config) else backbone_class(config)


def preset_family(preset):
    """The local directory of a preset and the backbone class its `config.json` names.

    Args:
        preset: a local Hugging Face directory, a Hub id or a `Preset`.

    Returns:
        `(directory, backbone class)`; a keras-hub BERT preset gives `BertBackbone`.

    Raises:
        bertcls.PresetError: the preset cannot be found.
        ValueError: no readable `config.json`, or an unsupported `model_type`.
    """
    preset = Preset.read(preset)
    return preset.directory, preset_backbone_class(preset)
