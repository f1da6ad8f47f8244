"""Differential fuzzing of `bertcls.FeatureEncoder` against transformers' `BertTokenizer`.

Random texts drawn across Unicode blocks (Hangul syllables and jamo, Latin with combining
marks, Greek with capital sigma, CJK ideographs up to the extension blocks, emoji with ZWJ,
skin tones, flags and tag sequences, every whitespace, control and format kind, special
tokens written in the text, words past the 100-character limit, any code point at all),
single texts and pairs, `max_seq_len` from 8 to 512 (so truncation cuts them), encoded by both:
input ids, token types, attention mask and (with `return_offsets=True`) the offsets, on the
path without offsets and the path with them.

Vocabularies: the NSMC cased and uncased fixtures (`tests/data/nsmc_*`), and one made of
every character of the round's texts and of their normalised forms, alone and as a `##`
continuation: with it a normalisation difference shows up as different ids instead of
`[UNK]` on both sides. Normaliser settings: cased, uncased (accents stripped), strip accents
only, lowercase keeping accents, with and without `tokenize_chinese_chars`.

Every difference (ids, token types, mask or offsets) counts; there is no list of known
ones.

    python benchmarks/fuzz_encoder.py --seconds 1800 [--seed 0] [--out PATH]

The result JSON (counts per configuration, the first differences) goes to
benchmarks/results/fuzz_encoder.json; tests/test_encoder_fuzz.py runs a seeded slice.
"""

import argparse
import json
import os
import pathlib
import platform
import random
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from tokenizers import normalizers  # noqa: E402
from transformers import BertTokenizer  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import bertcls  # noqa: E402

DATA = REPO / "tests" / "data"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


# === Random text ===

def _block(first, last):
    return (first, last)


BLOCKS = {
    "hangul": [_block(0xAC00, 0xD7A3)],
    "jamo": [_block(0x1100, 0x11FF), _block(0x3130, 0x318F), _block(0xA960, 0xA97F),
             _block(0xD7B0, 0xD7FF)],
    "latin": [_block(0x41, 0x5A), _block(0x61, 0x7A), _block(0xC0, 0x24F),
              _block(0x1E00, 0x1EFF)],
    "marks": [_block(0x300, 0x36F), _block(0x1AB0, 0x1AFF), _block(0x1DC0, 0x1DFF),
              _block(0x20D0, 0x20FF), _block(0xFE20, 0xFE2F), _block(0x302A, 0x302F),
              _block(0x1D165, 0x1D172), _block(0x8D3, 0x8FF), _block(0x1E000, 0x1E02A),
              _block(0x1E944, 0x1E94A), _block(0x93C, 0x94D), _block(0x1B44, 0x1B44)],
    "greek": [_block(0x370, 0x3FF), _block(0x1F00, 0x1FFF), _block(0x3A3, 0x3A3)],
    "cjk": [_block(0x4E00, 0x9FFF), _block(0x3400, 0x4DBF), _block(0x20000, 0x2A6DF),
            _block(0x2A700, 0x2EBEF), _block(0x30000, 0x323AF), _block(0xF900, 0xFAFF),
            _block(0x2F800, 0x2FA1F), _block(0x3040, 0x30FF)],
    "emoji": [_block(0x1F300, 0x1FAFF), _block(0x2600, 0x27BF), _block(0x1F1E6, 0x1F1FF),
              _block(0x1F3FB, 0x1F3FF), _block(0x200D, 0x200D), _block(0xFE0F, 0xFE0F),
              _block(0xE0020, 0xE007F)],
    "space": [_block(0x9, 0xD), _block(0x20, 0x20), _block(0x85, 0x85), _block(0xA0, 0xA0),
              _block(0x1680, 0x1680), _block(0x2000, 0x200A), _block(0x2028, 0x2029),
              _block(0x202F, 0x202F), _block(0x205F, 0x205F), _block(0x3000, 0x3000),
              _block(0x180E, 0x180E), _block(0x200B, 0x200B), _block(0xFEFF, 0xFEFF)],
    "control": [_block(0x0, 0x1F), _block(0x7F, 0x9F), _block(0xAD, 0xAD),
                _block(0x600, 0x605), _block(0x61C, 0x61C), _block(0x200C, 0x200F),
                _block(0x202A, 0x202E), _block(0x2060, 0x206F), _block(0xFFF9, 0xFFFD),
                _block(0xE000, 0xE002), _block(0xF0000, 0xF0002), _block(0x10FFFD, 0x10FFFF),
                _block(0xE0001, 0xE0001), _block(0xFFFE, 0xFFFF)],
    "punctuation": [_block(0x21, 0x2F), _block(0x3A, 0x40), _block(0x5B, 0x60),
                    _block(0x7B, 0x7E), _block(0x2010, 0x2027), _block(0x3001, 0x3003),
                    _block(0xFF01, 0xFF0F)],
    "digits": [_block(0x30, 0x39), _block(0xFF10, 0xFF19), _block(0x660, 0x669)],
    "any": [_block(0x0, 0xD7FF), _block(0xE000, 0x10FFFF)],
}
WORD_KINDS = ["hangul", "hangul", "jamo", "latin", "latin", "greek", "cjk", "emoji", "digits",
              "marks", "any"]


def _char(rng, kind):
    first, last = rng.choice(BLOCKS[kind])
    return chr(rng.randint(first, last))


def random_word(rng):
    kind = rng.choice(WORD_KINDS)
    roll = rng.random()
    if roll < 0.03:  # past the 100-character limit, or just under it
        n = rng.choice([99, 100, 101, 102, 150])
        return "".join(_char(rng, kind) for _ in range(n))
    if roll < 0.06:
        return rng.choice(SPECIALS + ["[cls]", "[MASK", "[CL\u200bS]"])
    word = []
    for _ in range(rng.randint(1, 8)):
        word.append(_char(rng, kind))
        if rng.random() < 0.25:  # a mark, a removed character or emoji glue inside a word
            word.append(_char(rng, rng.choice(["marks", "marks", "control", "emoji"])))
    return "".join(word)


def random_text(rng, max_words=12):
    parts = []
    for _ in range(rng.randint(0, max_words)):
        parts.append(random_word(rng))
        separator = rng.choice(["space", "space", "space", "punctuation", "control"])
        parts.append(_char(rng, separator))
    return "".join(parts)


# === Configurations ===

SETTINGS = [  # (name, lowercase, strip_accents, tokenize_chinese_chars)
    ("cased", False, False, True),
    ("uncased", True, None, True),
    ("strip-only", False, True, True),
    ("lower-keep-accents", True, False, True),
    ("uncased-no-cjk", True, None, False),
]


def reference_normalizer(lowercase, strip_accents, chinese):
    strip = lowercase if strip_accents is None else strip_accents
    return normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=chinese,
                                      strip_accents=strip, lowercase=lowercase)


def char_vocabulary(texts, settings):
    """Specials plus every character of `texts` and of their normalised forms, alone and as
    a `##` continuation."""
    chars = set()
    for text in texts:
        chars.update(text)
        for _, lowercase, strip, chinese in settings:
            chars.update(reference_normalizer(lowercase, strip, chinese).normalize_str(text))
    chars = sorted(c for c in chars if not c.isspace() and c not in "\r\n")
    return SPECIALS + chars + ["##" + c for c in chars]


def reference_tokenizer(directory, vocabulary, lowercase, strip_accents, chinese):
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    config = {"do_lower_case": lowercase, "strip_accents": strip_accents,
              "tokenize_chinese_chars": chinese}
    (directory / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return BertTokenizer.from_pretrained(str(directory))


# === Comparison ===

def compare(reference, vocabulary, setting, batches):
    """Differences between bertcls and transformers, both encoder paths.

    `batches`: `(texts, pairs or None, max_seq_len)` triples."""
    _, lowercase, strip_accents, chinese = setting
    found = {"texts": 0, "differ": 0, "examples": []}
    for offsets in (False, True):
        encoders = {}
        for texts, pairs, max_seq_len in batches:
            if max_seq_len not in encoders:
                encoders[max_seq_len] = bertcls.FeatureEncoder(
                    vocabulary, lowercase=lowercase, strip_accents=strip_accents,
                    tokenize_chinese_chars=chinese, max_seq_len=max_seq_len,
                    return_offsets=offsets)
            args = (texts,) if pairs is None else (texts, pairs)
            expected = reference(*args, max_length=max_seq_len, truncation=True,
                                 padding="max_length", return_offsets_mapping=True)
            got = encoders[max_seq_len](texts if pairs is None else (texts, pairs))
            got = {k: np.asarray(v) for k, v in got.items()}
            found["texts"] += len(texts) if offsets else 0
            for i in range(len(texts)):
                same = all(got[k][i].tolist() == expected[k][i]
                           for k in ("input_ids", "token_type_ids", "attention_mask"))
                if offsets:
                    same = same and got["offsets"][i].tolist() == [
                        list(p) for p in expected["offset_mapping"][i]]
                if same:
                    continue
                found["differ"] += 1
                if len(found["examples"]) < 5:
                    found["examples"].append({
                        "text": texts[i], "pair": None if pairs is None else pairs[i],
                        "offsets_path": offsets, "max_seq_len": max_seq_len,
                        "ours": got["input_ids"][i].tolist(),
                        "transformers": expected["input_ids"][i]})
    return found


def fuzz_round(rng, workdir, n_texts=64, vocabularies=("chars", "nsmc")):
    """One round: fresh texts, alone and as pairs, each with a `max_seq_len` drawn from
    8 to 512; every setting with a character vocabulary and an NSMC one."""
    texts = [random_text(rng) for _ in range(n_texts)]
    firsts = [random_text(rng, 6) for _ in range(n_texts)]
    seconds = [random_text(rng, 6) for _ in range(n_texts)]
    lengths = [8, 24, 64, 128, 512]
    batches = [(texts, None, rng.choice(lengths)), (firsts, seconds, rng.choice(lengths))]
    chars = char_vocabulary(texts + firsts + seconds, SETTINGS)
    results = {}
    for setting in SETTINGS:
        name, lowercase, strip_accents, chinese = setting
        for vocab_name in vocabularies:
            if vocab_name == "chars":
                vocabulary = chars
            else:
                source = DATA / ("nsmc_uncased" if lowercase else "nsmc_cased") / "vocab.txt"
                vocabulary = source.read_text(encoding="utf-8").split("\n")
                vocabulary = vocabulary[:-1] if vocabulary[-1] == "" else vocabulary
            reference = reference_tokenizer(
                pathlib.Path(workdir) / f"{name}-{vocab_name}", vocabulary, lowercase,
                strip_accents, chinese)
            results[f"{name}/{vocab_name}"] = compare(reference, vocabulary, setting, batches)
    return results


def run(seed, seconds=None, rounds=None, n_texts=64, vocabularies=("chars", "nsmc")):
    """Fuzz until `seconds` pass or `rounds` are done; totals per configuration."""
    rng = random.Random(seed)
    totals = {}
    started, done = time.time(), 0
    with tempfile.TemporaryDirectory() as workdir:
        while (rounds is None or done < rounds) and (
                seconds is None or time.time() - started < seconds):
            for key, found in fuzz_round(rng, workdir, n_texts, vocabularies).items():
                total = totals.setdefault(key, {"texts": 0, "differ": 0, "examples": []})
                for field in ("texts", "differ"):
                    total[field] += found[field]
                total["examples"] = (total["examples"] + found["examples"])[:5]
            done += 1
    return {"seed": seed, "rounds": done, "seconds": round(time.time() - started, 1),
            "texts_per_configuration": totals[next(iter(totals))]["texts"] if totals else 0,
            "differ": sum(t["differ"] for t in totals.values()),
            "configurations": totals}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1800)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--texts-per-round", type=int, default=64)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"
                                             / "fuzz_encoder.json"))
    args = parser.parse_args(argv)
    result = run(args.seed, seconds=args.seconds, n_texts=args.texts_per_round)
    import tensorflow as tf
    import tokenizers
    import transformers
    result["command"] = "python benchmarks/fuzz_encoder.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    result["versions"] = {"tensorflow": tf.__version__, "tokenizers": tokenizers.__version__,
                          "transformers": transformers.__version__,
                          "python": platform.python_version()}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=True, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "configurations"}, indent=1))
    return 1 if result["differ"] else 0


if __name__ == "__main__":
    sys.exit(main())
