"""Token-id parity of bertcls' SentencePieceEncoder over all of NSMC and the shared KLUE data.

Trains SentencePiece models with the `sentencepiece` package on the first 5,000 NSMC training
reviews (unigram and BPE, 800 and 3,000 pieces), then tokenises every NSMC review (train + test)
and every KLUE-NER / KLUE-NLI / KLUE-STS sentence (no truncation, no special tokens) with:

- `SentencePieceEncoder` (XLM-R layout) and, as the reference, transformers 5's
  `XLMRobertaTokenizer.from_pretrained(dir)` for unigram models and the `sentencepiece` package
  for BPE models (transformers reads a BPE .model as a Unigram model);
- for comparison, the `sentencepiece` package and tensorflow-text's `SentencepieceTokenizer`
  and `FastSentencepieceTokenizer` against the same references (these are not bertcls).

Counts the texts whose ids differ (and, for bertcls on unigram models, whose offsets differ).

    python benchmarks/parity_sentencepiece.py [--limit N] [--json out.json]
"""

import argparse
import json
import os
import pathlib
import re
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sentencepiece as spm  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text as tf_text  # noqa: E402
from transformers import XLMRobertaTokenizer  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import bertcls  # noqa: E402

DATA = REPO.parent / "shared" / "data"
BATCH = 2048


def read_texts():
    texts = []
    for name in ("ratings_train.txt", "ratings_test.txt"):
        with open(DATA / "nsmc" / name, encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")[1:]
        texts += ["\t".join(line.split("\t")[1:-1]) for line in lines if line]
    for line in open(DATA / "klue-ner" / "klue-ner-v1.1_dev.tsv", encoding="utf-8"):
        if line.startswith("## klue-ner") and "\t" in line:
            sentence = line.split("\t", 1)[1].rstrip("\n")
            texts.append(re.sub(r"<([^<>]*?):[A-Z]{2}>", r"\1", sentence))
    for name, keys in (("klue-nli/klue-nli-v1.1_dev.json", ("premise", "hypothesis")),
                       ("klue-sts/klue-sts-v1.1_dev.json", ("sentence1", "sentence2"))):
        for row in json.load(open(DATA / name, encoding="utf-8")):
            texts += [row[k] for k in keys]
    return texts


def fairseq(ids):
    return [3 if i == 0 else i + 1 for i in ids]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    texts = read_texts()[:args.limit]
    corpus_texts = []
    with open(DATA / "nsmc" / "ratings_train.txt", encoding="utf-8") as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[1]:
                corpus_texts.append(parts[1])
            if len(corpus_texts) >= 5000:
                break
    work = pathlib.Path(tempfile.mkdtemp())
    (work / "corpus.txt").write_text("\n".join(corpus_texts) + "\n", encoding="utf-8")
    report = {"texts": len(texts)}
    for kind in ("unigram", "bpe"):
        for size in (800, 3000):
            name = f"{kind}{size}"
            spm.SentencePieceTrainer.train(
                input=str(work / "corpus.txt"), model_prefix=str(work / name), vocab_size=size,
                model_type=kind, character_coverage=0.98, minloglevel=2)
            path = str(work / f"{name}.model")
            processor = spm.SentencePieceProcessor(model_file=path)
            start = time.time()
            if kind == "unigram":
                directory = work / f"hf_{name}"
                directory.mkdir()
                (directory / "sentencepiece.bpe.model").write_bytes(open(path, "rb").read())
                hf = XLMRobertaTokenizer.from_pretrained(str(directory))
                encoded = hf(texts, add_special_tokens=False, return_offsets_mapping=True)
                reference = encoded["input_ids"]
                reference_offsets = [[list(o) for o in row] for row in encoded["offset_mapping"]]
                label = "transformers XLMRobertaTokenizer"
            else:
                reference = [fairseq(row) for row in processor.encode(texts)]
                reference_offsets = None
                label = "sentencepiece package"
            encoder = bertcls.SentencePieceEncoder(path, max_seq_len=100_000, padding="longest",
                                                   return_offsets=True)
            ours, offsets = [], []
            for begin in range(0, len(texts), BATCH):
                out = encoder(tf.constant(texts[begin:begin + BATCH]))
                mask = out["attention_mask"].numpy().astype(bool)
                ids = out["input_ids"].numpy()
                spans = out["offsets"].numpy()
                for row, m, o in zip(ids, mask, spans):
                    n = int(m.sum())
                    ours.append(row[1:n - 1].tolist())
                    offsets.append(o[1:n - 1].tolist())
            seconds = time.time() - start
            result = {
                "reference": label,
                "bertcls_id_differences": sum(a != b for a, b in zip(ours, reference)),
                "examples": [t for t, a, b in zip(texts, ours, reference) if a != b][:5],
                "seconds_total": round(seconds, 1),
            }
            if reference_offsets is not None:
                result["bertcls_offset_differences"] = sum(
                    a != b for a, b in zip(offsets, reference_offsets))
            result["sentencepiece_package_id_differences"] = sum(
                fairseq(a) != b for a, b in zip(processor.encode(texts), reference))
            model = open(path, "rb").read()
            for op_name, op in (("tf_text_SentencepieceTokenizer",
                                 tf_text.SentencepieceTokenizer(model=model)),
                                ("tf_text_FastSentencepieceTokenizer",
                                 tf_text.FastSentencepieceTokenizer(model))):
                rows = []
                for begin in range(0, len(texts), BATCH):
                    rows += op.tokenize(tf.constant(texts[begin:begin + BATCH])).to_list()
                result[f"{op_name}_id_differences"] = sum(
                    fairseq(a) != b for a, b in zip(rows, reference))
            report[name] = result
            print(name, json.dumps(result, ensure_ascii=False), flush=True)
            if args.json:  # after every model, so a partial run leaves its results
                with open(args.json, "w", encoding="utf-8") as f:
                    json.dump(report, f, indent=2, ensure_ascii=False)
                    f.write("\n")


if __name__ == "__main__":
    main()
