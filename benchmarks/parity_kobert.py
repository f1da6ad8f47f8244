"""Token-id parity of `SentencePieceEncoder(layout="kobert")` over all of NSMC and the KLUE data.

The reference ids come from the reference venv (the slow XLNetTokenizer's pre-processing +
the `sentencepiece` package + KoBERT's special tokens, on tests/golden/kobert/spiece.model):

    .refvenv/bin/python tests/golden/kobert/make_kobert_golden.py --full /tmp/kobert.json
    python benchmarks/parity_kobert.py /tmp/kobert.json [--limit N]

Counts the texts (every NSMC review, train and test, and every KLUE-NER sentence) and the
KLUE-NLI / KLUE-STS sentence pairs whose ids differ (no truncation).
"""

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bertcls import SentencePieceEncoder  # noqa: E402

BATCH = 2048


def unpadded(out):
    ids, mask = out["input_ids"].numpy(), out["attention_mask"].numpy()
    return [row[m == 1].tolist() for row, m in zip(ids, mask)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reference", help="the JSON make_kobert_golden.py --full wrote")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    reference = json.load(open(args.reference, encoding="utf-8"))
    texts, expected = reference["texts"][:args.limit], reference["ids"][:args.limit]
    pairs, pair_expected = reference["pairs"][:args.limit], reference["pair_ids"][:args.limit]
    encoder = SentencePieceEncoder(str(REPO / "tests" / "golden" / "kobert" / "spiece.model"),
                                   layout="kobert", max_seq_len=4096, padding="longest")
    start = time.perf_counter()
    bad = []
    for begin in range(0, len(texts), BATCH):
        got = unpadded(encoder(tf.constant(texts[begin:begin + BATCH])))
        bad += [begin + i for i, (a, b) in enumerate(zip(got, expected[begin:begin + BATCH]))
                if a != b]
    for begin in range(0, len(pairs), BATCH):
        chunk = pairs[begin:begin + BATCH]
        got = unpadded(encoder((tf.constant([a for a, _ in chunk]),
                                tf.constant([b for _, b in chunk]))))
        bad += [f"pair {begin + i}" for i, (a, b)
                in enumerate(zip(got, pair_expected[begin:begin + BATCH])) if a != b]
    seconds = time.perf_counter() - start
    print(f"{len(texts)} texts and {len(pairs)} pairs in {seconds:.0f} s: {len(bad)} differ")
    for i in bad[:5]:
        print("  ", i, repr(texts[i])[:80] if isinstance(i, int) else "")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
