"""Documents per second turning NSMC reviews into BERT inputs (max_length 128, padded).

Over all 200,000 reviews of ../shared/data/nsmc in one run, with the cased NSMC vocabulary:

1. `tutorial_loop` (`common.tutorial_features`): the tutorial's per-example loop
   (`tokenizer.encode(text, max_length=128, padding="max_length", truncation=True)`, then
   the attention mask and segment ids built in Python, as `convert_examples_to_features` in
   ../shared/seed does);
2. `transformers_batch`: one batch call `tokenizer(texts, max_length=128,
   padding="max_length", truncation=True)`;
3. `feature_encoder_tf_data`: `bertcls.FeatureEncoder` in a tf.data pipeline
   (`from_tensor_slices(texts).batch(B).map(encoder, AUTOTUNE).prefetch(AUTOTUNE)`), iterated to
   the end; building the pipeline traces the encoder once (timed apart, with two warm-up
   batches) before the timed passes (`--repeat`, median reported).

Extra rows: the encoder with the uncased vocabulary, with MiniLM's own vocabulary (the
all-MiniLM-L6-v2 checkpoint's uncased English one, issue 16's configuration), with
`return_offsets=True` (cased and uncased), the same encoders with the fast path of
`BertWordPiece.tokenize` switched off (`*_exact_only`: every string through the exact
normaliser, as before issue 16), and keras-hub's `WordPieceTokenizer` (raw token ids only,
no packing) for reference. Each tf.data row also records the process CPU time of its median
pass (less disturbed by other processes on a shared machine than wall time).
Results go to benchmarks/results/encoder.json.

    python benchmarks/bench_encoder.py [--limit N] [--batch-size 1024] [--out PATH]
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import tensorflow as tf  # noqa: E402
from transformers import BertTokenizer  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import bertcls  # noqa: E402
import common  # noqa: E402
from parity_nsmc import VOCABS, read_nsmc  # noqa: E402

MAX_SEQ_LEN = 128


def transformers_batch(tokenizer, texts):
    return tokenizer(texts, max_length=MAX_SEQ_LEN, padding="max_length", truncation=True)


def tf_data_pipeline(fn, texts, batch_size):
    return (tf.data.Dataset.from_tensor_slices(texts).batch(batch_size)
            .map(fn, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))


def iterate(dataset):
    count = 0
    for batch in dataset:
        first = batch["input_ids"] if isinstance(batch, dict) else batch
        count += int(first.shape[0])
    return count


def timed(fn, n, repeat=1):
    """Median wall time of `repeat` runs of `fn` over `n` documents."""
    runs, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        runs.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    median = sorted(range(repeat), key=lambda i: runs[i])[repeat // 2]
    seconds = runs[median]
    row = {"documents": n, "seconds": round(seconds, 2), "docs_per_s": round(n / seconds),
           "cpu_seconds": round(cpu[median], 2)}
    if repeat > 1:
        row["runs_seconds"] = [round(r, 2) for r in runs]
    return row


def exact_only(encoder):
    """`encoder` with the fast path of `BertWordPiece.tokenize` off (it takes only the empty
    string, which both paths tokenise to nothing): the exact normaliser for every text."""
    encoder.tokenizer._fast_pattern = ""
    return encoder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N reviews only")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3,
                        help="passes per tf.data row (the median is reported)")
    parser.add_argument("--skip-loop", action="store_true", help="skip the slow tutorial loop")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "encoder.json"))
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    texts = read_nsmc()[:args.limit]
    n = len(texts)
    reference = BertTokenizer.from_pretrained(str(VOCABS["cased"]))
    warm = texts[:10000]
    results = {}

    if not args.skip_loop:
        results["tutorial_loop"] = timed(
            lambda: common.tutorial_features(reference, texts, MAX_SEQ_LEN), n)
    transformers_batch(reference, warm)
    results["transformers_batch"] = timed(lambda: transformers_batch(reference, texts), n)

    minilm = common.minilm_dir()
    encoders = {
        "feature_encoder_tf_data": bertcls.FeatureEncoder.from_preset(VOCABS["cased"]),
        "feature_encoder_tf_data_exact_only": exact_only(
            bertcls.FeatureEncoder.from_preset(VOCABS["cased"])),
        "feature_encoder_tf_data_uncased": bertcls.FeatureEncoder.from_preset(VOCABS["uncased"]),
        "feature_encoder_tf_data_minilm": bertcls.FeatureEncoder.from_preset(minilm),
        "feature_encoder_tf_data_minilm_exact_only": exact_only(
            bertcls.FeatureEncoder.from_preset(minilm)),
        "feature_encoder_tf_data_offsets": bertcls.FeatureEncoder.from_preset(
            VOCABS["cased"], return_offsets=True),
        "feature_encoder_tf_data_uncased_offsets": bertcls.FeatureEncoder.from_preset(
            VOCABS["uncased"], return_offsets=True),
    }
    try:
        import keras_hub

        encoders["keras_hub_wordpiece_raw_tf_data"] = keras_hub.tokenizers.WordPieceTokenizer(
            vocabulary=str(VOCABS["cased"] / "vocab.txt"), lowercase=False)
    except ImportError:
        pass
    for name, fn in encoders.items():
        # Building the pipeline traces the map function once (reported apart); the timed pass
        # then runs the traced graph over every review.
        start = time.perf_counter()
        dataset = tf_data_pipeline(fn, texts, args.batch_size)
        iterate(dataset.take(2))
        trace_seconds = time.perf_counter() - start
        results[name] = timed(lambda: iterate(dataset), n, args.repeat)
        results[name].update(batch_size=args.batch_size,
                             trace_and_warmup_seconds=round(trace_seconds, 2))

    base = results["transformers_batch"]["docs_per_s"]
    for row in results.values():
        row["vs_transformers_batch"] = round(row["docs_per_s"] / base, 2)
    fast_share = float(tf.reduce_mean(tf.cast(
        encoders["feature_encoder_tf_data"].tokenizer.fast_path(tf.constant(texts)), tf.float32)))
    report = {
        "command": "python " + " ".join(sys.argv),
        "cpu": common.cpu_model(),
        "fast_path_share_of_texts": round(fast_share, 4),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        # The machine is shared: other processes' load before and after the run.
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "versions": {"tensorflow": tf.__version__,
                     "transformers": __import__("transformers").__version__},
        "max_seq_len": MAX_SEQ_LEN,
        "results": results,
    }
    print(f"{'pipeline':44s} {'docs/s':>9s} {'seconds':>8s} {'CPU s':>6s} {'x batch':>8s}")
    for name, row in results.items():
        print(f"{name:44s} {row['docs_per_s']:9d} {row['seconds']:8.2f} "
              f"{row['cpu_seconds']:6.2f} {row['vs_transformers_batch']:8.2f}")
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
