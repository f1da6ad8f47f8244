"""BertWordPiece against transformers' BertTokenizer: every code point, edge cases, NSMC."""

import pathlib
import sys

import pytest
import tensorflow as tf
from tokenizers import normalizers, pre_tokenizers
from transformers import BertTokenizer

from bertcls.text.wordpiece import BertWordPiece, read_vocabulary

DATA = pathlib.Path(__file__).parent / "data"
CASED, UNCASED = DATA / "nsmc_cased", DATA / "nsmc_uncased"
sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "benchmarks"))

# Kept in the tests (issue 2): each must give Hugging Face's ids and offsets.
EDGE_CASES = [
    "", " ", "   \t\n  ", "\u3000", "\u00a0\u2003\u202f\u205f", "\r\n\r",
    "a\x00b", "a\u200bb", "\u200b", "a\u200db\ufeffc", "a\x07b\x1fc\x7fd", "\ufffd",
    "a\u3000b\u2009c\u00a0d\u1680e\u2028f\x85g\x0bh\x0ci",
    "cafe\u0301 re\u0301sume\u0301", "Ärger über Öl", "naïve Ελληνικά ΟΔΟΣ",
    "東京は日本の首都です", "中文字符abc漢字", "\U00020000\u3400\uf900 mix",
    "이모지 😀👍🏽 ❤️ 🇰🇷", "ＦＵＬＬ　ｗｉｄｔｈ １２３！", "ｶﾀｶﾅ カタカナ",
    "https://www.example.com/path?q=1&x=y#frag", "mail me: someone@example.org",
    "[CLS]", "a[CLS]b", "[MASK] is [SEP][SEP] [PAD][UNK]", "[cls] [Mask] [MASK", "[CL\u200bS]",
    "x" * 150, "a" * 100, "é" * 101, "가" * 40, "가나다라마바사아자차카타파하" * 8,
    "ㅋㅋㅋㅋㅋ ㅠㅠ ㅎㅎ", "영화가 정말 재밌었어요!!! 10점 만점에 10점~~", "İstanbul ǅ ẞ Ω K",
    "\u1c89\U00010570 \U000105c9", "...!!!???", "a-b_c/d\\e", "'quoted' \"double\"",
    "\ue000\ue001 private \U000f0000", "tab\tseparated\ttext", "1,000,000원",
]


def reference_words(text, lowercase, strip_accents, chinese):
    norm = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=chinese, strip_accents=strip_accents,
        lowercase=lowercase)
    return [w for w, _ in pre_tokenizers.BertPreTokenizer().pre_tokenize_str(
        norm.normalize_str(text))]


CONFIGS = [
    pytest.param(False, False, True, id="cased"),
    pytest.param(True, None, True, id="uncased"),
    pytest.param(False, True, False, id="strip-only-no-cjk", marks=pytest.mark.slow),
    pytest.param(True, False, True, id="lowercase-keep-accents", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("lowercase,strip_accents,chinese", CONFIGS)
def test_every_code_point_normalises_and_splits_like_tokenizers(
        lowercase, strip_accents, chinese):
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    texts = [f"a{c}b" for c in chars]
    wp = BertWordPiece(["[UNK]"], lowercase=lowercase, strip_accents=strip_accents,
                       tokenize_chinese_chars=chinese)
    ours = wp.pre_tokenize(tf.constant(texts)).to_list()
    wrong = []
    for c, text, words in zip(chars, texts, ours):
        expected = reference_words(text, lowercase, strip_accents, chinese)
        if [w.decode("utf-8") for w in words] != expected:
            wrong.append(f"U+{ord(c):04X}")
    assert not wrong, f"{len(wrong)} code points differ, e.g. {wrong[:10]}"


@pytest.fixture(scope="module", params=[CASED, UNCASED], ids=["cased", "uncased"])
def pair(request):
    reference = BertTokenizer.from_pretrained(str(request.param))
    config = reference.backend_tokenizer.normalizer
    assert isinstance(config, normalizers.BertNormalizer)
    wp = BertWordPiece(read_vocabulary(request.param / "vocab.txt"),
                       lowercase=request.param == UNCASED)
    return reference, wp


def assert_same(reference, wp, texts):
    expected = reference(texts, add_special_tokens=False, return_offsets_mapping=True)
    ids = wp.tokenize(tf.constant(texts)).to_list()
    ids2, starts, ends = (t.to_list() for t in wp.tokenize_with_offsets(tf.constant(texts)))
    wrong = []
    for i, text in enumerate(texts):
        offsets = [list(p) for p in expected["offset_mapping"][i]]
        if not (ids[i] == ids2[i] == expected["input_ids"][i]
                and offsets == [[s, e] for s, e in zip(starts[i], ends[i])]):
            wrong.append((text, ids[i], expected["input_ids"][i]))
    assert not wrong, f"{len(wrong)} of {len(texts)} texts differ, first: {wrong[:2]}"


def test_edge_cases_match_transformers(pair):
    assert_same(*pair, EDGE_CASES)


def test_edge_cases_change_the_ids(pair):
    # The list exercises unknown words, special tokens and the 100-character limit.
    _, wp = pair
    ids = wp.tokenize(tf.constant(["x" * 150, "[MASK]", "a" * 100])).to_list()
    assert ids[0] == [wp.vocabulary.index("[UNK]")]
    assert ids[1] == [wp.vocabulary.index("[MASK]")]


# Characters that interact across boundaries: combining marks, removed and zero-width
# characters, unicode spaces, special tokens, CJK, jamo, characters TF normalises differently.
FUZZ_POOL = (
    list("abcXYZ 한국어영화가나다ㅋㅠ.,!?'\"-[]()#") + ["[CLS]", "[MASK]", "[SEP]", "[PAD]", "[cls]", "##"]
    + [chr(c) for c in (
        0, 7, 9, 10, 13, 0xB, 0xC, 0x85, 0xA0, 0xAD, 0x300, 0x301, 0x327, 0x345, 0x200B, 0x200D,
        0x2028, 0x3000, 0xFEFF, 0xFFFD, 0xE000, 0xE001, 0xE002, 0x4E00, 0xF900, 0x2F800, 0x1F600,
        0x1F3FD, 0xFF21, 0x130, 0x3A3, 0x1C89, 0x105C9, 0x1E9E, 0xDF, 0xFB01, 0x2126, 0x212B,
        0x37E, 0x387, 0x1100, 0x1161, 0x11A8, 0xAC00, 0xD7A3, 0x10FFFF, 0xE0001)])


def test_random_mixtures_of_tricky_characters_match_transformers(pair):
    import random

    rng = random.Random(0)
    texts = ["".join(rng.choice(FUZZ_POOL) for _ in range(rng.randint(0, 30)))
             for _ in range(3000)]
    assert_same(*pair, texts)


def test_reordered_marks_get_transformers_offsets(pair):
    # NFD moves a mark with a combining class (U+1D166, U+302E ...) in front of an accent;
    # `tokenizers` then aligns it with the accent's position, and so does the offsets path.
    reference, wp = pair
    texts = ["\u0301\U0001d166", "가\u0300\u302e", "a\u0301\u0316\u302eb", "\u00e1\u302e"]
    assert_same(reference, wp, texts)
    if wp.strip_accents:
        _, starts, ends = (t.to_list() for t in wp.tokenize_with_offsets(tf.constant(texts)))
        assert (starts[0], ends[0]) == ([0], [1])


def test_nsmc_slice_matches_transformers(pair, nsmc_dir):
    from parity_nsmc import read_nsmc

    documents = read_nsmc(nsmc_dir)
    texts = documents[:40000] + documents[150000:160000]
    reference, wp = pair
    for begin in range(0, len(texts), 5000):
        assert_same(reference, wp, texts[begin:begin + 5000])


def test_repeated_vocabulary_token_keeps_last_id(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "fox", "##es", "fox", ""]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text('{"do_lower_case": false}')
    reference = BertTokenizer.from_pretrained(str(tmp_path))
    wp = BertWordPiece(read_vocabulary(tmp_path / "vocab.txt"))
    texts = ["fox foxes", "x"]
    assert wp.tokenize(tf.constant(texts)).to_list() == reference(
        texts, add_special_tokens=False)["input_ids"]


def test_invalid_utf8_bytes_are_dropped_without_crash():
    wp = BertWordPiece(["[PAD]", "[UNK]", "ab", "##cd", "cd"])
    texts = tf.constant([b"ab\xffcd", b"\xc3", b"ab \xe2\x82 cd"])
    assert wp.tokenize(texts).to_list() == [[2, 3], [], [2, 4]]
    ids, starts, ends = wp.tokenize_with_offsets(texts)
    # Each invalid sequence (here one byte, and a truncated 3-byte character) counts as one
    # character of the input.
    assert starts.to_list() == [[0, 3], [], [0, 5]]
    assert ends.to_list() == [[2, 5], [], [2, 7]]


def test_vocabulary_without_unknown_token_is_rejected():
    with pytest.raises(ValueError, match=r"unknown token '\[UNK\]'"):
        BertWordPiece(["a", "b"])


def test_unreadable_vocabulary_file_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="Cannot read the vocabulary file"):
        read_vocabulary(tmp_path / "missing.txt")
    bad = tmp_path / "vocab.txt"
    bad.write_bytes(b"[PAD]\n\xff\xfe\n")
    with pytest.raises(ValueError, match="UTF-8"):
        read_vocabulary(bad)


# --- The fast path of `tokenize` (issue 16) ------------------------------------------------
# Strings of printable ASCII but "[" and Hangul (compatibility jamo, syllables), with no run
# of letters long enough to pass the 100-character word limit, skip the exact normaliser.
# Every code point of the blocks around the switch's boundaries (ASCII and Latin-1, Hangul
# jamo, CJK punctuation and compatibility jamo, every syllable, halfwidth and fullwidth forms)
# sits inside a fast text; one character vocabulary makes any normalisation difference a
# different id.

FAST_CHARS = set(chr(c) for c in range(0x20, 0x7F) if c != 0x5B) | set(
    chr(c) for c in list(range(0x3131, 0x318F)) + list(range(0xAC00, 0xD7A4)))
BOUNDARY_BLOCKS = [(0x0, 0x3FF), (0x1100, 0x11FF), (0x3000, 0x33FF), (0xA960, 0xA97F),
                   (0xAC00, 0xD7FF), (0xFF00, 0xFFFF)]


def boundary_texts():
    chars = [chr(c) for first, last in BOUNDARY_BLOCKS for c in range(first, last + 1)]
    chars += [c for c in FUZZ_POOL if len(c) == 1 and c not in chars]
    return chars, [f"가A{c}b 나" for c in chars]


@pytest.fixture(scope="module", params=[
    pytest.param(setting, id=setting[0], marks=() if setting[0] in ("cased", "uncased")
                 else pytest.mark.slow)
    for setting in [s for s in __import__("fuzz_encoder").SETTINGS if s[3]]])
def boundary_pair(request, tmp_path_factory):
    import fuzz_encoder

    _, texts = boundary_texts()
    name, lowercase, strip_accents, chinese = request.param
    vocabulary = fuzz_encoder.char_vocabulary(texts, [request.param])
    reference = fuzz_encoder.reference_tokenizer(
        tmp_path_factory.mktemp(name), vocabulary, lowercase, strip_accents, chinese)
    return reference, BertWordPiece(vocabulary, lowercase=lowercase,
                                    strip_accents=strip_accents, tokenize_chinese_chars=chinese)


def test_every_code_point_at_the_fast_path_boundary_matches_transformers(boundary_pair):
    reference, wp = boundary_pair
    chars, texts = boundary_texts()
    fast = wp.fast_path(tf.constant(texts)).numpy().tolist()
    # The switch takes exactly the documented characters; both sides are exercised.
    assert fast == [c in FAST_CHARS for c in chars]
    assert sum(fast) > 11000 and len(fast) - sum(fast) > 2000
    for begin in range(0, len(texts), 4000):
        assert_same(reference, wp, texts[begin:begin + 4000])


def test_fast_path_word_length_limit_matches_transformers(boundary_pair):
    # NFD makes a Hangul syllable up to 3 characters: with accents stripped, runs of 34+
    # letters go through the exact path, which applies the 100-character limit.
    reference, wp = boundary_pair
    texts = ["각" * 33, "각" * 34, "가" * 34, "가" * 50, "a" * 100, "a" * 101, "각" * 100,
             "각" * 101, "a" * 33 + "각", "각" * 33 + "!" + "각" * 33, ("각" * 33 + " ") * 3,
             "A" * 34 + "-" + "1" * 100, "1" * 101]
    assert_same(reference, wp, texts)
    fast = wp.fast_path(tf.constant(texts)).numpy().tolist()
    if wp.strip_accents:
        assert fast[:4] == [True, False, False, False]
    else:
        assert fast[:8] == [True, True, True, True, True, False, True, False]


def test_fast_path_batches_all_fast_all_exact_and_empty(boundary_pair):
    reference, wp = boundary_pair
    for texts in (["가A b 나", "AbC, 가나다!"], ["가A\u00e9b 나", "[CLS] 가"], ["", "가A", " "]):
        assert_same(reference, wp, texts)
    empty = wp.tokenize(tf.constant([], tf.string))
    assert empty.shape[0] == 0 and empty.flat_values.shape[0] == 0
