"""FeatureEncoder: layout, truncation, padding, offsets, decode, Keras/tf.data/SavedModel use."""

import inspect
import json
import pathlib
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from transformers import BertTokenizer

import bertcls
from bertcls import FeatureEncoder

DATA = pathlib.Path(__file__).parent / "data"
CASED, UNCASED = DATA / "nsmc_cased", DATA / "nsmc_uncased"
sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "benchmarks"))
sys.path.insert(0, str(pathlib.Path(__file__).parent))

from test_tokenization import EDGE_CASES  # noqa: E402
from warm import warm_run  # noqa: E402

TEXTS = ["재밌어요 정말 최고의 영화!!", "별로", "", "a [MASK] b", "ㅋㅋㅋ 10점 만점에 10점"]
KEYS = ("input_ids", "attention_mask", "token_type_ids")


@pytest.fixture(scope="module")
def reference():
    return BertTokenizer.from_pretrained(str(CASED))


@pytest.fixture(scope="module")
def encoder():
    return FeatureEncoder.from_preset(CASED, max_seq_len=16)


@pytest.fixture(scope="module")
def documents():
    from parity_nsmc import read_nsmc

    path = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "nsmc"
    if not (path / "ratings_train.txt").exists():
        pytest.skip("NSMC data not found")
    return read_nsmc(path)[:3000]


def assert_outputs_equal(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)


# --- Layout -------------------------------------------------------------------------------


def test_output_layout_dtypes_and_shapes(encoder, reference):
    out = encoder(TEXTS)
    assert sorted(out) == sorted(KEYS)
    for key in KEYS:
        assert out[key].dtype == tf.int32 and out[key].shape == (len(TEXTS), 16)
    expected = reference(TEXTS, max_length=16, padding="max_length", truncation=True)
    for key in KEYS:
        np.testing.assert_array_equal(out[key].numpy(), np.array(expected[key]), err_msg=key)
    ids = out["input_ids"].numpy()
    assert (ids[:, 0] == encoder.cls_token_id).all()
    assert ids[2].tolist()[:3] == [encoder.cls_token_id, encoder.sep_token_id,
                                   encoder.pad_token_id]


def test_single_string_has_no_batch_axis(encoder):
    out = encoder("별로")
    assert out["input_ids"].shape == (16,)
    assert_outputs_equal({k: v[None] for k, v in out.items()}, encoder(["별로"]))


def test_column_of_strings_is_a_batch(encoder):
    column = tf.constant([[t] for t in TEXTS])
    assert_outputs_equal(encoder(column), encoder(TEXTS))
    inputs = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(inputs, encoder(inputs))
    assert_outputs_equal(model(column), encoder(TEXTS))


def test_padding_longest(reference):
    encoder = FeatureEncoder.from_preset(CASED, padding="longest", max_seq_len=8)
    out = encoder(["별로", "a b c"])
    expected = reference(["별로", "a b c"], max_length=8, padding="longest", truncation=True)
    for key in KEYS:
        np.testing.assert_array_equal(out[key].numpy(), np.array(expected[key]))
    long = encoder(["재밌어요 정말 최고의 영화!! 10점 만점에 10점"])
    assert long["input_ids"].shape == (1, 8)


@pytest.mark.parametrize("max_seq_len", [2, 3, 5, 8, 9, 16, 128])
def test_truncation_matches_transformers_for_singles_and_pairs(
        reference, documents, max_seq_len):
    encoder = FeatureEncoder.from_preset(CASED, max_seq_len=max_seq_len)
    first, second = documents[:300], documents[300:600]
    kwargs = dict(max_length=max_seq_len, padding="max_length", truncation=True)
    cases = [(first, reference(first, **kwargs))]
    if max_seq_len >= 3:  # a pair needs room for [CLS] [SEP] [SEP]
        cases.append(((first, second), reference(first, second, **kwargs)))
    for inputs, expected in cases:
        out = encoder(inputs)
        for key in KEYS:
            np.testing.assert_array_equal(out[key].numpy(), np.array(expected[key]),
                                          err_msg=f"{key} max_seq_len={max_seq_len}")


def test_pairs_of_equal_and_unequal_length_truncate_longest_first(reference):
    encoder = FeatureEncoder.from_preset(CASED, max_seq_len=10)
    a = ["가 나 다 라 마 바", "가 나", "가 나 다 라 마 바 사", "가"]
    b = ["가 나 다 라 마 바", "가 나 다 라 마 바 사 아", "가 나", "가 나 다 라 마 바 사 아"]
    out = encoder((a, b))
    expected = reference(a, b, max_length=10, padding="max_length", truncation=True)
    for key in KEYS:
        np.testing.assert_array_equal(out[key].numpy(), np.array(expected[key]))
    assert out["token_type_ids"].numpy()[1].tolist() == expected["token_type_ids"][1]


def test_offsets_match_transformers_for_pairs_and_edge_cases(reference):
    encoder = FeatureEncoder.from_preset(CASED, max_seq_len=24, return_offsets=True)
    a, b = EDGE_CASES, EDGE_CASES[::-1]
    for inputs, expected in (
            (a, reference(a, max_length=24, padding="max_length", truncation=True,
                          return_offsets_mapping=True)),
            ((a, b), reference(a, b, max_length=24, padding="max_length", truncation=True,
                               return_offsets_mapping=True))):
        out = encoder(inputs)
        assert out["offsets"].dtype == tf.int32 and out["offsets"].shape == (len(a), 24, 2)
        np.testing.assert_array_equal(out["offsets"].numpy(),
                                      np.array(expected["offset_mapping"]))
        np.testing.assert_array_equal(out["input_ids"].numpy(), np.array(expected["input_ids"]))


def test_uncased_offsets_follow_the_original_characters():
    reference = BertTokenizer.from_pretrained(str(UNCASED))
    encoder = FeatureEncoder.from_preset(UNCASED, return_offsets=True, padding="longest")
    texts = ["Ärger café", "한국어 ÉCOLE", "İstanbul"]
    out = encoder(texts)
    expected = reference(texts, padding="longest", return_offsets_mapping=True)
    np.testing.assert_array_equal(out["offsets"].numpy(), np.array(expected["offset_mapping"]))


# --- Decoding -----------------------------------------------------------------------------


@pytest.mark.parametrize("directory", [CASED, UNCASED], ids=["cased", "uncased"])
def test_decode_matches_transformers(directory, documents):
    reference = BertTokenizer.from_pretrained(str(directory))
    encoder = FeatureEncoder.from_preset(directory, max_seq_len=32)
    texts = EDGE_CASES + documents[:300] + ["I don't know , it's fine . isn't it ?"]
    ids = encoder(texts)["input_ids"].numpy()
    for row in ids:
        for skip in (False, True):
            assert encoder.decode(row, skip_special_tokens=skip) == reference.decode(
                row.tolist(), skip_special_tokens=skip)
    assert encoder.decode(ids[:2]) == [reference.decode(r.tolist()) for r in ids[:2]]


def test_decode_rejects_bad_ids(encoder):
    with pytest.raises(ValueError, match="outside the vocabulary"):
        encoder.decode([2, 10 ** 6])
    with pytest.raises(ValueError, match="1-D or 2-D"):
        encoder.decode(np.zeros((1, 2, 3), int))


# --- Where it runs ------------------------------------------------------------------------


def test_tf_data_batched_and_unbatched_maps_equal_direct_call(encoder):
    direct = encoder(TEXTS)
    ds = tf.data.Dataset.from_tensor_slices(TEXTS)
    batched = next(iter(ds.batch(len(TEXTS)).map(encoder)))
    unbatched = next(iter(ds.map(encoder).batch(len(TEXTS))))
    assert_outputs_equal(direct, batched)
    assert_outputs_equal(direct, unbatched)
    pairs = tf.data.Dataset.from_tensor_slices((TEXTS, TEXTS[::-1]))
    pair_direct = encoder((TEXTS, TEXTS[::-1]))
    assert_outputs_equal(pair_direct, next(iter(pairs.batch(5).map(lambda a, b: encoder((a, b))))))
    assert_outputs_equal(pair_direct, next(iter(pairs.map(lambda a, b: encoder((a, b))).batch(5))))


def test_functional_model_on_raw_strings_saves_as_keras(encoder, tmp_path):
    inputs = keras.Input(shape=(), dtype="string")
    outputs = encoder(inputs)
    assert outputs["input_ids"].shape == (None, 16)
    model = keras.Model(inputs, outputs)
    direct = encoder(TEXTS)
    assert_outputs_equal(direct, model(tf.constant(TEXTS)))
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    assert_outputs_equal(direct, restored(tf.constant(TEXTS)))


@pytest.mark.parametrize("directory", [CASED, UNCASED], ids=["cased", "uncased"])
def test_exported_saved_model_encodes_strings(directory, tmp_path):
    # The uncased encoder carries a lookup table (rare characters) that must be saved too.
    encoder = FeatureEncoder.from_preset(directory, max_seq_len=16, return_offsets=True)
    texts = TEXTS + ["\u1c89Ärger [MASK]"]

    class Serving(tf.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, texts):
            return self.encoder(texts)

    tf.saved_model.save(Serving(encoder), str(tmp_path / "export"))
    restored = tf.saved_model.load(str(tmp_path / "export"))
    assert_outputs_equal(encoder(texts), restored.serve(tf.constant(texts)))


def test_functional_model_on_sentence_pairs(encoder):
    first = keras.Input(shape=(), dtype="string")
    second = keras.Input(shape=(), dtype="string")
    model = keras.Model([first, second], encoder((first, second)))
    out = model([tf.constant(TEXTS), tf.constant(TEXTS[::-1])])
    assert_outputs_equal(encoder((TEXTS, TEXTS[::-1])), out)


def test_config_round_trip_matches_constructor(encoder):
    config = encoder.get_config()
    arguments = set(inspect.signature(FeatureEncoder.__init__).parameters) - {"self", "kwargs"}
    assert arguments <= set(config)
    assert config["vocabulary"] == encoder.vocabulary and config["max_seq_len"] == 16
    json.dumps(config)
    clone = FeatureEncoder.from_config(config)
    assert_outputs_equal(encoder(TEXTS), clone(TEXTS))
    assert keras.saving.get_registered_name(FeatureEncoder) == "bertcls>FeatureEncoder"


# --- Construction -------------------------------------------------------------------------


def test_vocab_file_and_list_give_the_same_encoder(tiny_vocab_file):
    from conftest import TINY_VOCAB

    by_file = FeatureEncoder(str(tiny_vocab_file), lowercase=True, max_seq_len=8)
    by_list = FeatureEncoder(TINY_VOCAB, lowercase=True, max_seq_len=8)
    assert_outputs_equal(by_file(["The quick fox jumps!"]), by_list(["The quick fox jumps!"]))
    assert by_file.vocabulary_size == len(TINY_VOCAB)
    assert (by_file.pad_token_id, by_file.unk_token_id, by_file.cls_token_id,
            by_file.sep_token_id) == (0, 1, 2, 3)


@pytest.mark.parametrize("config", [
    None,  # no tokenizer_config.json: transformers' defaults (lowercase)
    {},
    {"do_lower_case": True},
    {"do_lower_case": True, "strip_accents": False},
    {"do_lower_case": False, "strip_accents": True},
    {"do_lower_case": False, "tokenize_chinese_chars": False},
])
def test_from_preset_honours_tokenizer_config(tmp_path, config):
    (tmp_path / "vocab.txt").write_bytes((CASED / "vocab.txt").read_bytes())
    if config is not None:
        (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    reference = BertTokenizer.from_pretrained(str(tmp_path))
    encoder = FeatureEncoder.from_preset(tmp_path, max_seq_len=48)
    expected = reference(EDGE_CASES, max_length=48, padding="max_length", truncation=True)
    np.testing.assert_array_equal(encoder(EDGE_CASES)["input_ids"].numpy(),
                                  np.array(expected["input_ids"]))


def test_from_preset_overrides_and_minilm(minilm_path):
    reference = BertTokenizer.from_pretrained(str(minilm_path))
    encoder = FeatureEncoder.from_preset(minilm_path, max_seq_len=32)
    texts = ["Hello, World! It's a naïve café.", "BERT's WordPiece: un-aff-able?"]
    expected = reference(texts, max_length=32, padding="max_length", truncation=True)
    np.testing.assert_array_equal(encoder(texts)["input_ids"].numpy(),
                                  np.array(expected["input_ids"]))
    assert FeatureEncoder.from_preset(minilm_path, padding="longest").padding == "longest"


def test_from_preset_errors_name_the_problem(tmp_path, monkeypatch):
    import huggingface_hub

    with pytest.raises(ValueError, match="no vocab.txt"):
        FeatureEncoder.from_preset(tmp_path)
    (tmp_path / "vocab.txt").write_bytes((CASED / "vocab.txt").read_bytes())
    (tmp_path / "tokenizer_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="tokenizer_config.json"):
        FeatureEncoder.from_preset(tmp_path)

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(bertcls.PresetError, match="nobody/no-such-bert"):
        FeatureEncoder.from_preset("nobody/no-such-bert")


# --- Bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("inputs,message", [
    (tf.constant([1, 2]), "dtype int32"),
    ([1.0, 2.0], r"item 0 is float \(1.0\)"),
    (tf.constant([["a", "b"]]), r"rank 1, or \(batch, 1\)"),
    (tf.ragged.constant([["a"], []]), "received shape"),
    ((["a"], ["b"], ["c"]), "tuple of 3"),
    ((tf.constant("a"), tf.constant(["b"])), "same shape"),
    ((["a", "b"], ["c"]), "same shape"),
    ({"text": ["a"]}, "dict"),
    (["a", None, 3], r"must hold strings; item 1 is NoneType"),
])
def test_bad_inputs_raise(encoder, inputs, message):
    with pytest.raises(ValueError, match=message):
        encoder(inputs)


@pytest.mark.parametrize("kwargs,message", [
    ({"vocabulary": ["[PAD]", "[UNK]", "[SEP]"]}, r"lacks the special tokens \['\[CLS\]'\]"),
    ({"vocabulary": 3}, "list of token strings"),
    ({"padding": "right"}, "'max_length', 'longest'"),
    ({"max_seq_len": 1}, "integer >= 2"),
    ({"max_seq_len": "128"}, "integer >= 2"),
])
def test_bad_arguments_raise(kwargs, message):
    from conftest import TINY_VOCAB

    with pytest.raises(ValueError, match=message):
        FeatureEncoder(**{"vocabulary": TINY_VOCAB, **kwargs})


def test_pairs_need_room_for_three_special_tokens():
    from conftest import TINY_VOCAB

    with pytest.raises(ValueError, match="max_seq_len >= 3"):
        FeatureEncoder(TINY_VOCAB, max_seq_len=2)((["a"], ["b"]))


def test_unreadable_vocab_file_raises(tmp_path):
    with pytest.raises(ValueError, match="Cannot read the vocabulary file"):
        FeatureEncoder(str(tmp_path / "nope.txt"))


def test_empty_batches(encoder):
    assert encoder([])["input_ids"].shape == (0, 16)
    assert encoder(([], []))["token_type_ids"].shape == (0, 16)
    longest = FeatureEncoder.from_preset(CASED, padding="longest")
    empty = [longest.cls_token_id, longest.sep_token_id]
    assert longest(["", ""])["input_ids"].numpy().tolist() == [empty, empty]


def test_long_text_is_truncated_not_an_error(encoder):
    out = encoder(["가나다 " * 5000])
    assert out["input_ids"].shape == (1, 16)
    assert out["input_ids"].numpy()[0, -1] == encoder.sep_token_id


@pytest.mark.jax
def test_tf_data_map_works_under_the_jax_backend():
    code = (
        "import tensorflow as tf, bertcls\n"
        f"enc = bertcls.FeatureEncoder.from_preset({str(CASED)!r}, max_seq_len=8)\n"
        "ds = tf.data.Dataset.from_tensor_slices(['가나다 abc', 'x']).batch(2).map(enc)\n"
        "print(next(iter(ds))['input_ids'].numpy().tolist())\n"
        "print(enc(['가나다 abc', 'x'])['input_ids'].numpy().tolist())\n")
    run = warm_run("jax", ["-c", code], timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.strip().splitlines()
    expected = FeatureEncoder.from_preset(CASED, max_seq_len=8)(["가나다 abc", "x"])
    assert lines[-1] == lines[-2] == str(expected["input_ids"].numpy().tolist())


def test_special_tokens_of_any_bracket_shape_stay_whole():
    # klue/roberta-style WordPiece vocabulary with RoBERTa's `<s>`-style specials, named in
    # tokenizer_config.json: transformers' BertTokenizer keeps `<mask>` (and `<s>`, `</s>`)
    # whole; ids recorded from it in tests/golden/families_mlm/make_mlm_families.py.
    directory = pathlib.Path(__file__).parents[1] / "tests" / "golden" / "families_mlm" / (
        "mlm_roberta")
    golden = json.loads((directory / "fill_mask.json").read_text(encoding="utf-8"))
    encoder = FeatureEncoder.from_preset(str(directory), max_seq_len=16, padding="longest")
    with_offsets = FeatureEncoder.from_config(dict(encoder.get_config(), return_offsets=True))
    assert encoder.mask_token == "<mask>"
    for text, expected in zip(golden["texts"], golden["ids"]):
        for layer in (encoder, with_offsets):  # the ids path and the offsets path
            ids = layer([text])["input_ids"].numpy()[0]
            assert ids[ids != encoder.pad_token_id].tolist() == expected, (text, layer)
    out = with_offsets(["kim <mask> </s>"])
    ids = out["input_ids"].numpy()[0].tolist()
    assert ids[2] == encoder.mask_token_id and ids[3] == encoder.sep_token_id
    assert out["offsets"].numpy()[0, 2].tolist() == [4, 10]  # `<mask>` spans its characters
    # A bracketed word that is not a named special token is ordinary text: split at "<", ">".
    ids = encoder(["<pad2>"])["input_ids"].numpy()[0].tolist()
    assert len(ids) > 3 and encoder.pad_token_id not in ids[1:-1]
