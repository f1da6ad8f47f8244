"""BertQuestionAnswerer <-> transformers' BertForQuestionAnswering: a checkpoint written by
transformers loads with its QA head (golden logits, tests/golden/make_qa_golden.py), and
save_pretrained writes one transformers loads to the same logits."""

import os

import numpy as np

from bertcls import BertBackbone, BertQuestionAnswerer, FeatureEncoder
from bertcls.models.checkpoints import read_checkpoint
from conftest import REPO, requires_refvenv, run_reference

GOLDEN = REPO / "tests" / "golden"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(59)]


def golden_inputs():
    golden = np.load(GOLDEN / "qa_tiny_golden.npz")
    features = {k: golden[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    return golden, features


def write_vocab(directory):
    (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")


def test_transformers_checkpoint_loads_with_its_qa_head(tmp_path):
    directory = tmp_path / "qa_tiny"
    directory.mkdir()
    for name in ("config.json", "model.safetensors"):
        (directory / name).write_bytes((GOLDEN / "qa_tiny" / name).read_bytes())
    write_vocab(directory)
    model = BertQuestionAnswerer.from_preset(str(directory), max_seq_len=20)
    golden, features = golden_inputs()
    logits = np.asarray(model.predict_on_batch(features))
    mask = features["attention_mask"].astype(bool)
    start = np.abs(logits[..., 0] - golden["start_logits"])[mask].max()
    end = np.abs(logits[..., 1] - golden["end_logits"])[mask].max()
    print(f"max abs diff vs transformers: start {start:.3g}, end {end:.3g}")
    assert start <= 1e-5 and end <= 1e-5
    assert np.abs(golden["start_logits"]).max() > 0.1  # the head is not all zeros


def test_save_pretrained_writes_transformers_names_and_values(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("config.json", "model.safetensors"):
        (source / name).write_bytes((GOLDEN / "qa_tiny" / name).read_bytes())
    write_vocab(source)
    model = BertQuestionAnswerer.from_preset(str(source), max_seq_len=20)
    saved = model.save_pretrained(str(tmp_path / "saved"))
    assert sorted(os.listdir(saved)) == ["README.md", "config.json", "model.safetensors",
                                         "tokenizer_config.json", "vocab.txt"]
    original, written = read_checkpoint(str(source)), read_checkpoint(saved)
    assert sorted(written) == sorted(original)  # bert.* without a pooler, qa_outputs.*
    for name, value in original.items():
        np.testing.assert_array_equal(written[name], value, err_msg=name)
    again = BertQuestionAnswerer.from_preset(saved, max_seq_len=20)
    _, features = golden_inputs()
    np.testing.assert_array_equal(np.asarray(again.predict_on_batch(features)),
                                  np.asarray(model.predict_on_batch(features)))


def test_a_plain_bert_checkpoint_gets_a_new_head(tmp_path):
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                            hidden_size=8, intermediate_size=16)
    backbone.save_pretrained(str(tmp_path), encoder=VOCAB)
    model = BertQuestionAnswerer.from_preset(str(tmp_path), max_seq_len=16)
    assert model.backbone.num_layers == 1 and model.encoder.max_seq_len == 16


@requires_refvenv
def test_transformers_loads_save_pretrained_to_the_same_logits(tmp_path):
    keras_seed = 3
    import keras
    keras.utils.set_random_seed(keras_seed)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=2, num_heads=2,
                            hidden_size=32, intermediate_size=64, max_sequence_length=64)
    model = BertQuestionAnswerer(backbone, encoder=FeatureEncoder(VOCAB, max_seq_len=20))
    # Random weights everywhere, head bias and LayerNorms included.
    rng = np.random.default_rng(keras_seed)
    for variable in model.weights:
        variable.assign(0.05 * rng.standard_normal(tuple(variable.shape)).astype("float32")
                        + (1.0 if variable.path.endswith("gamma") else 0.0))
    _, features = golden_inputs()
    logits = np.asarray(model.predict_on_batch(features))
    saved = model.save_pretrained(str(tmp_path / "saved"))
    np.savez(tmp_path / "ours.npz", start_logits=logits[..., 0], end_logits=logits[..., 1],
             **features)
    done = run_reference(GOLDEN / "check_qa_pretrained.py", saved, tmp_path / "ours.npz")
    print(done.stdout)
    assert "QA_CHECK_OK" in done.stdout, done.stdout[-2000:] + done.stderr[-3000:]
    assert "BertForQuestionAnswering" in done.stdout and "BertTokenizer" in done.stdout
