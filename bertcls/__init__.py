"""bertcls: fine-tune BERT-family encoders with Keras 3.

The public surface of the package; everything a user needs is importable from here.
"""

__version__ = "0.1.0"

# === Text ===
from bertcls.text.feature_encoder import FeatureEncoder
from bertcls.text.sentencepiece_encoder import SentencePieceEncoder
from bertcls.text.presets import encoder_from_preset
from bertcls.hub import PresetError, resolve_preset
from bertcls.text.wordpiece import BertWordPiece
from bertcls.text.vocabulary import save_vocabulary, train_vocabulary

# === Models ===
from bertcls.models.albert import AlbertBackbone
from bertcls.models.backbone import BertBackbone
from bertcls.models.errors import CheckpointError, UnsafeCheckpointError
from bertcls.models.distilbert import DistilBertBackbone
from bertcls.models.electra import ElectraBackbone
from bertcls.models.encoder import EncoderBackbone
from bertcls.models.presets import backbone_from_preset
from bertcls.models.roberta import RobertaBackbone, XLMRobertaBackbone

# === Tasks ===
from bertcls.tasks.classifier import BertClassifier
from bertcls.tasks.correlation import StreamingPearson, pearson, spearman
from bertcls.tasks.embedder import SentenceEmbedder
from bertcls.tasks.heads import BertHead
from bertcls.tasks.masked_lm import BertMaskedLM
from bertcls.tasks.mlm_head import MaskedLMHead
from bertcls.tasks.klue_metrics import klue_char_f1, klue_entity_f1
from bertcls.tasks.metrics import char_f1, entity_scores, get_entities
from bertcls.tasks.qa_answers import Answer, best_answers, no_answer_margins
from bertcls.tasks.qa_metrics import korquad_scores, normalize_answer
from bertcls.tasks.squad_v2_metrics import best_no_answer_threshold, squad_v2_scores
from bertcls.tasks.qa_windows import QAWindows, encode_qa
from bertcls.tasks.open_qa import OpenAnswer, PassageIndex, RetrieveThenRead
from bertcls.tasks.pooling import SentencePooling
from bertcls.tasks.siamese import MultipleNegativesRankingLoss, SiameseModel
from bertcls.tasks.similarity import cosine_similarity, semantic_search
from bertcls.tasks.question_answering import BertQuestionAnswerer, SpanAccuracy, SpanLoss
from bertcls.tasks.ner import (Entity, NerExample, align_tags, decode_entities, encode_tagged,
                               entities_to_char_tags)
from bertcls.tasks.regressor import BertRegressor
from bertcls.tasks.tagger import BertTagger, MaskedAccuracy, MaskedSparseCategoricalCrossentropy

# === Training and running ===
from bertcls.training.pipeline import encode_texts, make_dataset, validation_split
from bertcls.training.siamese_pipeline import make_siamese_dataset
from bertcls.training.mlm_pipeline import TokenMasker, make_mlm_dataset
from bertcls.training.callbacks import BackupAndRestore, BackupError
from bertcls.training.distribute import (DeviceNotFoundError, Runtime, get_strategy,
                                         process_shard, set_mixed_precision)
from bertcls.training.export import export_text_model
from bertcls.training.export_qa import export_qa_model
from bertcls.training.pair_datasets import read_klue_nli, read_klue_sts, read_kornli, read_korsts
from bertcls.training.datasets import (DatasetError, clean_like_tutorial, load_klue_ner,
                                       load_nsmc, read_klue_ner, read_nsmc)
from bertcls.training.squad import (QAExample, first_answers, load_korquad, read_squad,
                                    split_by_title, unanswerable_pairs)

__all__ = [
    # Text
    "BertWordPiece",
    "FeatureEncoder",
    "PresetError",
    "SentencePieceEncoder",
    "encoder_from_preset",
    "resolve_preset",
    "save_vocabulary",
    "train_vocabulary",
    # Model
    "AlbertBackbone",
    "BertBackbone",
    "CheckpointError",
    "DistilBertBackbone",
    "ElectraBackbone",
    "EncoderBackbone",
    "RobertaBackbone",
    "XLMRobertaBackbone",
    "backbone_from_preset",
    "UnsafeCheckpointError",
    # Tasks
    "BertClassifier",
    "BertHead",
    "BertMaskedLM",
    "MaskedLMHead",
    "BertQuestionAnswerer",
    "BertRegressor",
    "BertTagger",
    "Entity",
    "MaskedAccuracy",
    "MaskedSparseCategoricalCrossentropy",
    "NerExample",
    "StreamingPearson",
    "align_tags",
    "char_f1",
    "decode_entities",
    "encode_tagged",
    "entities_to_char_tags",
    "entity_scores",
    "get_entities",
    "Answer",
    "QAWindows",
    "SpanAccuracy",
    "SpanLoss",
    "best_answers",
    "no_answer_margins",
    "encode_qa",
    "klue_char_f1",
    "klue_entity_f1",
    "korquad_scores",
    "squad_v2_scores",
    "best_no_answer_threshold",
    "normalize_answer",
    "read_klue_ner",
    "SentenceEmbedder",
    "OpenAnswer",
    "PassageIndex",
    "RetrieveThenRead",
    "SentencePooling",
    "SiameseModel",
    "MultipleNegativesRankingLoss",
    "cosine_similarity",
    "semantic_search",
    "pearson",
    "spearman",
    # Running
    "BackupAndRestore",
    "BackupError",
    "DeviceNotFoundError",
    "Runtime",
    "get_strategy",
    "process_shard",
    "set_mixed_precision",
    "encode_texts",
    "make_dataset",
    "make_mlm_dataset",
    "TokenMasker",
    "make_siamese_dataset",
    "validation_split",
    "export_text_model",
    "export_qa_model",
    "DatasetError",
    "clean_like_tutorial",
    "load_klue_ner",
    "load_nsmc",
    "read_nsmc",
    "read_klue_nli",
    "read_klue_sts",
    "read_kornli",
    "read_korsts",
    "QAExample",
    "load_korquad",
    "read_squad",
    "split_by_title",
    "first_answers",
    "unanswerable_pairs",
]
