"""Training examples/s, held-out accuracy and peak memory: the tutorial's fixed-128 padding
versus length-bucketed batches, plus what `jit_compile` and mixed precision change on CPU.

Every arm trains its own `BertClassifier` for one pass over the same NSMC training slice
(the same rows, the same shuffle seed, the same initial weights: `keras.utils.set_random_seed`
before building; the weight checksum is recorded), batch 64, `compile()` defaults
(Adam 5e-5, binary cross-entropy) unless `--learning-rate` says otherwise, then predicts a
fixed held-out slice of the NSMC test set. Arms differ only in the pipeline or compile options:

- `fixed`: `make_dataset(..., bucket_lengths=None)`, every batch padded to 128 (the tutorial);
- `bucketed`: `make_dataset(...)` (default buckets 16/32/64/128);
- `/jit`: `compile(jit_compile=True)` (XLA; Keras' "auto" is False on a CPU-only machine);
- `/mixed_bfloat16`, `/mixed_float16`: `keras.mixed_precision.set_global_policy(...)` while
  the model is built (float16 wraps Adam in a `LossScaleOptimizer`, as Keras does).

Two phases per model, each in a fresh Python subprocess:

1. speed and accuracy, interleaved: all arms of the model live in one process and take turns,
   one training step each, so that the load of this shared machine falls on all of them alike.
   A step is exactly what `fit` runs (`model.train_function(iterator)` on an iterator of the
   `make_dataset` dataset: the same traced function, data fetched inside the graph), timed
   from call to return. The first step of each distinct batch shape (trace, XLA compile,
   oneDNN set-up) is reported apart (`first_steps_seconds`); `steady_examples_per_s` is over
   the other steps and `total_examples_per_s` over all of them.
2. peak memory: one subprocess per arm runs `model.fit` for one pass over the first
   `--memory-examples` of the same slice and reports `getrusage(RUSAGE_SELF).ru_maxrss` (peak
   resident set; the arms' peaks never mix) and, as a cross-check, its own `fit` throughput
   (not interleaved, so noisier).

Ratios are against the same model's `fixed` arm of this run.
Results go to benchmarks/results/training.json.

    python benchmarks/bench_training.py [--arms minilm/fixed,minilm/bucketed,...]
        [--minilm-examples 1280] [--klue-small-examples 1280] [--test-examples 2000]
        [--memory-examples 256] [--memory-arms ...] [--learning-rate 5e-5]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402

BATCH_SIZE = 64
DEFAULT_ARMS = (
    "klue_small/fixed", "klue_small/bucketed",
    "klue_small/fixed/jit", "klue_small/bucketed/jit",
    "klue_small/bucketed/mixed_bfloat16", "klue_small/bucketed/mixed_float16",
    "minilm/fixed", "minilm/bucketed",
)
DEFAULT_MEMORY_ARMS = ("klue_small/fixed", "klue_small/bucketed",
                       "minilm/fixed", "minilm/bucketed")
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def parse_arm(arm):
    """`"model/padding[/jit][/policy]"` -> dict."""
    parts = arm.split("/")
    if len(parts) < 2 or parts[0] not in common.MODELS or parts[1] not in ("fixed", "bucketed"):
        raise ValueError(f"Bad arm {arm!r}: expected MODEL/fixed|bucketed[/jit][/POLICY] with "
                         f"MODEL in {common.MODELS}.")
    spec = {"model": parts[0], "padding": parts[1], "jit_compile": False, "policy": "float32"}
    for part in parts[2:]:
        if part == "jit":
            spec["jit_compile"] = True
        elif part in POLICIES:
            spec["policy"] = part
        else:
            raise ValueError(f"Bad arm option {part!r} in {arm!r}.")
    return spec


def build(arm, learning_rate):
    """The compiled model of `arm` (same seed, so the same initial weights in every arm)."""
    import keras

    spec = parse_arm(arm)
    keras.mixed_precision.set_global_policy(spec["policy"])
    try:
        keras.utils.set_random_seed(common.SEED)
        model = common.build_classifier(spec["model"])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    optimizer = "auto" if learning_rate is None else keras.optimizers.Adam(learning_rate)
    model.compile(optimizer=optimizer, jit_compile=spec["jit_compile"])
    return model


def weights_checksum(model):
    return round(float(sum(np.asarray(w, np.float64).sum() for w in model.get_weights())), 4)


def dataset(model, arm, texts, labels):
    import bertcls

    fixed = parse_arm(arm)["padding"] == "fixed"
    return bertcls.make_dataset(texts, labels, encoder=model.encoder, batch_size=BATCH_SIZE,
                                shuffle=True, seed=common.SEED,
                                bucket_lengths=None if fixed else "auto")


def batch_shapes(ds):
    """`(batch, length, real_tokens)` of every batch of `ds`, in order."""
    return [(int(x["input_ids"].shape[0]), int(x["input_ids"].shape[1]),
             int(np.asarray(x["attention_mask"]).sum())) for x, _ in ds]


def shapes_of(model, arm, texts, labels):
    # A fresh dataset with the same seed gives the same order (checked: two passes agree);
    # the training iterator is a third fresh dataset.
    shapes = batch_shapes(dataset(model, arm, texts, labels))
    if shapes != batch_shapes(dataset(model, arm, texts, labels)):
        raise RuntimeError("make_dataset gave two different orders for the same seed.")
    return shapes


def step_summary(shapes, seconds):
    seen, first, steady_n, steady_s = set(), 0.0, 0, 0.0
    for (batch, length, _), s in zip(shapes, seconds):
        if (batch, length) in seen:
            steady_n += batch
            steady_s += s
        else:
            seen.add((batch, length))
            first += s
    n = sum(s[0] for s in shapes)
    real = sum(s[2] for s in shapes)
    padded = sum(s[0] * s[1] for s in shapes)
    return {
        "steps": len(shapes), "distinct_batch_shapes": len(seen),
        "batch_lengths": sorted({s[1] for s in shapes}),
        "largest_batch_shape": list(max(shapes, key=lambda s: s[0] * s[1])[:2]),
        "padding_share": round(1 - real / padded, 3),
        "total_seconds": round(sum(seconds), 2),
        "first_steps_seconds": round(first, 2),
        "steady_seconds": round(steady_s, 2), "steady_examples": steady_n,
        "steady_examples_per_s": round(steady_n / steady_s, 2) if steady_s else None,
        "total_examples_per_s": round(n / sum(seconds), 2),
    }


def evaluate(model, texts, labels):
    start = time.perf_counter()
    result = model.predict_texts(texts, batch_size=256)
    seconds = time.perf_counter() - start
    p = np.clip(result["probabilities"].astype(np.float64), 1e-7, 1 - 1e-7)
    accuracy = float((result["labels"] == labels).mean())
    return {
        "test_examples": len(texts),
        "test_accuracy": round(accuracy, 4),
        # Binomial standard error of the accuracy: the noise floor of the comparison.
        "test_accuracy_stderr": round(float(np.sqrt(accuracy * (1 - accuracy) / len(texts))), 4),
        "test_log_loss": round(float(-np.mean(labels * np.log(p)
                                              + (1 - labels) * np.log(1 - p))), 4),
        "eval_seconds": round(seconds, 2),
    }


def interleaved_worker(arms, n_train, n_test, learning_rate):
    """Phase 1 for one model's arms, in this process: round-robin training steps."""
    import tensorflow as tf

    texts, labels = common.nsmc_slice("train", n_train, seed=0)
    test_texts, test_labels = common.nsmc_slice("test", n_test, seed=1)
    models, iterators, shapes, seconds, cpu_seconds, rows = {}, {}, {}, {}, {}, {}
    for arm in arms:
        model = build(arm, learning_rate)
        shapes[arm] = shapes_of(model, arm, texts, labels)
        ds = dataset(model, arm, texts, labels)
        first_batch = next(iter(ds))
        model._symbolic_build(data_batch=first_batch)  # what fit() does before its loop
        model.make_train_function()
        model.reset_metrics()
        models[arm], iterators[arm], seconds[arm], cpu_seconds[arm] = model, iter(ds), [], []
        rows[arm] = {"arm": arm, **parse_arm(arm), "train_examples": n_train,
                     "batch_size": BATCH_SIZE, "initial_weights_checksum":
                     weights_checksum(model)}
    active = list(arms)
    load_start = os.getloadavg()
    losses = {}
    while active:
        for arm in list(active):
            start, cpu = time.perf_counter(), time.process_time()
            try:
                logs = models[arm].train_function(iterators[arm])
            except (StopIteration, tf.errors.OutOfRangeError):  # as fit() stops
                active.remove(arm)
                continue
            seconds[arm].append(time.perf_counter() - start)
            cpu_seconds[arm].append(time.process_time() - cpu)
            losses[arm] = logs
    load_end = os.getloadavg()
    for arm in arms:
        if len(seconds[arm]) != len(shapes[arm]):
            raise RuntimeError(f"{arm}: ran {len(seconds[arm])} steps, expected "
                               f"{len(shapes[arm])}.")
        rows[arm].update(step_summary(shapes[arm], seconds[arm]))
        # Process CPU time (all threads) of the steady steps: less sensitive to other
        # processes' load than wall time, though TensorFlow's spinning threads inflate it too.
        steady = step_summary(shapes[arm], cpu_seconds[arm])
        rows[arm]["steady_cpu_seconds_per_example"] = round(
            steady["steady_seconds"] / steady["steady_examples"], 4) if steady[
                "steady_examples"] else None
        rows[arm]["train_loss_running_mean"] = round(float(losses[arm]["loss"]), 4)
        rows[arm].update(evaluate(models[arm], test_texts, test_labels))
        rows[arm]["step_seconds"] = [round(s, 3) for s in seconds[arm]]
        rows[arm]["step_cpu_seconds"] = [round(s, 3) for s in cpu_seconds[arm]]
        rows[arm]["step_shapes"] = [list(s[:2]) for s in shapes[arm]]
        rows[arm]["load_average_training_start"] = load_start
        rows[arm]["load_average_training_end"] = load_end
    return [rows[arm] for arm in arms]


def memory_worker(arm, n_train, learning_rate):
    """Phase 2 for one arm, alone in this process: `fit`, then the peak resident set."""
    rss_at_start = common.current_rss_mb()
    texts, labels = common.nsmc_slice("train", n_train, seed=0)
    model = build(arm, learning_rate)
    shapes = shapes_of(model, arm, texts, labels)
    rss_before_fit = common.current_rss_mb()
    peak_before_fit = common.peak_rss_mb()
    start = time.perf_counter()
    model.fit(dataset(model, arm, texts, labels), epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    return {"arm": arm, "memory_examples": n_train, "steps": len(shapes),
            "largest_batch_shape": list(max(shapes, key=lambda s: s[0] * s[1])[:2]),
            "rss_at_start_mb": rss_at_start, "rss_before_fit_mb": rss_before_fit,
            "peak_rss_before_fit_mb": peak_before_fit, "peak_rss_mb": common.peak_rss_mb(),
            "fit_seconds": round(seconds, 2),
            "fit_examples_per_s_incl_first_steps": round(n_train / seconds, 2)}


def subprocess_json(arguments):
    """Run this script with `arguments` in a fresh interpreter; its JSON result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "result.json"
        command = [sys.executable, __file__, *arguments, "--worker-out", str(out)]
        start = time.perf_counter()
        completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        seconds = round(time.perf_counter() - start, 1)
        if completed.returncode != 0 or not out.exists():
            return {"error": f"exit {completed.returncode}",
                    "output_tail": completed.stdout[-3000:]}, seconds
        return json.loads(out.read_text()), seconds


def add_ratios(rows):
    by_arm = {r["arm"]: r for r in rows if "error" not in r}
    for row in by_arm.values():
        base = by_arm.get(f"{row['model']}/fixed")
        if base is None:
            continue
        for key in ("steady_examples_per_s", "total_examples_per_s"):
            if row.get(key) and base.get(key):
                row[key.replace("_examples_per_s", "_vs_fixed")] = round(row[key] / base[key], 2)
        row["accuracy_minus_fixed"] = round(row["test_accuracy"] - base["test_accuracy"], 4)
        if row.get("peak_rss_mb") and base.get("peak_rss_mb"):
            row["peak_rss_vs_fixed"] = round(row["peak_rss_mb"] / base["peak_rss_mb"], 2)


def print_table(rows):
    print(f"{'arm':36s} {'steady ex/s':>11s} {'x fixed':>7s} {'total ex/s':>10s} {'x fixed':>7s} "
          f"{'1st steps s':>11s} {'test acc':>8s} {'peak RSS MB':>11s}")
    for row in rows:
        if "error" in row:
            print(f"{row['arm']:36s} ERROR {row['error']}")
            continue
        rss = row.get("peak_rss_mb")
        print(f"{row['arm']:36s} {row['steady_examples_per_s'] or float('nan'):11.1f} "
              f"{row.get('steady_vs_fixed', float('nan')):7.2f} "
              f"{row['total_examples_per_s']:10.1f} {row.get('total_vs_fixed', float('nan')):7.2f} "
              f"{row['first_steps_seconds']:11.1f} {row['test_accuracy']:8.4f} "
              f"{'-' if rss is None else f'{rss:.0f}':>11s}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default=",".join(DEFAULT_ARMS),
                        help="comma-separated MODEL/fixed|bucketed[/jit][/POLICY]")
    parser.add_argument("--memory-arms", default=",".join(DEFAULT_MEMORY_ARMS),
                        help="arms whose peak memory is measured (empty: none)")
    parser.add_argument("--minilm-examples", type=int, default=1280,
                        help="training examples per minilm arm")
    parser.add_argument("--klue-small-examples", type=int, default=1280,
                        help="training examples per klue_small arm")
    parser.add_argument("--memory-examples", type=int, default=256,
                        help="examples of the fit() pass of each memory run")
    parser.add_argument("--test-examples", type=int, default=2000)
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="Adam learning rate (default: compile()'s 5e-5)")
    parser.add_argument("--out", default=str(common.REPO / "benchmarks" / "results"
                                             / "training.json"))
    parser.add_argument("--worker-interleaved", help=argparse.SUPPRESS)
    parser.add_argument("--worker-memory", help=argparse.SUPPRESS)
    parser.add_argument("--worker-examples", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker_interleaved or args.worker_memory:
        if args.worker_interleaved:
            result = interleaved_worker(args.worker_interleaved.split(","),
                                        args.worker_examples, args.test_examples,
                                        args.learning_rate)
        else:
            result = memory_worker(args.worker_memory, args.worker_examples,
                                   args.learning_rate)
        pathlib.Path(args.worker_out).write_text(json.dumps(result))
        return

    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    memory_arms = [a.strip() for a in args.memory_arms.split(",") if a.strip()]
    for arm in arms + memory_arms:
        parse_arm(arm)
    started = time.perf_counter()
    report = common.report_header()
    budget = {"minilm": args.minilm_examples, "klue_small": args.klue_small_examples}
    models = [m for m in common.MODELS[::-1] if any(parse_arm(a)["model"] == m
                                                    for a in arms + memory_arms)]
    report["setup"] = {
        "batch_size": BATCH_SIZE,
        "optimizer": (f"Adam({args.learning_rate})" if args.learning_rate
                      else "Adam(5e-5) (BertClassifier.compile default)"),
        "max_seq_len": common.MAX_SEQ_LEN, "bucket_lengths": [16, 32, 64, 128],
        "train_slice": "NSMC train, tutorial-cleaned, seeded sample (seed 0)",
        "test_slice": f"NSMC test, missing rows dropped, seeded sample (seed 1) of "
                      f"{args.test_examples}",
        "models": {m: common.describe_model(m) for m in models},
        "train_examples": {m: budget[m] for m in models},
        "memory_examples": args.memory_examples,
    }
    import bertcls

    report["token_lengths_of_train_slice"] = {}
    for model in models:
        texts, _ = common.nsmc_slice("train", budget[model], seed=0)
        encoder = bertcls.FeatureEncoder.from_preset(str(common.vocabulary_dir(model)))
        report["token_lengths_of_train_slice"][model] = common.length_summary(
            common.token_lengths(encoder, texts))

    rows, phase_seconds = [], {}
    for model in models:
        group = [a for a in arms if parse_arm(a)["model"] == model]
        if not group:
            continue
        print(f"phase 1, {model}: {', '.join(group)} (interleaved) ...", flush=True)
        result, seconds = subprocess_json(["--worker-interleaved", ",".join(group),
                                           "--worker-examples", str(budget[model]),
                                           "--test-examples", str(args.test_examples)]
                                          + learning_rate_args(args))
        phase_seconds[f"interleaved {model}"] = seconds
        if isinstance(result, dict):  # an error
            rows += [{"arm": a, **result} for a in group]
        else:
            rows += result
        print(f"  done in {seconds:.0f} s", flush=True)
    memory = {}
    for arm in memory_arms:
        print(f"phase 2, peak memory: {arm} ...", flush=True)
        memory[arm], seconds = subprocess_json(["--worker-memory", arm, "--worker-examples",
                                                str(args.memory_examples)]
                                               + learning_rate_args(args))
        phase_seconds[f"memory {arm}"] = seconds
        print(f"  {memory[arm].get('peak_rss_mb', memory[arm].get('error'))} MB, "
              f"{seconds:.0f} s", flush=True)
    for row in rows:
        if row["arm"] in memory and "peak_rss_mb" in memory[row["arm"]]:
            row["peak_rss_mb"] = memory[row["arm"]]["peak_rss_mb"]
    add_ratios(rows)
    report["results"] = rows
    report["memory_runs"] = memory
    report["phase_seconds"] = phase_seconds
    print_table(rows)
    common.finish_report(report, time.perf_counter() - started, args.out)


def learning_rate_args(args):
    return [] if args.learning_rate is None else ["--learning-rate", str(args.learning_rate)]


if __name__ == "__main__":
    main()
