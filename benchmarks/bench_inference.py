"""Inference: batch examples/s and single-sentence latency, the tutorial's way versus
`BertClassifier.predict_texts` / `predict_text`, on the same model in one run.

For each model configuration (see benchmarks/common.py: the real all-MiniLM-L6-v2
checkpoint, and `klue_small`, a random-init klue/bert-base-shaped BERT on the 32k NSMC
vocabulary), on a seeded sample of NSMC test reviews (missing rows dropped):

1. batch, the tutorial's way: `convert_examples_to_features` (a per-example
   `BertTokenizer.encode(text, max_length=128, padding="max_length", truncation=True)` loop
   with the attention mask and segment ids built in Python), then
   `model.predict(features, batch_size=B)` (the tutorial's `evaluate` used B = 1024);
2. batch, bertcls: `model.predict_texts(texts, batch_size=B)` (encoding in the graph,
   length-sorted batches padded to a multiple of 16, one compiled forward pass);
   the probabilities of 1 and 2 are compared (max abs difference, label agreement);
3. single sentence, the tutorial's `sentiment_predict`: encode one review to 128 as above,
   then `model.predict` on a batch of one; versus `model.predict_text(text)`. Both are warmed
   up first, then called alternately (which one goes first alternates too) on each review;
   p50 / p99 / mean latency are reported.

Every path is called once on a few reviews before it is timed (tracing is reported apart).
The tutorial's fixed-128 forward pass is slow on a 2-core CPU, so `--minilm-texts` defaults
to fewer reviews than `--texts`; both paths of a model always see the same reviews.
Results go to benchmarks/results/inference.json.

    python benchmarks/bench_inference.py [--texts 10000] [--minilm-texts 2000]
        [--batch-sizes 1024,64] [--sentences 200] [--models minilm,klue_small]
"""

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402

WARMUP_TEXTS = 64
WARMUP_CALLS = 10


def sentiment_predict(model, tokenizer, sentence, max_seq_len=common.MAX_SEQ_LEN):
    """The tutorial's `sentiment_predict` without the prints: the score of one review."""
    input_id = tokenizer.encode(sentence, max_length=max_seq_len, padding="max_length",
                                truncation=True)
    padding_count = input_id.count(tokenizer.pad_token_id)
    attention_mask = [1] * (max_seq_len - padding_count) + [0] * padding_count
    token_type_id = [0] * max_seq_len
    encoded_input = {"input_ids": np.array([input_id]),
                     "attention_mask": np.array([attention_mask]),
                     "token_type_ids": np.array([token_type_id])}
    return float(model.predict(encoded_input, verbose=0)[0][0])


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def batch_inference(model, tokenizer, texts, batch_size):
    """Tutorial path and `predict_texts` on the same texts, tutorial first."""
    row = {"texts": len(texts), "batch_size": batch_size}
    features, encode_seconds = timed(lambda: common.tutorial_features(tokenizer, texts))
    load = os.getloadavg()
    tutorial, predict_seconds = timed(
        lambda: model.predict(features, batch_size=batch_size, verbose=0))
    ours, ours_seconds = timed(lambda: model.predict_texts(texts, batch_size=batch_size))
    tutorial = tutorial[:, 0].astype(np.float64)
    total = encode_seconds + predict_seconds
    real = features["attention_mask"].sum()
    row.update({
        "tutorial_encode_seconds": round(encode_seconds, 2),
        "tutorial_predict_seconds": round(predict_seconds, 2),
        "tutorial_examples_per_s": round(len(texts) / total, 1),
        "tutorial_model_only_examples_per_s": round(len(texts) / predict_seconds, 1),
        "tutorial_padding_share": round(1 - real / features["attention_mask"].size, 3),
        "predict_texts_seconds": round(ours_seconds, 2),
        "predict_texts_examples_per_s": round(len(texts) / ours_seconds, 1),
        "speedup_end_to_end": round(total / ours_seconds, 2),
        "speedup_vs_model_predict_only": round(predict_seconds / ours_seconds, 2),
        "max_abs_probability_difference": float(
            np.abs(tutorial - ours["probabilities"].astype(np.float64)).max()),
        "label_agreement": float(((tutorial > 0.5).astype(int) == ours["labels"]).mean()),
        "load_average_before": load,
        "load_average_after": os.getloadavg(),
    })
    return row


def latency(model, tokenizer, sentences):
    """Alternating single-sentence calls; seconds per call for each path."""
    for sentence in sentences[:WARMUP_CALLS]:
        sentiment_predict(model, tokenizer, sentence)
        model.predict_text(sentence)
    tutorial, ours, diffs = [], [], []
    load = os.getloadavg()
    for i, sentence in enumerate(sentences):
        calls = [("tutorial", lambda: sentiment_predict(model, tokenizer, sentence)),
                 ("ours", lambda: model.predict_text(sentence)[1])]
        if i % 2:
            calls.reverse()
        scores = {}
        for name, call in calls:
            scores[name], seconds = timed(call)
            (tutorial if name == "tutorial" else ours).append(seconds)
        diffs.append(abs(scores["tutorial"] - float(scores["ours"])))

    def summary(seconds):
        return {"p50_ms": common.percentile_ms(seconds, 50),
                "p99_ms": common.percentile_ms(seconds, 99),
                "mean_ms": round(float(np.mean(seconds)) * 1000, 2)}

    row = {"sentences": len(sentences), "tutorial_sentiment_predict": summary(tutorial),
           "predict_text": summary(ours)}
    row["p50_ratio"] = round(row["predict_text"]["p50_ms"]
                             / row["tutorial_sentiment_predict"]["p50_ms"], 3)
    row["p99_ratio"] = round(row["predict_text"]["p99_ms"]
                             / row["tutorial_sentiment_predict"]["p99_ms"], 3)
    row["max_abs_probability_difference"] = float(max(diffs))
    row["load_average_before"] = load
    row["load_average_after"] = os.getloadavg()
    return row


def run_model(name, texts, batch_sizes, sentences):
    import keras
    from transformers import BertTokenizer

    keras.utils.set_random_seed(common.SEED)
    model = common.build_classifier(name)
    tokenizer = BertTokenizer.from_pretrained(str(common.vocabulary_dir(name)))
    encoder = model.encoder
    result = {"model": common.describe_model(name),
              "token_lengths": common.length_summary(common.token_lengths(encoder, texts))}

    # First calls (tracing, data-adapter set-up), reported apart.
    warm = texts[:WARMUP_TEXTS]
    first = {}
    _, first["model_predict_seconds"] = timed(
        lambda: model.predict(common.tutorial_features(tokenizer, warm), batch_size=64, verbose=0))
    _, first["predict_texts_seconds"] = timed(lambda: model.predict_texts(warm, batch_size=64))
    _, first["sentiment_predict_seconds"] = timed(
        lambda: sentiment_predict(model, tokenizer, warm[0]))
    _, first["predict_text_seconds"] = timed(lambda: model.predict_text(warm[0]))
    result["first_calls"] = {k: round(v, 2) for k, v in first.items()}

    result["batch"] = []
    for batch_size in batch_sizes:
        print(f"  {name}: batch inference, {len(texts)} texts, batch {batch_size}", flush=True)
        result["batch"].append(batch_inference(model, tokenizer, texts, batch_size))
    print(f"  {name}: single-sentence latency, {len(sentences)} sentences", flush=True)
    result["latency"] = latency(model, tokenizer, sentences)
    return result


def print_table(models):
    print(f"{'model':11s} {'batch':>5s} {'texts':>6s} {'tutorial ex/s':>13s} "
          f"{'predict_texts ex/s':>18s} {'speedup':>7s} {'max |dp|':>9s}")
    for name, result in models.items():
        for row in result["batch"]:
            print(f"{name:11s} {row['batch_size']:5d} {row['texts']:6d} "
                  f"{row['tutorial_examples_per_s']:13.1f} "
                  f"{row['predict_texts_examples_per_s']:18.1f} "
                  f"{row['speedup_end_to_end']:7.2f} "
                  f"{row['max_abs_probability_difference']:9.2e}")
    print(f"{'model':11s} {'sentiment_predict p50/p99 ms':>28s} {'predict_text p50/p99 ms':>24s} "
          f"{'p50 ratio':>9s} {'p99 ratio':>9s}")
    for name, result in models.items():
        row = result["latency"]
        a, b = row["tutorial_sentiment_predict"], row["predict_text"]
        print(f"{name:11s} {a['p50_ms']:13.1f} / {a['p99_ms']:12.1f} "
              f"{b['p50_ms']:10.1f} / {b['p99_ms']:11.1f} "
              f"{row['p50_ratio']:9.3f} {row['p99_ratio']:9.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(common.MODELS))
    parser.add_argument("--texts", type=int, default=10000,
                        help="test reviews for batch inference (klue_small)")
    parser.add_argument("--minilm-texts", type=int, default=2000,
                        help="test reviews for batch inference with minilm (the first N of "
                             "the same sample)")
    parser.add_argument("--batch-sizes", default="1024,64",
                        help="comma-separated batch sizes for both batch paths")
    parser.add_argument("--sentences", type=int, default=200,
                        help="reviews timed one at a time")
    parser.add_argument("--out", default=str(common.REPO / "benchmarks" / "results"
                                             / "inference.json"))
    args = parser.parse_args()
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    started = time.perf_counter()
    report = common.report_header()
    texts, _ = common.nsmc_slice("test", max(args.texts, args.minilm_texts), seed=2)
    sentences, _ = common.nsmc_slice("test", args.sentences, seed=3)
    report["setup"] = {
        "max_seq_len": common.MAX_SEQ_LEN,
        "texts": "NSMC test, missing rows dropped, seeded sample (seed 2)",
        "sentences": f"NSMC test, seeded sample (seed 3) of {args.sentences}",
        "texts_per_model": {"minilm": args.minilm_texts, "klue_small": args.texts},
        "tokenizer_for_tutorial_path": "transformers.BertTokenizer.from_pretrained(vocab dir)",
    }
    models = {}
    for name in names:
        print(f"running {name} ...", flush=True)
        n = args.minilm_texts if name == "minilm" else args.texts
        models[name] = run_model(name, texts[:n], batch_sizes, sentences)
    report["results"] = models
    print_table(models)
    common.finish_report(report, time.perf_counter() - started, args.out)


if __name__ == "__main__":
    main()
