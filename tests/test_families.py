"""The backbone families (RoBERTa, XLM-R, ELECTRA, ALBERT, DistilBERT): parity with
transformers' PyTorch models on tiny random checkpoints, `model_type` dispatch, configs,
`save_pretrained` round trips.

Golden checkpoints and outputs come from tests/golden/families/make_families.py (run once
with torch in a separate venv); these tests need no torch.
"""

import inspect
import json
import logging
import os

import keras
import numpy as np
import pytest

import bertcls
from bertcls import (AlbertBackbone, BertBackbone, DistilBertBackbone, ElectraBackbone,
                     RobertaBackbone, XLMRobertaBackbone, backbone_from_preset)
from bertcls.models.distilbert import sinusoidal_table
from warm import warm_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES_DIR = os.path.join(REPO, "tests", "golden", "families")
KLUE_SAFETENSORS = os.path.join(REPO, "tests", "golden", "klue_tiny", "safetensors")
VARIANTS = sorted(d for d in os.listdir(FAMILIES_DIR)
                  if os.path.isdir(os.path.join(FAMILIES_DIR, d)))
EXPECTED_CLASS = {"roberta": RobertaBackbone, "xlm": XLMRobertaBackbone,
                  "electra": ElectraBackbone, "albert": AlbertBackbone,
                  "distilbert": DistilBertBackbone}
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
TOLERANCE = 1e-5
TINY = dict(vocabulary_size=30, num_layers=2, num_heads=2, hidden_size=8, intermediate_size=16)
# One small instance of every family, with its non-default options switched on.
BUILDERS = {
    "roberta": lambda: RobertaBackbone(**TINY, max_sequence_length=20, pad_token_id=1),
    "xlm-roberta": lambda: XLMRobertaBackbone(**TINY, max_sequence_length=20),
    "electra": lambda: ElectraBackbone(**TINY, embedding_size=4),
    "albert": lambda: AlbertBackbone(**TINY, embedding_size=4, hidden_act="relu"),
    "distilbert": lambda: DistilBertBackbone(**TINY, sinusoidal_positions=True),
}


def reference(variant):
    return dict(np.load(os.path.join(FAMILIES_DIR, variant, "reference.npz")))


def max_diffs(backbone, golden):
    """Max abs differences to the reference: sequence_output at real tokens, and
    pooled_output when the reference has one (else None)."""
    out = backbone({k: golden[k] for k in INPUT_NAMES})
    seq = keras.ops.convert_to_numpy(keras.ops.cast(out["sequence_output"], "float32"))
    mask = golden["attention_mask"][..., None].astype(bool)
    diffs = [float(np.where(mask, np.abs(seq - golden["sequence_output"]), 0).max())]
    if "pooled_output" in golden:
        pooled = keras.ops.convert_to_numpy(keras.ops.cast(out["pooled_output"], "float32"))
        diffs.append(float(np.abs(pooled - golden["pooled_output"]).max()))
    return diffs


def batch(backbone, length=6):
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 30, size=(2, length)).astype("int32")
    mask = np.ones_like(ids)
    mask[1, 4:] = 0
    pad = getattr(backbone, "pad_token_id", 0)
    ids = np.where(mask == 1, ids, pad).astype("int32")
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def outputs(backbone, inputs):
    return {k: keras.ops.convert_to_numpy(v) for k, v in backbone(inputs).items()}


# === Parity with transformers ===

@pytest.mark.parametrize("variant", VARIANTS)
def test_parity_with_transformers(variant):
    backbone = backbone_from_preset(os.path.join(FAMILIES_DIR, variant))
    family = variant.split("_")[0]
    assert type(backbone) is EXPECTED_CLASS[family]
    golden = reference(variant)
    diffs = max_diffs(backbone, golden)
    assert max(diffs) <= TOLERANCE, diffs
    # The batch has padding: a position mix-up (RoBERTa's offset) would show above.
    assert golden["attention_mask"].min() == 0


def test_golden_variants_cover_the_config_space():
    configs = {v: json.load(open(os.path.join(FAMILIES_DIR, v, "config.json")))
               for v in VARIANTS}
    files = {v: set(os.listdir(os.path.join(FAMILIES_DIR, v))) for v in VARIANTS}
    for family in ("roberta", "xlm-roberta", "electra", "albert", "distilbert"):
        assert any(c["model_type"] == family for c in configs.values()), family
    assert sum("pytorch_model.bin" in f for f in files.values()) >= 4
    assert sum("model.safetensors" in f for f in files.values()) >= 5
    electra = [c for c in configs.values() if c["model_type"] == "electra"]
    assert {c["embedding_size"] == c["hidden_size"] for c in electra} == {True, False}
    assert any(c.get("sinusoidal_pos_embds") for c in configs.values())
    activations = {c.get("hidden_act", c.get("activation")) for c in configs.values()}
    assert {"gelu", "gelu_new", "relu"} <= activations


JAX_PARITY = """
import json, sys
import keras
assert keras.backend.backend() == "jax"
sys.path.insert(0, sys.argv[1])
from tests.test_families import FAMILIES_DIR, VARIANTS, max_diffs, reference
import os
from bertcls import backbone_from_preset
result = {v: max_diffs(backbone_from_preset(os.path.join(FAMILIES_DIR, v)), reference(v))
          for v in VARIANTS}
print("RESULT" + json.dumps(result))
"""


@pytest.mark.jax
def test_parity_on_jax_backend():
    proc = warm_run("jax", ["-c", JAX_PARITY, REPO], timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, proc.stderr[-3000:]
    results = json.loads(lines[0][len("RESULT"):])
    assert set(results) == set(VARIANTS)
    for variant, diffs in results.items():
        assert max(diffs) <= TOLERANCE, (variant, diffs)


def test_pretraining_heads_skipped(caplog):
    with caplog.at_level(logging.INFO, logger="bertcls.models.checkpoints"):
        backbone_from_preset(os.path.join(FAMILIES_DIR, "albert_relu_bin"))
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "predictions.decoder.weight" in messages and "sop_classifier" in messages


def test_roberta_checkpoint_without_pooler_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="bertcls.models.checkpoints"):
        backbone = backbone_from_preset(os.path.join(FAMILIES_DIR, "roberta_relu_bin"))
    assert any("no pooler weights" in r.getMessage() for r in caplog.records)
    assert "pooled_output" in backbone(batch(backbone))


# === Dispatch ===

def test_dispatch_on_model_type(tmp_path):
    assert type(backbone_from_preset(KLUE_SAFETENSORS)) is BertBackbone
    config = json.load(open(os.path.join(FAMILIES_DIR, "electra_bin", "config.json")))
    (tmp_path / "config.json").write_text(json.dumps(dict(config, model_type="deberta-v2")))
    with pytest.raises(ValueError, match=r"model_type 'deberta-v2'.*bert, roberta, "
                                         r"xlm-roberta, electra, albert, distilbert"):
        backbone_from_preset(str(tmp_path))


def test_family_class_refuses_another_family():
    with pytest.raises(ValueError, match=r"model_type 'roberta' for a bert backbone.*"
                                         r"backbone_from_preset"):
        BertBackbone.from_preset(os.path.join(FAMILIES_DIR, "roberta_gelu_safetensors"))
    with pytest.raises(ValueError, match=r"model_type 'bert' for a electra backbone"):
        ElectraBackbone.from_preset(KLUE_SAFETENSORS)


@pytest.mark.parametrize("key", ["num_hidden_groups", "inner_group_num"])
def test_albert_layer_groups_refused(key):
    config = json.load(open(os.path.join(FAMILIES_DIR, "albert_safetensors", "config.json")))
    with pytest.raises(ValueError, match=f"{key}=2.*only one shared layer"):
        AlbertBackbone.from_hf_config(dict(config, **{key: 2}))


def test_unsupported_activation_named_with_its_key():
    config = json.load(open(os.path.join(FAMILIES_DIR, "distilbert_safetensors",
                                         "config.json")))
    with pytest.raises(ValueError, match="Unsupported activation 'swish'"):
        DistilBertBackbone.from_hf_config(dict(config, activation="swish"))


# === What differs per family ===

def test_roberta_positions_follow_padding_id():
    # Shifting real tokens right behind left padding changes nothing for RoBERTa: each
    # real token keeps its position id (padding gets padding_idx, which attention ignores).
    keras.utils.set_random_seed(0)
    backbone = BUILDERS["roberta"]()
    ids = np.array([[0, 5, 6, 7, 2]], "int32")
    left = np.array([[1, 1, 0, 5, 6, 7, 2]], "int32")
    a = outputs(backbone, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                           "token_type_ids": np.zeros_like(ids)})
    b = outputs(backbone, {"input_ids": left, "attention_mask": (left != 1).astype("int32"),
                           "token_type_ids": np.zeros_like(left)})
    np.testing.assert_allclose(b["sequence_output"][:, 2:], a["sequence_output"], atol=1e-5)
    # ...while BERT's absolute positions move with the padding.
    bert = BertBackbone(**TINY)
    c = outputs(bert, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                       "token_type_ids": np.zeros_like(ids)})
    d = outputs(bert, {"input_ids": left, "attention_mask": (left != 1).astype("int32"),
                       "token_type_ids": np.zeros_like(left)})
    assert np.abs(d["sequence_output"][:, 2:] - c["sequence_output"]).max() > 1e-3


def test_roberta_length_limit_counts_the_offset():
    backbone = RobertaBackbone(**TINY, max_sequence_length=10, pad_token_id=1)
    ids = np.full((1, 9), 5, "int32")
    with pytest.raises(ValueError, match="Sequence length 9 exceeds max_sequence_length 8 "
                                         r"\(the number of position embeddings after"):
        backbone({"input_ids": ids, "attention_mask": np.ones_like(ids),
                  "token_type_ids": np.zeros_like(ids)})


def test_distilbert_sinusoidal_positions():
    backbone = BUILDERS["distilbert"]()
    table = keras.ops.convert_to_numpy(backbone.position_embedding.position_embeddings)
    np.testing.assert_allclose(table, sinusoidal_table(512, 8), atol=1e-7)
    assert not backbone.position_embedding.trainable
    table_variable = backbone.position_embedding.position_embeddings
    assert all(w is not table_variable for w in backbone.trainable_weights)
    # transformers wrote the same table into its sinusoidal checkpoint.
    loaded = backbone_from_preset(os.path.join(FAMILIES_DIR, "distilbert_sinusoidal_bin"))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.position_embedding.position_embeddings),
        sinusoidal_table(16, 16), atol=1e-6)
    assert not loaded.position_embedding.trainable


def test_distilbert_reads_no_token_types():
    backbone = BUILDERS["distilbert"]()
    inputs = batch(backbone)
    a = outputs(backbone, inputs)
    b = outputs(backbone, dict(inputs, token_type_ids=np.ones_like(inputs["input_ids"])))
    c = outputs(backbone, {k: v for k, v in inputs.items() if k != "token_type_ids"})
    np.testing.assert_array_equal(a["sequence_output"], b["sequence_output"])
    np.testing.assert_array_equal(a["sequence_output"], c["sequence_output"])


def test_albert_shares_one_layer():
    backbone = BUILDERS["albert"]()
    assert len(backbone.transformer_layers) == 1
    deeper = AlbertBackbone(**dict(TINY, num_layers=4), embedding_size=4, hidden_act="relu")
    assert len(deeper.weights) == len(backbone.weights)
    deeper.set_weights(backbone.get_weights())
    inputs = batch(backbone)
    assert np.abs(outputs(deeper, inputs)["sequence_output"]
                  - outputs(backbone, inputs)["sequence_output"]).max() > 1e-4


def test_electra_projection_only_when_sizes_differ():
    assert hasattr(BUILDERS["electra"](), "embeddings_projection")
    assert not hasattr(ElectraBackbone(**TINY, embedding_size=8), "embeddings_projection")
    assert not hasattr(ElectraBackbone(**TINY), "embeddings_projection")


# === Config and checkpoint round trips ===

@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_config_round_trips(family, tmp_path):
    model = BUILDERS[family]()
    cls = type(model)
    config = model.get_config()
    params = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
    assert set(config) - {"name", "trainable"} == params
    clone = cls.from_config(json.loads(json.dumps(config)))
    assert clone.get_config() == config
    again = cls.from_hf_config(model.to_hf_config(), name=model.name)
    assert again.get_config() == config
    # save_pretrained -> backbone_from_preset: same class, same outputs.
    model.save_pretrained(str(tmp_path / "hf"))
    loaded = backbone_from_preset(str(tmp_path / "hf"))
    assert type(loaded) is cls
    inputs = batch(model)
    for key, value in outputs(model, inputs).items():
        np.testing.assert_allclose(outputs(loaded, inputs)[key], value, atol=1e-6)
    # .keras round trip.
    path = str(tmp_path / "backbone.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored) is cls
    np.testing.assert_array_equal(outputs(restored, inputs)["sequence_output"],
                                  outputs(model, inputs)["sequence_output"])


def test_exported():
    for name in ("AlbertBackbone", "DistilBertBackbone", "ElectraBackbone", "RobertaBackbone",
                 "XLMRobertaBackbone", "EncoderBackbone", "backbone_from_preset"):
        assert name in bertcls.__all__ and hasattr(bertcls, name)
