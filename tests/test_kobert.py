"""KoBERT's tokenizer (`SentencePieceEncoder(layout="kobert")`) token for token against the
reference: the slow XLNetTokenizer's pre-processing + the `sentencepiece` package + KoBERT's
`[CLS] a [SEP] b [SEP]` (tests/golden/kobert/make_kobert_golden.py, run in the reference venv,
wrote golden.json.gz from a KoBERT-style model trained on NSMC; texts are edge cases, NSMC test
reviews, KLUE-NER sentences and KLUE-NLI / STS pairs)."""

import gzip
import json
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

from bertcls import BertBackbone, BertClassifier, SentencePieceEncoder, encode_qa
from bertcls.text import xlnet_pieces
from bertcls.text.presets import encoder_from_preset
from conftest import REPO

GOLDEN = REPO / "tests" / "golden" / "kobert"
MODEL = str(GOLDEN / "spiece.model")


@pytest.fixture(scope="module")
def golden():
    with gzip.open(GOLDEN / "golden.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def rows(out):
    """Unpadded ids and token types of an encoder output."""
    ids, mask, types = (out[k].numpy()
                        for k in ("input_ids", "attention_mask", "token_type_ids"))
    return ([r[m == 1].tolist() for r, m in zip(ids, mask)],
            [t[m == 1].tolist() for t, m in zip(types, mask)])


def test_unicode_tables_are_pythons():
    def ranges(table):
        out = set()
        for item in table.split():
            first, _, last = item.partition("-")
            out.update(range(int(first, 16), int(last or first, 16) + 1))
        return out

    every = range(0x110000)
    assert ranges(xlnet_pieces.SPACE) == {c for c in every if chr(c).isspace()}
    assert ranges(xlnet_pieces.COMBINING) == {c for c in every
                                              if unicodedata.combining(chr(c))}
    assert ranges(xlnet_pieces.DIGIT) == {c for c in every if chr(c).isdigit()}


@pytest.mark.parametrize("setting", [0, 1, 2])
def test_kobert_layout_matches_the_reference(golden, setting):
    reference = golden["settings"][setting]
    encoder = SentencePieceEncoder(MODEL, layout="kobert", max_seq_len=512, padding="longest",
                                   lowercase=reference["do_lower_case"],
                                   keep_accents=reference["keep_accents"])
    texts = golden["texts"]
    ids, types = rows(encoder(tf.constant(texts)))
    bad = [(t, a, b) for t, a, b in zip(texts, ids, reference["input_ids"]) if a != b]
    assert not bad, f"{len(bad)} of {len(texts)} texts differ, first: {bad[:2]}"
    assert all(not any(t) for t in types)
    first, second = (list(x) for x in zip(*golden["pairs"]))
    ids, types = rows(encoder((tf.constant(first), tf.constant(second))))
    assert ids == reference["pair_input_ids"]
    assert types == reference["pair_token_type_ids"]
    print(f"setting {setting}: {len(texts)} texts and {len(first)} pairs, 0 mismatches")


def test_monologg_vocabulary_maps_pieces_through_vocab_txt(golden, tmp_path):
    from bertcls.text.spm_model import read_model

    pieces = read_model(open(MODEL, "rb").read()).pieces
    rng = np.random.default_rng(0)
    order = rng.permutation(len(pieces)).tolist()  # vocab.txt in another order
    vocabulary = [pieces[i] for i in order]
    position = {p: i for i, p in enumerate(vocabulary)}
    directory = tmp_path / "distilkobert"
    directory.mkdir()
    (directory / "tokenizer_78b3253a26.model").write_bytes(open(MODEL, "rb").read())
    (directory / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    (directory / "config.json").write_text(json.dumps({"model_type": "distilbert"}))
    encoder = encoder_from_preset(str(directory), max_seq_len=512, padding="longest")
    assert encoder.layout == "kobert" and encoder.custom_vocabulary == vocabulary
    texts = golden["texts"][:300]
    ids, _ = rows(encoder(tf.constant(texts)))
    expected = [[position[pieces[i]] for i in row]
                for row in golden["settings"][0]["input_ids"][:300]]
    assert ids == expected


def test_encoder_from_preset_picks_kobert_and_round_trips(tmp_path):
    directory = tmp_path / "kobert"
    directory.mkdir()
    (directory / "spiece.model").write_bytes(open(MODEL, "rb").read())
    (directory / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (directory / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "XLNetTokenizer", "do_lower_case": False, "remove_space": True,
        "keep_accents": False, "bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "[UNK]",
        "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
        "mask_token": {"content": "[MASK]", "lstrip": True}}))
    encoder = encoder_from_preset(str(directory), max_seq_len=16)
    assert (encoder.layout, encoder.cls_token_id, encoder.sep_token_id,
            encoder.pad_token_id) == ("kobert", 2, 3, 1)
    out = encoder(("영화 최고", "정말"))
    assert out["input_ids"].numpy().tolist()[0] == 2
    assert out["input_ids"].numpy().tolist()[-1] == 1  # padded on the right with [PAD]
    # Keras config and save_tokenizer round trips.
    again = SentencePieceEncoder.from_config(encoder.get_config())
    np.testing.assert_array_equal(again(["영화 최고"])["input_ids"],
                                  encoder(["영화 최고"])["input_ids"])
    saved = tmp_path / "saved"
    saved.mkdir()
    encoder.save_tokenizer(str(saved))
    (saved / "config.json").write_text(json.dumps({"model_type": "bert"}))
    written = json.loads((saved / "tokenizer_config.json").read_text())
    assert written["tokenizer_class"] == "XLNetTokenizer"
    reread = encoder_from_preset(str(saved), max_seq_len=16).get_config()
    assert ({k: v for k, v in reread.items() if k != "name"}
            == {k: v for k, v in encoder.get_config().items() if k != "name"})
    # An XLNet model's own layout is not KoBERT's: refused with the reason.
    (directory / "config.json").write_text(json.dumps({"model_type": "xlnet"}))
    with pytest.raises(ValueError, match="KoBERT's XLNetTokenizer"):
        encoder_from_preset(str(directory))
    assert encoder_from_preset(str(directory), layout="kobert").layout == "kobert"


def test_kobert_in_tf_data_and_a_classifier_and_its_limits(golden):
    encoder = SentencePieceEncoder(MODEL, layout="kobert", max_seq_len=12)
    # KoBERT's defaults: keep_accents=False, lowercase=False, remove_space=True.
    assert (encoder.keep_accents, encoder.lowercase, encoder.remove_space) == (False, False, True)
    assert SentencePieceEncoder(MODEL).keep_accents  # other layouts keep theirs
    texts = ["1,000원 영화,", "재미없다 ㅋㅋㅋ", ""]
    direct = encoder(tf.constant(texts))["input_ids"].numpy()
    mapped = tf.data.Dataset.from_tensor_slices(texts).batch(2).map(encoder)
    np.testing.assert_array_equal(
        np.concatenate([b["input_ids"].numpy() for b in mapped]), direct)
    backbone = BertBackbone(vocabulary_size=encoder.vocabulary_size, num_layers=1,
                            num_heads=2, hidden_size=8, intermediate_size=16)
    model = BertClassifier(backbone, encoder=encoder)
    assert model.predict_texts(texts)["probabilities"].shape == (3,)
    with pytest.raises(ValueError, match="no character offsets"):
        SentencePieceEncoder(MODEL, layout="kobert", return_offsets=True)
    with pytest.raises(ValueError, match="no character offsets"):
        encode_qa(encoder, ["질문"], ["문맥"])
    with pytest.raises(ValueError, match="layout='kobert'"):
        SentencePieceEncoder(MODEL, vocabulary=["[UNK]"])


def test_pieces_eagerly_on_batches_without_digit_commas_and_empty():
    """Eager TensorFlow refuses to concatenate an empty TensorArray; the segmenter must
    still answer eagerly for a batch with no characters (here the digit-comma re-encoding
    of a batch that has none) and for an empty batch, as it does inside a tf.function."""
    encoder = SentencePieceEncoder(str(GOLDEN / "spiece.model"), layout="kobert")
    texts = tf.constant(["안녕하세요", "1,000원 12,"])
    traced = tf.function(encoder.tokenizer.pieces)
    for batch in (texts[:1], texts, tf.constant([], tf.string)):
        eager = encoder.tokenizer.pieces(batch)
        assert eager.to_list() == traced(batch).to_list()
    assert encoder.tokenizer.pieces(tf.constant([], tf.string)).to_list() == []
    assert len(encoder.tokenizer.pieces(texts[:1]).to_list()[0]) > 0
