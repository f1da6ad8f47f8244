"""Token-id parity of bertcls with transformers' BertTokenizer over all NSMC reviews.

For each vocabulary in tests/data (cased, uncased) it tokenises every review of
../shared/data/nsmc (train + test) with `transformers.BertTokenizer.from_pretrained(dir)` and
with `bertcls.BertWordPiece` (no truncation, no special tokens: the full token sequence) and
counts the reviews whose ids differ; with `--offsets` also the reviews whose character offsets
differ from the fast tokenizer's `offset_mapping`. Also checks `FeatureEncoder` against the
tutorial's call (`max_length=128, padding="max_length", truncation=True`). With `--keras-hub`
it counts the same for keras-hub's `WordPieceTokenizer` (for comparison; not bertcls).

    python benchmarks/parity_nsmc.py [--limit N] [--offsets] [--keras-hub] [--json out.json]
"""

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from transformers import BertTokenizer  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import bertcls  # noqa: E402

NSMC = REPO.parent / "shared" / "data" / "nsmc"
VOCABS = {"cased": REPO / "tests" / "data" / "nsmc_cased",
          "uncased": REPO / "tests" / "data" / "nsmc_uncased"}
BATCH = 4096


def read_nsmc(nsmc=NSMC):
    """All review texts of ratings_train.txt then ratings_test.txt, in file order.

    Lines end with "\n" only: some reviews contain a bare "\r" (csv readers split there).
    """
    documents = []
    for name in ("ratings_train.txt", "ratings_test.txt"):
        with open(pathlib.Path(nsmc) / name, encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")[1:]
        documents += ["\t".join(line.split("\t")[1:-1]) for line in lines if line]
    return documents


def ragged_rows(tensor):
    """Rows as lists of ints (keras-hub may already hand back Python lists)."""
    rows = tensor.to_list() if hasattr(tensor, "to_list") else tensor
    return [list(row) for row in rows]


def keras_hub_differences(directory, documents):
    import keras_hub

    reference = BertTokenizer.from_pretrained(str(directory))
    lowercase = reference.backend_tokenizer.normalizer.lowercase
    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=str(directory / "vocab.txt"), lowercase=lowercase, strip_accents=lowercase)
    differences = 0
    for begin in range(0, len(documents), BATCH):
        batch = documents[begin:begin + BATCH]
        expected = reference(batch, add_special_tokens=False)["input_ids"]
        ours = ragged_rows(tokenizer(tf.constant(batch)))
        differences += sum(a != b for a, b in zip(ours, expected))
    return differences


def compare(directory, documents, offsets=False, examples=3):
    reference = BertTokenizer.from_pretrained(str(directory))
    encoder = bertcls.FeatureEncoder.from_preset(directory)
    result = {"documents": len(documents), "id_differences": 0, "examples": []}
    if offsets:
        result["offset_differences"] = 0
    result["encoder_differences"] = 0
    for begin in range(0, len(documents), BATCH):
        batch = documents[begin:begin + BATCH]
        ref = reference(batch, add_special_tokens=False, return_offsets_mapping=offsets)
        if offsets:
            ids, starts, ends = encoder.tokenizer.tokenize_with_offsets(tf.constant(batch))
            starts, ends = ragged_rows(starts), ragged_rows(ends)
        else:
            ids = encoder.tokenizer.tokenize(tf.constant(batch))
        ids = ragged_rows(ids)
        for i, text in enumerate(batch):
            if ids[i] != ref["input_ids"][i]:
                result["id_differences"] += 1
                if len(result["examples"]) < examples:
                    result["examples"].append({"text": text, "ours": ids[i],
                                               "reference": ref["input_ids"][i]})
            if offsets and [list(p) for p in ref["offset_mapping"][i]] != [
                    [s, e] for s, e in zip(starts[i], ends[i])]:
                result["offset_differences"] += 1
        full = reference(batch, max_length=128, padding="max_length", truncation=True)
        ours = encoder(tf.constant(batch))
        same = np.ones(len(batch), bool)
        for key in ("input_ids", "attention_mask", "token_type_ids"):
            same &= np.all(np.asarray(full[key]) == ours[key].numpy(), axis=1)
        result["encoder_differences"] += int((~same).sum())
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N reviews only")
    parser.add_argument("--offsets", action="store_true", help="also compare offsets")
    parser.add_argument("--keras-hub", action="store_true",
                        help="also count keras-hub WordPieceTokenizer's differences")
    parser.add_argument("--json", default=None, help="write the counts to this file")
    args = parser.parse_args()
    documents = read_nsmc()[:args.limit]
    report = {}
    for name, directory in VOCABS.items():
        start = time.time()
        report[name] = compare(directory, documents, offsets=args.offsets)
        report[name]["seconds"] = round(time.time() - start, 1)
        if args.keras_hub:
            report[name]["keras_hub_id_differences"] = keras_hub_differences(
                directory, documents)
        counts = {k: v for k, v in report[name].items() if k != "examples"}
        print(name, json.dumps(counts))
        for example in report[name]["examples"]:
            print("  ", json.dumps(example, ensure_ascii=False)[:400])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, ensure_ascii=False, indent=2)
    if any(r["id_differences"] or r.get("offset_differences") or r["encoder_differences"]
           for r in report.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
