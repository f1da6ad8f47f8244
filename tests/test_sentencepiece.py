"""SentencePieceEncoder against transformers 5 (XLM-R and ALBERT layouts, unigram models) and
the sentencepiece library (BPE models), on NSMC and KLUE slices, with models trained here."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from bertcls import SentencePieceEncoder
from conftest import SHARED_DATA

spm = pytest.importorskip("sentencepiece")
transformers = pytest.importorskip("transformers")

EDGE_CASES = [
    "", " ", "  a  b ", "\t탭\n줄\r\n끝", "Hello World", "x\u3000y a\u00a0b a\u1680b a\u2028b",
    "a\u0085b a\u200bb a\ufeffb \x00z", "ＡＢＣ①② ㈜x ﾊﾟ", "e\u0301 \ufb01\u0301 A\u030a",
    "<s> a </s>", "a<mask>b <unk><pad>", "😀🙏 👍🏻", "ᄀ각 \u1100\u1161\u11a8 ㄱㅏ ㅋㅋ",
    "a▁b ▁c ▁▁d", "..... !!!!! ~~~~~~~~", "``인용'' ```x'''", "ÀÉÎ ǅ İstanbul ΣΑΣ",
    "1,000원 2,500,000",
]


def _nsmc(n, split="test"):
    path = SHARED_DATA / "nsmc" / f"ratings_{split}.txt"
    if not path.exists():
        pytest.skip(f"NSMC data not found at {path}")
    texts = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[1]:
                texts.append(parts[1])
            if len(texts) >= n:
                break
    return texts


def _klue(n):
    """KLUE-NER sentences, KLUE-NLI premises/hypotheses and KLUE-STS sentence pairs."""
    texts, pairs = [], ([], [])
    ner = SHARED_DATA / "klue-ner" / "klue-ner-v1.1_dev.tsv"
    if ner.exists():
        for line in open(ner, encoding="utf-8"):
            if line.startswith("## klue-ner") and "\t" in line:
                texts.append(re.sub(r"<([^<>]*?):[A-Z]{2}>", r"\1", line.split("\t", 1)[1]))
            if len(texts) >= n:
                break
    for name, a, b in (("klue-nli/klue-nli-v1.1_dev.json", "premise", "hypothesis"),
                       ("klue-sts/klue-sts-v1.1_dev.json", "sentence1", "sentence2")):
        path = SHARED_DATA / name
        if path.exists():
            for row in json.load(open(path, encoding="utf-8"))[:n // 2]:
                pairs[0].append(row[a])
                pairs[1].append(row[b])
    if not texts or not pairs[0]:
        pytest.skip("KLUE data not found")
    return texts, pairs


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """SentencePiece models trained on 3,000 NSMC training reviews: unigram and BPE, two
    vocabulary sizes each, plus ALBERT-style unigram models ([CLS]/[SEP]/[MASK] pieces)."""
    root = tmp_path_factory.mktemp("spm")
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(_nsmc(3000, "train")) + "\n", encoding="utf-8")
    out = {}
    for kind in ("unigram", "bpe"):
        for size in (800, 3000):
            prefix = root / f"{kind}{size}"
            spm.SentencePieceTrainer.train(
                input=str(corpus), model_prefix=str(prefix), vocab_size=size, model_type=kind,
                character_coverage=0.98, minloglevel=2)
            out[f"{kind}{size}"] = str(prefix) + ".model"
    for size in (1000, 2500):
        prefix = root / f"albert{size}"
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(prefix), vocab_size=size, model_type="unigram",
            character_coverage=0.98, pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
            control_symbols=["[CLS]", "[SEP]", "[MASK]"], minloglevel=2)
        out[f"albert{size}"] = str(prefix) + ".model"
    return out


def _hf_xlmr(model, directory):
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, "sentencepiece.bpe.model")
    with open(model, "rb") as src, open(target, "wb") as dst:
        dst.write(src.read())
    # XLMRobertaTokenizer(vocab_file=...) ignores the file in transformers 5: load a directory.
    return transformers.XLMRobertaTokenizer.from_pretrained(directory)


def _hf_albert(model, directory, lowercase, keep_accents):
    os.makedirs(directory, exist_ok=True)
    with open(model, "rb") as src, open(os.path.join(directory, "spiece.model"), "wb") as dst:
        dst.write(src.read())
    return transformers.AlbertTokenizer.from_pretrained(
        directory, do_lower_case=lowercase, keep_accents=keep_accents)


def _check_against(encoder, reference, texts, pairs=None):
    """Ids, masks, token types and offsets of `encoder` vs a transformers tokenizer; returns
    the number of examples compared."""
    inputs = (texts,) if pairs is None else (texts, pairs)
    got = encoder(tuple(tf.constant(x) for x in inputs) if pairs is not None
                  else tf.constant(texts))
    got = {k: v.numpy() for k, v in got.items()}
    ref = reference(*inputs, truncation=True, max_length=encoder.max_seq_len, padding="longest",
                    return_offsets_mapping=True, return_token_type_ids=True)
    mismatches = []
    for i in range(len(texts)):
        fields = [("input_ids", got["input_ids"][i].tolist(), ref["input_ids"][i]),
                  ("attention_mask", got["attention_mask"][i].tolist(), ref["attention_mask"][i]),
                  ("token_type_ids", got["token_type_ids"][i].tolist(), ref["token_type_ids"][i]),
                  ("offsets", got["offsets"][i].tolist(),
                   [list(o) for o in ref["offset_mapping"][i]])]
        for name, a, b in fields:
            if a != b:
                mismatches.append((i, name, inputs[0][i], a, b))
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:2]}"
    return len(texts)


@pytest.mark.parametrize("name", ["unigram800", "unigram3000"])
def test_xlmr_unigram_matches_transformers(models, name, tmp_path):
    encoder = SentencePieceEncoder(models[name], max_seq_len=64, padding="longest",
                                   return_offsets=True)
    reference = _hf_xlmr(models[name], tmp_path / "hf")
    texts = EDGE_CASES + _nsmc(600)
    klue, (premises, hypotheses) = _klue(200)
    assert _check_against(encoder, reference, texts + klue) == len(texts + klue)
    # Pairs: <s> a </s></s> b </s>, longest-first truncation with 4 special tokens.
    assert _check_against(encoder, reference, premises, hypotheses)
    assert _check_against(encoder, reference, texts[::2][:150], texts[1::2][:150])


@pytest.mark.parametrize("name", ["bpe800", "bpe3000"])
def test_xlmr_bpe_matches_sentencepiece(models, name):
    # transformers 5 reads a BPE .model into a Unigram model (different tokens), so BPE follows
    # the sentencepiece library, with XLM-R's fairseq ids (+1, unknown = 3).
    processor = spm.SentencePieceProcessor(model_file=models[name])
    encoder = SentencePieceEncoder(models[name], max_seq_len=512, padding="longest",
                                   return_offsets=True)
    klue, _ = _klue(200)
    texts = [t for t in EDGE_CASES if "\x00" not in t] + _nsmc(600) + klue
    out = encoder(tf.constant(texts))
    ids, mask, offsets = (out[k].numpy() for k in ("input_ids", "attention_mask", "offsets"))
    bad = []
    for i, text in enumerate(texts):
        expected = [0] + [3 if t == 0 else t + 1 for t in processor.encode(text)] + [2]
        row = ids[i][mask[i] == 1].tolist()
        if row != expected:
            bad.append((text, row, expected))
        proto = processor.encode(text, out_type="proto")
        spans = [(len(text.encode()[:p.begin].decode()), len(text.encode()[:p.end].decode()))
                 for p in proto.pieces]
        if [tuple(o) for o in offsets[i][1:len(spans) + 1].tolist()] != spans:
            bad.append((text, "offsets"))
    assert not bad, f"{len(bad)} mismatches, first: {bad[:2]}"


@pytest.mark.parametrize("name,lowercase,keep_accents", [
    ("albert1000", True, False),   # transformers' AlbertTokenizer defaults
    ("albert2500", False, True),
    pytest.param("albert2500", True, True, marks=pytest.mark.slow),
    pytest.param("albert1000", False, False, marks=pytest.mark.slow),
])
def test_albert_matches_transformers(models, name, lowercase, keep_accents, tmp_path):
    encoder = SentencePieceEncoder(models[name], layout="albert", lowercase=lowercase,
                                   keep_accents=keep_accents, max_seq_len=64,
                                   padding="longest", return_offsets=True)
    reference = _hf_albert(models[name], tmp_path / "hf", lowercase, keep_accents)
    texts = EDGE_CASES + _nsmc(300)
    klue, (premises, hypotheses) = _klue(100)
    _check_against(encoder, reference, texts + klue)
    _check_against(encoder, reference, premises, hypotheses)


# --- The layer's contract (tiny hand-made model: no training, no transformers) ---------------

def _tiny_model():
    from bertcls.text.spm_model import CONTROL, NORMAL, UNKNOWN, write_model
    pieces = [("<unk>", 0.0, UNKNOWN), ("<s>", 0.0, CONTROL), ("</s>", 0.0, CONTROL)]
    words = ["\u2581the", "\u2581fox", "\u2581jump", "s", "\u2581", "영화", "\u2581좋", "다"]
    pieces += [(p, -float(i), NORMAL) for i, p in enumerate(words, 1)]
    return write_model(pieces)


@pytest.fixture(scope="module")
def tiny():
    return SentencePieceEncoder(_tiny_model(), max_seq_len=8)


def test_tf_data_batched_and_unbatched_match_direct_call(tiny):
    texts = ["the fox jumps", "좋다 영화", "", "the the the the the the the"]
    direct = {k: v.numpy() for k, v in tiny(tf.constant(texts)).items()}
    assert direct["input_ids"].shape == (4, 8)
    batched = next(iter(tf.data.Dataset.from_tensor_slices(texts).batch(4).map(tiny)))
    for k in direct:
        np.testing.assert_array_equal(batched[k].numpy(), direct[k])
    for i, row in enumerate(tf.data.Dataset.from_tensor_slices(texts).map(tiny)):
        np.testing.assert_array_equal(row["input_ids"].numpy(), direct["input_ids"][i])
    single = tiny("the fox")
    assert single["input_ids"].numpy().tolist() == [0, 4, 5, 2, 1, 1, 1, 1]
    # Truncation keeps max_seq_len - 2 pieces; every id is inside the vocabulary.
    assert direct["input_ids"][3].tolist() == [0, 4, 4, 4, 4, 4, 4, 2]
    assert direct["input_ids"].max() < tiny.vocabulary_size


def test_config_round_trip_and_keras_file(tiny, tmp_path):
    import keras
    config = tiny.get_config()
    assert isinstance(config["model"]["base64"], str)
    json.dumps(config)
    clone = SentencePieceEncoder.from_config(config)
    assert clone.get_config() == config
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, tiny(inputs))
    path = tmp_path / "encoder.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    texts = tf.constant(["the fox jumps", "좋다"])
    np.testing.assert_array_equal(loaded(texts)["input_ids"].numpy(),
                                  tiny(texts)["input_ids"].numpy())


def test_untrusted_model_files_are_clear_errors(tmp_path):
    data = _tiny_model()
    for name, blob in (("truncated.model", data[:len(data) // 2]),
                       ("garbage.model", b"\xff" * 64), ("empty.model", b"")):
        path = tmp_path / name
        path.write_bytes(blob)
        with pytest.raises(ValueError, match=name):
            SentencePieceEncoder(str(path))
    with pytest.raises(ValueError, match="layout"):
        SentencePieceEncoder(data, layout="gpt2")
    with pytest.raises(ValueError, match="lacks the special tokens"):
        SentencePieceEncoder(data, layout="albert")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        SentencePieceEncoder(data).decode([99])


# --- Picking the encoder from a checkpoint directory; task models; string-in export --------

def test_encoder_from_preset_picks_by_files(models, tmp_path, tiny_vocab_file):
    from bertcls import FeatureEncoder, encoder_from_preset

    def directory(name, files):
        d = tmp_path / name
        d.mkdir()
        for file, content in files.items():
            target = d / file
            if isinstance(content, (dict, str)):
                target.write_text(content if isinstance(content, str) else json.dumps(content))
            else:
                target.write_bytes(content)
        return d

    model = open(models["albert1000"], "rb").read()
    xlmr = encoder_from_preset(directory("xlmr", {"sentencepiece.bpe.model": model}),
                               max_seq_len=32)
    assert isinstance(xlmr, SentencePieceEncoder) and xlmr.layout == "xlm-roberta"
    assert xlmr.max_seq_len == 32
    albert = encoder_from_preset(directory("albert", {
        "spiece.model": model,
        "tokenizer_config.json": {"tokenizer_class": "AlbertTokenizer", "do_lower_case": False,
                                  "keep_accents": True,
                                  "mask_token": {"content": "[MASK]", "lstrip": True}}}))
    assert (albert.layout, albert.lowercase, albert.keep_accents) == ("albert", False, True)
    by_type = encoder_from_preset(directory("by_type", {
        "spiece.model": model, "config.json": {"model_type": "albert"}}))
    assert (by_type.layout, by_type.lowercase, by_type.keep_accents) == ("albert", True, False)
    bert = encoder_from_preset(directory("bert", {
        "vocab.txt": tiny_vocab_file.read_text(), "spiece.model": model,
        "tokenizer_config.json": {"tokenizer_class": "BertTokenizer"}}))
    assert isinstance(bert, FeatureEncoder)
    with pytest.raises(ValueError, match="XLNetTokenizer"):
        encoder_from_preset(directory("xlnet", {
            "spiece.model": model, "tokenizer_config.json": {"tokenizer_class": "XLNetTokenizer"},
            "config.json": {"model_type": "xlnet"}}))
    with pytest.raises(ValueError, match="spiece.model"):
        encoder_from_preset(directory("corrupt", {
            "spiece.model": model[:100], "config.json": {"model_type": "albert"}}))
    with pytest.raises(ValueError, match="no tokenizer files"):
        encoder_from_preset(directory("empty", {"config.json": {"model_type": "bert"}}))


def test_classifier_from_preset_and_string_in_export(tiny, tmp_path):
    from bertcls import BertBackbone, BertClassifier, export_text_model
    backbone = BertBackbone(vocabulary_size=tiny.vocabulary_size, num_layers=1, num_heads=2,
                            hidden_size=8, intermediate_size=16)
    preset = tmp_path / "checkpoint"
    backbone.save_pretrained(preset)
    (preset / "sentencepiece.bpe.model").write_bytes(tiny.model)
    model = BertClassifier.from_preset(preset, max_seq_len=8)
    assert isinstance(model.encoder, SentencePieceEncoder)
    texts = ["the fox jumps", "좋다 영화", "the"]
    expected = model.predict_texts(texts)["probabilities"]
    path = export_text_model(model, tmp_path / "served")
    served = tf.saved_model.load(str(path))
    got = served.serve(tf.constant(texts))["probabilities"].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
