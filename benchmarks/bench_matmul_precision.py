"""What each precision costs in TensorFlow's CPU kernels, for the matrix products that make up
nearly all of a BERT forward pass: float32, bfloat16 and int8 (int32 accumulation, the
product Keras' `int8` quantization runs), and Keras' `Dense` before and after
`quantize("int8")`.

The shapes are one MiniLM feed-forward product of a length-sorted inference batch (64
sentences of 48 tokens: 3,072 rows; hidden 384 -> intermediate 1,536). Each case runs as a
traced function, first call dropped, repeated for `--seconds`; the mean is reported. Writes
`benchmarks/results/matmul_precision.json`.

    python benchmarks/bench_matmul_precision.py [--rows 3072] [--inner 384] [--outer 1536]
        [--seconds 3] [--rounds 2]
"""

import argparse
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3072)
    parser.add_argument("--inner", type=int, default=384)
    parser.add_argument("--outer", type=int, default=1536)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=str(common.REPO / "benchmarks" / "results"
                                             / "matmul_precision.json"))
    args = parser.parse_args()
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
    common.finish_report(report, time.perf_counter() - started, args.out)


if __name__ == "__main__":
    main()
