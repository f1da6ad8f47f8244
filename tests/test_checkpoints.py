"""Checkpoint loading and saving: parity with transformers' PyTorch BertModel.

Golden outputs come from tests/golden/make_golden.py (run once with torch in a separate
venv); these tests need no torch.
"""

import io
import json
import logging
import os
import pickle
import shutil
import zipfile

import keras
import numpy as np
import pytest

from bertcls import BertBackbone, PresetError
from bertcls.models.torch_bin import read_torch_bin
from bertcls.models.checkpoints import (UnsafeCheckpointError, normalize_names, read_checkpoint,
                                        read_safetensors, set_hf_weights)
from warm import warm_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(REPO, "tests", "golden")
KLUE_BIN = os.path.join(GOLDEN, "klue_tiny", "bin")
KLUE_SAFETENSORS = os.path.join(GOLDEN, "klue_tiny", "safetensors")
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
TOLERANCE = 1e-5


def load_golden(name):
    return dict(np.load(os.path.join(GOLDEN, name)))


def max_diffs(backbone, golden):
    """Max abs difference of (sequence_output at non-padding positions, pooled_output)."""
    out = backbone({k: golden[k] for k in INPUT_NAMES})
    seq = keras.ops.convert_to_numpy(keras.ops.cast(out["sequence_output"], "float32"))
    pooled = keras.ops.convert_to_numpy(keras.ops.cast(out["pooled_output"], "float32"))
    mask = golden["attention_mask"][..., None].astype(bool)
    return (float(np.where(mask, np.abs(seq - golden["sequence_output"]), 0).max()),
            float(np.abs(pooled - golden["pooled_output"]).max()))


@pytest.fixture(scope="module")
def minilm(minilm_path):
    return BertBackbone.from_preset(str(minilm_path))


# === Parity ===

def test_minilm_parity_float32(minilm):
    golden = load_golden("minilm_golden.npz")
    assert golden["attention_mask"].min() == 0 and golden["token_type_ids"].max() == 1
    seq, pooled = max_diffs(minilm, golden)
    assert seq <= TOLERANCE and pooled <= TOLERANCE, (seq, pooled)


def test_minilm_strings_to_outputs(minilm, minilm_path):
    # End to end: bertcls.FeatureEncoder on the raw golden sentences, then the backbone.
    from bertcls import FeatureEncoder

    golden = load_golden("minilm_golden.npz")
    encoder = FeatureEncoder.from_preset(str(minilm_path), padding="longest")
    texts, pairs = [str(t) for t in golden["texts"]], golden["pair_texts"]
    batches = [encoder(texts),
               encoder(([str(a) for a in pairs[:, 0]], [str(b) for b in pairs[:, 1]]))]
    rows = [slice(0, len(texts)), slice(len(texts), len(texts) + len(pairs))]
    for features, row in zip(batches, rows):
        features = {k: keras.ops.convert_to_numpy(features[k]) for k in INPUT_NAMES}
        length = features["input_ids"].shape[1]
        part = {k: v[row] for k, v in golden.items() if k not in ("texts", "pair_texts")}
        np.testing.assert_array_equal(features["input_ids"], part["input_ids"][:, :length])
        part = {k: v[:, :length] if k != "pooled_output" else v for k, v in part.items()}
        seq, pooled = max_diffs(minilm, dict(part, **features))
        assert seq <= TOLERANCE and pooled <= TOLERANCE, (seq, pooled)


@pytest.mark.parametrize("policy, seq_tol, pooled_tol", [
    ("mixed_bfloat16", 0.1, 0.01),
    ("mixed_float16", 0.02, 0.002),
])
def test_minilm_parity_mixed_precision(minilm_path, policy, seq_tol, pooled_tol):
    # Outputs reach |6.2|; bfloat16 keeps ~3 significant digits.
    backbone = BertBackbone.from_preset(str(minilm_path), dtype=policy)
    assert backbone(
        {k: v[:1] for k, v in load_golden("minilm_golden.npz").items()
         if k in INPUT_NAMES})["sequence_output"].dtype == policy.split("_")[1]
    seq, pooled = max_diffs(backbone, load_golden("minilm_golden.npz"))
    assert seq <= seq_tol and pooled <= pooled_tol, (seq, pooled)


@pytest.mark.parametrize("directory", [KLUE_BIN, KLUE_SAFETENSORS], ids=["bin", "safetensors"])
def test_klue_shaped_parity(directory):
    backbone = BertBackbone.from_preset(directory)
    assert backbone.vocabulary_size == 32000 and backbone.type_vocab_size == 2
    seq, pooled = max_diffs(backbone, load_golden("klue_tiny_golden.npz"))
    assert seq <= TOLERANCE and pooled <= TOLERANCE, (seq, pooled)


JAX_PARITY = """
import json, sys
import keras
assert keras.backend.backend() == "jax"
sys.path.insert(0, sys.argv[1])
from tests.test_checkpoints import KLUE_BIN, KLUE_SAFETENSORS, load_golden, max_diffs
from bertcls import BertBackbone
result = {
    "minilm": max_diffs(BertBackbone.from_preset(sys.argv[2]), load_golden("minilm_golden.npz")),
    "bin": max_diffs(BertBackbone.from_preset(KLUE_BIN), load_golden("klue_tiny_golden.npz")),
    "safetensors": max_diffs(BertBackbone.from_preset(KLUE_SAFETENSORS),
                             load_golden("klue_tiny_golden.npz")),
    "minilm_mixed_bfloat16": max_diffs(
        BertBackbone.from_preset(sys.argv[2], dtype="mixed_bfloat16"),
        load_golden("minilm_golden.npz")),
}
print("RESULT" + json.dumps(result))
"""


@pytest.mark.jax
def test_parity_on_jax_backend(minilm_path):
    proc = warm_run("jax", ["-c", JAX_PARITY, REPO, str(minilm_path)], timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, proc.stderr[-3000:]
    results = json.loads(lines[0][len("RESULT"):])
    seq, pooled = results.pop("minilm_mixed_bfloat16")
    assert seq <= 0.1 and pooled <= 0.01, ("mixed_bfloat16", seq, pooled)
    for name, (seq, pooled) in results.items():
        assert seq <= TOLERANCE and pooled <= TOLERANCE, (name, seq, pooled)


# === Reading .bin without torch ===

def test_bin_and_safetensors_hold_the_same_tensors():
    from_bin = normalize_names(read_torch_bin(os.path.join(KLUE_BIN, "pytorch_model.bin")))
    from_st = read_safetensors(os.path.join(KLUE_SAFETENSORS, "model.safetensors"))
    for name, value in from_st.items():
        assert from_bin[name].dtype == value.dtype
        np.testing.assert_array_equal(from_bin[name], value)
    assert sorted(set(from_bin) - set(from_st)) == sorted(
        n for n in from_bin if n.startswith("cls."))


def test_bin_dtypes_layouts_and_scalars():
    # bfloat16 / float16 storages, a non-contiguous (transposed) view, int64, a 0-d tensor.
    got = read_torch_bin(os.path.join(GOLDEN, "dtypes.bin"))
    expected = np.load(os.path.join(GOLDEN, "dtypes.npz"))
    assert sorted(got) == sorted(expected.files)
    assert str(got["bf16"].dtype) == "bfloat16" and got["f16"].dtype == np.float16
    assert got["int64"].dtype == np.int64 and got["scalar"].shape == ()
    for name in expected.files:
        np.testing.assert_array_equal(got[name].astype(expected[name].dtype), expected[name])


def write_torch_zip(path, payload, extra=None):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", "little")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"embeddings.word_embeddings.weight": RunsCode(marker)}, protocol=2)
    assert b"system" in payload
    path = tmp_path / "pytorch_model.bin"
    write_torch_zip(path, payload)
    with pytest.raises(UnsafeCheckpointError, match=r"system.*Nothing from the file was executed"):
        read_torch_bin(str(path))
    assert not marker.exists()
    # The same through from_preset.
    shutil.copy(os.path.join(KLUE_BIN, "config.json"), tmp_path / "config.json")
    with pytest.raises(UnsafeCheckpointError):
        BertBackbone.from_preset(str(tmp_path))
    assert not marker.exists()
    # Sanity check that the payload really runs code when unpickled normally.
    pickle.loads(payload)
    assert marker.exists()


class BuiltinEval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def test_other_globals_and_bad_persistent_ids_are_refused(tmp_path):
    path = tmp_path / "eval.bin"
    write_torch_zip(path, pickle.dumps({"w": BuiltinEval()}, protocol=2))
    with pytest.raises(UnsafeCheckpointError, match=r"asks for (__builtin__|builtins)\.eval"):
        read_torch_bin(str(path))

    class PidPickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", "not-a-storage-type", "0", "cpu", 1) if obj == "s" else None

    buffer = io.BytesIO()
    PidPickler(buffer, protocol=2).dump({"w": "s"})
    path = tmp_path / "pid.bin"
    write_torch_zip(path, buffer.getvalue(), {"archive/data/0": b"\0\0\0\0"})
    with pytest.raises(UnsafeCheckpointError, match="persistent id"):
        read_torch_bin(str(path))


def tensor_record_pickle(offset, size, stride, numel=4):
    """A protocol-2 pickle of {"w": _rebuild_tensor_v2(FloatStorage, offset, size, stride)}."""
    def ints(values):
        return b"(" + b"".join(b"K" + bytes([v]) for v in values) + b"t"

    return (b"\x80\x02}X\x01\x00\x00\x00w"
            b"ctorch._utils\n_rebuild_tensor_v2\n("
            b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
            b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK" + bytes([numel]) + b"tQ"
            b"K" + bytes([offset]) + ints(size) + ints(stride) + b"\x89Nt"
            b"Rs.")


def test_tensor_records_cannot_reach_outside_their_storage(tmp_path):
    storage = {"archive/data/0": np.arange(4, dtype="<f4").tobytes()}
    path = tmp_path / "ok.bin"
    write_torch_zip(path, tensor_record_pickle(1, (3,), (1,)), storage)
    np.testing.assert_array_equal(read_torch_bin(str(path))["w"], [1, 2, 3])
    for name, record, message in [
            ("stride", tensor_record_pickle(0, (2, 2), (100, 1)), "reaches element 101"),
            ("offset", tensor_record_pickle(3, (2,), (1,)), "reaches element 4"),
            ("numel", tensor_record_pickle(0, (2,), (1,), numel=200), "fewer than 200")]:
        path = tmp_path / f"{name}.bin"
        write_torch_zip(path, record, storage)
        with pytest.raises(UnsafeCheckpointError, match=message):
            read_torch_bin(str(path))


def test_bin_that_is_not_a_state_dict(tmp_path):
    legacy = tmp_path / "legacy.bin"
    legacy.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="legacy"):
        read_torch_bin(str(legacy))
    not_tensors = tmp_path / "list.bin"
    write_torch_zip(not_tensors, pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(ValueError, match="dict of tensors"):
        read_torch_bin(str(not_tensors))
    empty = tmp_path / "empty.bin"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("archive/other", "x")
    with pytest.raises(ValueError, match="one data.pkl"):
        read_torch_bin(str(empty))


# === Weight mapping ===

def test_pretraining_heads_skipped_with_one_log_line(caplog):
    with caplog.at_level(logging.INFO, logger="bertcls.models.checkpoints"):
        BertBackbone.from_preset(KLUE_BIN)
    records = [r.getMessage() for r in caplog.records if r.name == "bertcls.models.checkpoints"]
    assert len(records) == 1, records
    for name in ("cls.predictions.decoder.weight", "cls.predictions.transform.dense.weight",
                 "cls.seq_relationship.weight", "cls.seq_relationship.bias"):
        assert name in records[0]


def klue_state():
    return read_safetensors(os.path.join(KLUE_SAFETENSORS, "model.safetensors"))


def test_missing_unexpected_and_mismatched_weights_all_listed():
    backbone = BertBackbone.from_hf_config(KLUE_SAFETENSORS)
    state = klue_state()
    del state["encoder.layer.1.attention.self.key.bias"]
    del state["embeddings.LayerNorm.weight"]
    state["unknown.weight"] = np.zeros((2, 32), "float32")
    state["encoder.layer.0.intermediate.dense.weight"] = np.zeros((65, 32), "float32")
    with pytest.raises(ValueError) as info:
        set_hf_weights(backbone, state)
    message = str(info.value)
    for text in ("encoder.layer.1.attention.self.key.bias", "embeddings.LayerNorm.weight",
                 "unknown.weight",
                 "encoder.layer.0.intermediate.dense.weight: checkpoint (65, 32), "
                 "expected (64, 32)"):
        assert text in message


def test_config_that_does_not_match_weights(tmp_path):
    shutil.copy(os.path.join(KLUE_SAFETENSORS, "model.safetensors"), tmp_path)
    with open(os.path.join(KLUE_SAFETENSORS, "config.json")) as f:
        config = json.load(f)
    config["num_hidden_layers"] = 3
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"Missing weights: \['encoder.layer.2"):
        BertBackbone.from_preset(str(tmp_path))


def test_checkpoint_without_pooler(tmp_path, caplog):
    from safetensors.numpy import save_file

    state = {k: v for k, v in klue_state().items() if not k.startswith("pooler.")}
    save_file(state, str(tmp_path / "model.safetensors"))
    shutil.copy(os.path.join(KLUE_SAFETENSORS, "config.json"), tmp_path)
    with caplog.at_level(logging.WARNING, logger="bertcls.models.checkpoints"):
        backbone = BertBackbone.from_preset(str(tmp_path))
    assert any("no pooler weights" in r.getMessage() for r in caplog.records)
    seq, pooled = max_diffs(backbone, load_golden("klue_tiny_golden.npz"))
    assert seq <= TOLERANCE and pooled > 1e-3


def test_duplicate_names_after_normalizing():
    with pytest.raises(ValueError, match="twice"):
        normalize_names({"bert.pooler.dense.bias": np.zeros(2), "pooler.dense.bias": np.zeros(2)})


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_sharded_checkpoints(tmp_path, fmt):
    from safetensors.numpy import save_file

    shutil.copy(os.path.join(KLUE_SAFETENSORS, "config.json"), tmp_path)
    state = klue_state()
    names = sorted(state)
    if fmt == "safetensors":
        shards = {"model-00001-of-00002.safetensors": names[:20],
                  "model-00002-of-00002.safetensors": names[20:]}
        for shard, keys in shards.items():
            save_file({k: state[k] for k in keys}, str(tmp_path / shard))
        index = "model.safetensors.index.json"
    else:
        shards = {"pytorch_model-00001-of-00001.bin": None}
        shutil.copy(os.path.join(KLUE_BIN, "pytorch_model.bin"),
                    tmp_path / "pytorch_model-00001-of-00001.bin")
        index = "pytorch_model.bin.index.json"
    weight_map = {k: shard for shard, keys in shards.items() for k in (keys or names)}
    (tmp_path / index).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    backbone = BertBackbone.from_preset(str(tmp_path))
    seq, pooled = max_diffs(backbone, load_golden("klue_tiny_golden.npz"))
    assert seq <= TOLERANCE and pooled <= TOLERANCE


def test_preset_errors(tmp_path):
    with pytest.raises(PresetError):
        BertBackbone.from_preset(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="No config.json"):
        BertBackbone.from_preset(str(tmp_path))
    shutil.copy(os.path.join(KLUE_SAFETENSORS, "config.json"), tmp_path)
    with pytest.raises(ValueError, match="No weights in"):
        BertBackbone.from_preset(str(tmp_path))
    with pytest.raises(ValueError, match="No weights in"):
        read_checkpoint(str(tmp_path))


# === Writing back ===

def test_save_pretrained_round_trip(tmp_path):
    backbone = BertBackbone.from_preset(KLUE_BIN)
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##s"]
    out = backbone.save_pretrained(str(tmp_path), encoder=vocabulary)
    assert out == str(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [
        "config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"]
    # The saved tensors are the transformers-saved checkpoint's, name for name.
    saved, original = read_safetensors(str(tmp_path / "model.safetensors")), klue_state()
    assert sorted(saved) == sorted(original)
    for name in original:
        np.testing.assert_array_equal(saved[name], original[name], err_msg=name)
    with open(tmp_path / "config.json") as f:
        config = json.load(f)
    with open(os.path.join(KLUE_SAFETENSORS, "config.json")) as f:
        reference = json.load(f)
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "hidden_act", "type_vocab_size", "layer_norm_eps",
                "max_position_embeddings", "model_type"):
        assert config[key] == reference[key], key
    from safetensors import safe_open
    with safe_open(str(tmp_path / "model.safetensors"), framework="np") as f:
        assert f.metadata() == {"format": "pt"}  # transformers refuses other formats
    # Reloading reproduces the golden outputs.
    seq, pooled = max_diffs(BertBackbone.from_preset(str(tmp_path)),
                            load_golden("klue_tiny_golden.npz"))
    assert seq <= TOLERANCE and pooled <= TOLERANCE
    assert (tmp_path / "vocab.txt").read_text().splitlines() == vocabulary
    tokenizer_config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert tokenizer_config["do_lower_case"] is True
    assert tokenizer_config["tokenizer_class"] == "BertTokenizer"


def test_save_pretrained_tokenizer_sources(tmp_path, tiny_vocab_file):
    backbone = BertBackbone(vocabulary_size=23, num_layers=1, num_heads=2, hidden_size=8,
                            intermediate_size=16)
    backbone.save_pretrained(str(tmp_path / "from_path"), encoder=str(tiny_vocab_file))
    assert (tmp_path / "from_path" / "vocab.txt").read_text() == tiny_vocab_file.read_text()
    backbone.save_pretrained(str(tmp_path / "cased"), encoder=["[PAD]", "Hello", "world"])
    cased = json.loads((tmp_path / "cased" / "tokenizer_config.json").read_text())
    assert cased["do_lower_case"] is False
    with pytest.raises(ValueError, match="encoder must be a FeatureEncoder.*received int"):
        backbone.save_pretrained(str(tmp_path / "bad"), encoder=3)


def test_save_pretrained_with_feature_encoder(tmp_path, tiny_vocab_file):
    from bertcls import FeatureEncoder

    encoder = FeatureEncoder(vocabulary=str(tiny_vocab_file), lowercase=True, max_seq_len=16)
    backbone = BertBackbone(vocabulary_size=encoder.vocabulary_size, num_layers=1,
                            num_heads=2, hidden_size=8, intermediate_size=16)
    backbone.save_pretrained(str(tmp_path), encoder=encoder)
    assert (tmp_path / "vocab.txt").read_text().splitlines() == list(encoder.vocabulary)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["do_lower_case"] is True and config["cls_token"] == "[CLS]"


# === keras-hub presets ===

def test_keras_hub_preset(tmp_path):
    import keras_hub

    source = keras_hub.models.BertBackbone(vocabulary_size=30, num_layers=2, num_heads=2,
                                           hidden_dim=8, intermediate_dim=16,
                                           max_sequence_length=32)
    source.save_to_preset(str(tmp_path))
    backbone = BertBackbone.from_preset(str(tmp_path))
    assert backbone.hidden_act == "gelu_pytorch_tanh"
    ids = np.array([[2, 5, 6, 7, 3, 0], [2, 9, 3, 0, 0, 0]], "int32")
    mask, types = (ids > 0).astype("int32"), np.zeros_like(ids)
    expected = source({"token_ids": ids, "padding_mask": mask, "segment_ids": types})
    got = backbone({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
    for key in ("sequence_output", "pooled_output"):
        diff = np.abs(keras.ops.convert_to_numpy(got[key])
                      - keras.ops.convert_to_numpy(expected[key]))
        if key == "sequence_output":
            diff = diff[mask.astype(bool)]
        assert diff.max() <= 1e-6, key
    exact = BertBackbone.from_preset(str(tmp_path), hidden_act="gelu")
    assert exact.hidden_act == "gelu"
