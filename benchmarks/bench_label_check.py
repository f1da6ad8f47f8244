"""What checking the labels of every batch costs: training steps/s with and without it.

`BertClassifier.fit` on a `tf.data.Dataset` checks the labels' dtype and first batch before
training, and every batch as it is read (`check_labels` in a `tf.numpy_function` inside the
input pipeline). `keras.Model.fit(model, ...)` is the same training without any of bertcls's
checks. This script runs both on the same model and the same cached dataset, one epoch of
`--steps` batches per call: one untimed call of each (tracing), then "checked" (`model.fit`)
and "plain" (`keras.Model.fit(model, ...)`) alternating for `--rounds` rounds so that the load
of a shared machine falls on both alike. Steps/s are given from the median epoch (robust to
load spikes) and from the mean, with the process CPU time per step (all threads; other
processes disturb it less than wall time).

The model is deliberately small (`--model tiny`: 2 layers, hidden 32) so the fixed cost per
batch shows; with `--model minilm` (the real all-MiniLM-L6-v2) a step is far longer and the
relative cost smaller. Random token ids, binary labels, batch 32 x length 64.
Results go to benchmarks/results/label_check.json.

    python benchmarks/bench_label_check.py [--model tiny|minilm] [--steps 40] [--rounds 8]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

BATCH, LENGTH = 32, 64


def build(name):
    import keras

    import bertcls

    keras.utils.set_random_seed(common.SEED)
    if name == "minilm":
        model = bertcls.BertClassifier.from_preset(str(common.minilm_dir()))
    else:
        backbone = bertcls.BertBackbone(vocabulary_size=1000, num_layers=2, num_heads=2,
                                        hidden_size=32, intermediate_size=64)
        model = bertcls.BertClassifier(backbone)
    model.compile()
    return model


def data(steps, vocabulary_size):
    import numpy as np
    import tensorflow as tf

    rng = np.random.RandomState(common.SEED)
    n = steps * BATCH
    features = {"input_ids": rng.randint(5, vocabulary_size, (n, LENGTH)).astype("int32"),
                "attention_mask": np.ones((n, LENGTH), "int32"),
                "token_type_ids": np.zeros((n, LENGTH), "int32")}
    labels = rng.randint(0, 2, n).astype("int32")
    return tf.data.Dataset.from_tensor_slices((features, labels)).batch(
        BATCH, drop_remainder=True).cache().prefetch(tf.data.AUTOTUNE)  # as make_dataset ends


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("tiny", "minilm"), default="tiny")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    started = time.perf_counter()
    report = common.report_header()

    import keras

    model = build(args.model)
    vocabulary_size = model.backbone.get_config()["vocabulary_size"]
    dataset = data(args.steps, vocabulary_size)
    list(dataset)  # fill the cache
    arms = {"checked": model.fit, "plain": lambda *a, **k: keras.Model.fit(model, *a, **k)}
    for fit in arms.values():
        fit(dataset, epochs=1, verbose=0)  # trace and warm up, not timed
    seconds = {"checked": [], "plain": []}
    cpu_seconds = {"checked": [], "plain": []}
    for round_ in range(args.rounds):
        for arm in (("plain", "checked") if round_ % 2 else ("checked", "plain")):
            start, cpu_start = time.perf_counter(), time.process_time()
            arms[arm](dataset, epochs=1, verbose=0)
            seconds[arm].append(time.perf_counter() - start)
            cpu_seconds[arm].append(time.process_time() - cpu_start)

    result = {}
    for arm, times in seconds.items():
        median = sorted(times)[len(times) // 2]
        cpu = sorted(cpu_seconds[arm])
        result[arm] = {"steps_per_s_median_epoch": args.steps / median,
                       "steps_per_s_mean": args.steps * len(times) / sum(times),
                       "cpu_ms_per_step_median": 1000 * cpu[len(cpu) // 2] / args.steps,
                       "epoch_seconds": [round(t, 3) for t in times],
                       "epoch_cpu_seconds": [round(t, 3) for t in cpu_seconds[arm]]}
    result["check_cpu_ms_per_step"] = (result["checked"]["cpu_ms_per_step_median"]
                                       - result["plain"]["cpu_ms_per_step_median"])
    for key in ("steps_per_s_median_epoch", "steps_per_s_mean"):
        result[f"checked_vs_plain_{key}"] = result["checked"][key] / result["plain"][key]
    report.update(model=args.model, batch=BATCH, length=LENGTH, steps=args.steps,
                  rounds=args.rounds, result=result)
    for key, value in result.items():
        print(key, value)
    common.finish_report(report, time.perf_counter() - started,
                         common.REPO / "benchmarks" / "results" / "label_check.json")


if __name__ == "__main__":
    main()
