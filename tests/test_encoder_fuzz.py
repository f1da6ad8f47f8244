"""FeatureEncoder against transformers' BertTokenizer: the cases issue 12 named, and a seeded
slice of the differential fuzzer (benchmarks/fuzz_encoder.py; the long run is committed in
benchmarks/results/fuzz_encoder.json)."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))

import fuzz_encoder  # noqa: E402

# Final capital sigma (ICU's context rule), marks whose combining class only ICU knows
# (U+1AC4, U+1DF6...), marks that NFD moves in front of an accent (U+302E, U+1D166,
# Adlam U+1E944), a musical symbol that decomposes into such marks, mixed with text.
CASES = [
    "aΣ", "ΟΔΟΣ", "ΟΔΟΣ, ΣΟΦΙΑ Σ", "\u1dfb\u1ac4", "x\u0301\u1ac4\u0316", "e\u1df6\u0316",
    "a\u0301\u302e", "\u00e1\u302e", "a\u0301\u0316\u302eb", "\u0301\U0001d166",
    "가\u0300\u302e 나", "x\U0001d160\u0334y", "\U0001e900\U0001e944\u0301\U0001e94a",
    "ΟΔΟΣ \u1dfb\u1ac4 가\u0300\u302e [CLS] 東京",
]


@pytest.mark.parametrize("setting", fuzz_encoder.SETTINGS, ids=lambda s: s[0])
def test_named_cases_match_transformers_with_a_character_vocabulary(setting, tmp_path):
    vocabulary = fuzz_encoder.char_vocabulary(CASES, fuzz_encoder.SETTINGS)
    reference = fuzz_encoder.reference_tokenizer(tmp_path, vocabulary, *setting[1:])
    batches = [(CASES, None, 24), (CASES, CASES[::-1], 24), (CASES, CASES, 8)]
    found = fuzz_encoder.compare(reference, vocabulary, setting, batches)
    assert found["texts"] == 3 * len(CASES)
    assert found["differ"] == 0, found["examples"]


def test_fuzz_slice_matches_transformers():
    # One seeded round: 64 texts and 64 pairs x 5 normaliser settings x both encoder paths,
    # with the one-token-per-character vocabulary (the long run adds the NSMC ones).
    result = fuzz_encoder.run(seed=12, rounds=1, vocabularies=("chars",))
    assert result["rounds"] == 1 and result["texts_per_configuration"] == 128
    assert len(result["configurations"]) == 5
    assert result["differ"] == 0, {
        k: v["examples"] for k, v in result["configurations"].items() if v["differ"]}


def test_vocabulary_tokens_holding_nul_build_and_never_match(tmp_path):
    # The WordPiece builder stops at NUL; such tokens keep their id and match nothing, as in
    # transformers (cleaning removes NUL from every text).
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\x00", "##\x00", "a",
                  "##a", "b\x00c"]
    setting = fuzz_encoder.SETTINGS[0]
    reference = fuzz_encoder.reference_tokenizer(tmp_path, vocabulary, *setting[1:])
    texts = ["a\x00a", "\x00", "b\x00c", "a b"]
    found = fuzz_encoder.compare(reference, vocabulary, setting, [(texts, None, 8)])
    assert found["differ"] == 0, found["examples"]
