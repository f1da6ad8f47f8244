"""bertcls: fine-tune BERT-family encoders with Keras 3.

The public surface of the package; everything a user needs is importable from here.
"""

__version__ = "0.1.0"

# === Text ===
from bertcls.encoder import FeatureEncoder
from bertcls.hub import PresetError, resolve_preset
from bertcls.tokenization import BertWordPiece
from bertcls.vocabulary import save_vocabulary, train_vocabulary

# === Model ===
from bertcls.backbone import BertBackbone
from bertcls.checkpoints import UnsafeCheckpointError

# === Tasks ===
from bertcls.classifier import BertClassifier
from bertcls.heads import BertHead
from bertcls.metrics import char_f1, entity_scores, get_entities
from bertcls.ner import (Entity, NerExample, align_tags, decode_entities, encode_tagged,
                         entities_to_char_tags, read_klue_ner)
from bertcls.tagger import BertTagger, MaskedAccuracy, MaskedSparseCategoricalCrossentropy

# === Running ===
from bertcls.data import encode_texts, make_dataset, validation_split
from bertcls.callbacks import BackupAndRestore
from bertcls.distribute import (DeviceNotFoundError, Runtime, get_strategy,
                                process_shard, set_mixed_precision)
from bertcls.export import export_text_model
from bertcls.datasets import (DatasetError, clean_like_tutorial, load_klue_ner, load_nsmc,
                              read_nsmc)

__all__ = [
    # Text
    "BertWordPiece",
    "FeatureEncoder",
    "PresetError",
    "resolve_preset",
    "save_vocabulary",
    "train_vocabulary",
    # Model
    "BertBackbone",
    "UnsafeCheckpointError",
    # Tasks
    "BertClassifier",
    "BertHead",
    "BertTagger",
    "Entity",
    "MaskedAccuracy",
    "MaskedSparseCategoricalCrossentropy",
    "NerExample",
    "align_tags",
    "char_f1",
    "decode_entities",
    "encode_tagged",
    "entities_to_char_tags",
    "entity_scores",
    "get_entities",
    "read_klue_ner",
    # Running
    "BackupAndRestore",
    "DeviceNotFoundError",
    "Runtime",
    "get_strategy",
    "process_shard",
    "set_mixed_precision",
    "encode_texts",
    "make_dataset",
    "validation_split",
    "export_text_model",
    "DatasetError",
    "clean_like_tutorial",
    "load_klue_ner",
    "load_nsmc",
    "read_nsmc",
]
