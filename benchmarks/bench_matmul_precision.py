"""What each precision costs in TensorFlow's CPU kernels, for the matrix products that make up
nearly all of a BERT forward pass: float32, bfloat16 and int8 (int32 accumulation, the
product Keras' `int8` quantization runs), and Keras' `Dense` before and after
`quantize("int8")`; then, with `--texts N` (default 1000), what the same choice gives a whole
model: `BertClassifier.from_preset(MiniLM).predict_texts` over N NSMC test reviews in float32
and in bfloat16 (Keras' global dtype policy set before the model is built; one process each).

The shapes are one MiniLM feed-forward product of a length-sorted inference batch (64
sentences of 48 tokens: 3,072 rows; hidden 384 -> intermediate 1,536). Each case runs as a
traced function, first call dropped, repeated for `--seconds`; the mean is reported. Writes
`benchmarks/results/matmul_precision.json`.

    python benchmarks/bench_matmul_precision.py [--rows 3072] [--inner 384] [--outer 1536]
        [--seconds 3] [--rounds 2] [--texts 1000]
"""

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402


def mean_ms(fn, args, seconds):
    fn(*args)
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        fn(*args)
        calls += 1
    return round((time.perf_counter() - start) / calls * 1000, 3)


def model_arm(policy, texts):
    """(own process) docs/s of `predict_texts` on `texts` NSMC test reviews, MiniLM classifier
    built under the global dtype `policy`; prints one JSON line."""
    import keras
    import numpy as np

    keras.config.set_dtype_policy(policy)
    import bertcls

    model = bertcls.BertClassifier.from_preset(common.minilm_dir(), num_classes=2,
                                               max_seq_len=common.MAX_SEQ_LEN)
    reviews, _ = common.nsmc_slice("test", texts)
    model.predict_texts(reviews[:64])
    start = time.perf_counter()
    probabilities = model.predict_texts(reviews, batch_size=64)["probabilities"]
    seconds = time.perf_counter() - start
    np.save(os.environ["PROBABILITIES_OUT"], np.asarray(probabilities, np.float32))
    print("RESULT " + json.dumps({"policy": policy, "seconds": round(seconds, 2),
                                  "docs_per_s": round(len(reviews) / seconds, 1),
                                  "weights": sorted({v.dtype for v in model.weights})}))


def model_rows(texts):
    import subprocess
    import tempfile

    import numpy as np

    rows, outputs = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for policy in ("float32", "bfloat16"):
            out = os.path.join(tmp, f"{policy}.npy")
            done = subprocess.run([sys.executable, __file__, "--model-arm", policy, "--texts",
                                   str(texts)], capture_output=True, text=True,
                                  env=dict(os.environ, PROBABILITIES_OUT=out))
            line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
            assert line, done.stderr[-3000:]
            rows[policy] = json.loads(line[0][len("RESULT "):])
            outputs[policy] = np.load(out)
    rows["bfloat16"]["max_probability_change"] = round(
        float(np.abs(outputs["bfloat16"] - outputs["float32"]).max()), 4)
    rows["bfloat16_vs_float32_docs_per_s"] = round(
        rows["bfloat16"]["docs_per_s"] / rows["float32"]["docs_per_s"], 3)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3072)
    parser.add_argument("--inner", type=int, default=384)
    parser.add_argument("--outer", type=int, default=1536)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--texts", type=int, default=1000,
                        help="reviews for the whole-model rows (0: skip them)")
    parser.add_argument("--model-arm", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(common.REPO / "benchmarks" / "results"
                                             / "matmul_precision.json"))
    args = parser.parse_args()
    if args.model_arm:
        return model_arm(args.model_arm, args.texts)
    started = time.perf_counter()
    report = common.report_header()

    import keras
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(common.SEED)
    a = rng.standard_normal((args.rows, args.inner), dtype=np.float32)
    b = rng.standard_normal((args.inner, args.outer), dtype=np.float32) * 0.05
    matmul = tf.function(lambda x, y: tf.matmul(x, y))
    int_matmul = tf.function(lambda x, y: tf.matmul(x, y, output_type=tf.int32))
    dense = keras.layers.Dense(args.outer)
    dense.build((None, args.inner))
    dense.set_weights([b, np.zeros(args.outer, np.float32)])
    quantized = keras.layers.Dense(args.outer)
    quantized.build((None, args.inner))
    quantized.set_weights([b, np.zeros(args.outer, np.float32)])
    quantized.quantize("int8")
    cases = {
        "float32 matmul": (matmul, (tf.constant(a), tf.constant(b))),
        "bfloat16 matmul": (matmul, (tf.constant(a, tf.bfloat16), tf.constant(b, tf.bfloat16))),
        "int8 matmul, int32 out": (int_matmul, (
            tf.constant(np.clip(np.round(a * 30), -127, 127).astype(np.int8)),
            tf.constant(np.clip(np.round(b * 600), -127, 127).astype(np.int8)))),
        "keras Dense float32": (tf.function(lambda x: dense(x)), (tf.constant(a),)),
        "keras Dense int8 (quantize)": (tf.function(lambda x: quantized(x)), (tf.constant(a),)),
    }
    rounds = [{name: mean_ms(fn, inputs, args.seconds) for name, (fn, inputs) in cases.items()}
              for _ in range(args.rounds)]
    best = {name: min(r[name] for r in rounds) for name in cases}
    reference = best["float32 matmul"]
    print(f"{'case':32s} {'ms (best round)':>16s} {'x float32':>10s}")
    for name, ms in best.items():
        print(f"{name:32s} {ms:16.2f} {ms / reference:10.2f}")
    report.update(rounds=rounds, best_ms=best,
                  relative_to_float32={k: round(v / reference, 3) for k, v in best.items()},
                  shape={"rows": args.rows, "inner": args.inner, "outer": args.outer})
    if args.texts:
        report["model"] = model_rows(args.texts)
        print(json.dumps(report["model"], indent=1))
    common.finish_report(report, time.perf_counter() - started, args.out)


if __name__ == "__main__":
    main()
