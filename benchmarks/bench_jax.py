"""Training on the JAX backend versus TensorFlow: steady-state examples/s, compile time, and
how many times each batch shape is traced and compiled.

Each backend trains in its own fresh process (`KERAS_BACKEND`), on the same model (the
MiniLM checkpoint, `BertClassifier.from_preset`, Adam 5e-5), the same NSMC rows (NSMC
train, tutorial-cleaned, seeded sample), the same pipeline (`make_dataset`, batch 64, length
buckets 16/32/64/128, shuffle seed 42; `drop_remainder=True` unless `--keep-remainder`, so
that every bucket has one batch shape) and `model.fit` for `--epochs` epochs (default 2).
Backends alternate (tensorflow, jax, tensorflow, jax, ... for `--rounds` rounds), so that the
load of this shared machine falls on both alike.

Per process:

- `traces`: how many times Keras' `train_step` ran in Python, i.e. was traced, and with which
  batch shapes (a wrapper counts the calls; traced code runs once per trace on both
  backends, never per step). On JAX each trace is followed by one XLA compile:
  `compiles` counts JAX's `backend_compile_duration` events and `compile_seconds` sums
  them (during `fit`; `compiles_in_process` also counts the small programs that loading
  and building run). A step that traced or compiled is a *first step*; nothing may trace
  in the epochs after the first.
- `steady_examples_per_s`: examples over wall time of the steps that neither traced nor
  compiled (each step timed by a callback from batch begin to batch end).
- `first_steps_seconds`: wall time of the steps that traced (trace + compile + run).

`steady_jax_vs_tensorflow` is the TensorFlow steady rate over the JAX one, per round
(above 1: JAX is slower).

    python benchmarks/bench_jax.py [--examples 1024] [--epochs 2] [--rounds 1]
        [--keep-remainder] [--out benchmarks/results/jax.json]
"""

import argparse
import collections
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402

BATCH_SIZE = 64


def worker(rows, epochs, drop_remainder):
    import keras

    import bertcls

    backend = keras.backend.backend()
    compile_events = []
    if backend == "jax":
        import jax

        def listener(event, seconds, **_):
            if event.endswith("backend_compile_duration"):
                compile_events.append(seconds)

        jax.monitoring.register_event_duration_secs_listener(listener)

    started = time.perf_counter()
    model = bertcls.BertClassifier.from_preset(str(common.minilm_dir()),
                                               max_seq_len=common.MAX_SEQ_LEN)
    model.compile()
    traces = []
    train_step = model.train_step

    def counting_train_step(*args):
        data = args[-1]  # (data) on TensorFlow, (state, data) on JAX
        traces.append(tuple(int(d) if d is not None else None
                            for d in data[0]["input_ids"].shape))
        return train_step(*args)

    model.train_step = counting_train_step
    ds = bertcls.make_dataset(rows["texts"], rows["labels"], encoder=model.encoder,
                              batch_size=BATCH_SIZE, shuffle=True, seed=common.SEED,
                              drop_remainder=drop_remainder)
    steps, compile_seconds = [], []

    class StepTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            self.marks = (len(traces), len(compile_events), time.perf_counter(),
                          time.process_time())

        def on_train_batch_end(self, batch, logs=None):
            n_traces, n_compiles, wall, cpu = self.marks
            compile_seconds.extend(compile_events[n_compiles:])
            steps.append({"epoch": self.epoch, "batch": batch,
                          "seconds": time.perf_counter() - wall,
                          "cpu_seconds": time.process_time() - cpu,
                          "traced": len(traces) - n_traces,
                          "compiled": len(compile_events) - n_compiles})

    shapes = [tuple(x["input_ids"].shape) for x, _ in ds]
    setup_seconds = time.perf_counter() - started
    load_start = os.getloadavg()
    fit_start = time.perf_counter()
    model.fit(ds, epochs=epochs, verbose=0, callbacks=[StepTimer()])
    fit_seconds = time.perf_counter() - fit_start
    for step in steps:
        step["examples"] = shapes[step["batch"]][0]
    steady = [s for s in steps if not s["traced"] and not s["compiled"]]
    first = [s for s in steps if s["traced"] or s["compiled"]]
    steady_seconds = sum(s["seconds"] for s in steady)
    steady_examples = sum(s["examples"] for s in steady)
    return {
        "backend": backend,
        "batch_shapes_per_epoch": [list(s) for s in shapes],
        "distinct_batch_shapes": len(set(shapes)),
        "traces": len(traces),
        "traces_by_shape": {str(k): v for k, v in collections.Counter(traces).items()},
        "traces_after_first_epoch": sum(s["traced"] for s in steps if s["epoch"] > 0),
        "compiles_in_process": len(compile_events) if backend == "jax" else None,
        "compiles": sum(s["compiled"] for s in steps) if backend == "jax" else None,
        "compiles_after_first_epoch": (sum(s["compiled"] for s in steps if s["epoch"] > 0)
                                       if backend == "jax" else None),
        "compile_seconds": round(sum(compile_seconds), 2) if backend == "jax" else None,
        "first_steps": len(first),
        "first_steps_seconds": round(sum(s["seconds"] for s in first), 2),
        "steady_steps": len(steady), "steady_examples": steady_examples,
        "steady_seconds": round(steady_seconds, 2),
        "steady_examples_per_s": round(steady_examples / steady_seconds, 2)
        if steady_seconds else None,
        "steady_cpu_seconds_per_example": round(
            sum(s["cpu_seconds"] for s in steady) / steady_examples, 4)
        if steady_examples else None,
        "fit_seconds": round(fit_seconds, 2), "setup_seconds": round(setup_seconds, 2),
        "load_average_fit_start": load_start, "load_average_fit_end": os.getloadavg(),
        "steps": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in s.items()}
                  for s in steps],
    }


def run_worker(backend, rows_file, args):
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "result.json"
        command = [sys.executable, __file__, "--worker", "--rows", str(rows_file),
                   "--epochs", str(args.epochs), "--worker-out", str(out)]
        if args.keep_remainder:
            command.append("--keep-remainder")
        start = time.perf_counter()
        completed = subprocess.run(command, env=dict(os.environ, KERAS_BACKEND=backend),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seconds = round(time.perf_counter() - start, 1)
        if completed.returncode != 0 or not out.exists():
            return {"backend": backend, "error": f"exit {completed.returncode}",
                    "output_tail": completed.stdout[-3000:], "process_seconds": seconds}
        return dict(json.loads(out.read_text()), process_seconds=seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--keep-remainder", action="store_true",
                        help="drop_remainder=False: each bucket's last, partial batch too")
    parser.add_argument("--out", default=str(common.REPO / "benchmarks" / "results"
                                             / "jax.json"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rows", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        rows = json.loads(pathlib.Path(args.rows).read_text())
        result = worker(rows, args.epochs, not args.keep_remainder)
        pathlib.Path(args.worker_out).write_text(json.dumps(result))
        return

    started = time.perf_counter()
    report = common.report_header()
    texts, labels = common.nsmc_slice("train", args.examples, seed=0)
    report["setup"] = {
        "model": common.describe_model("minilm"), "batch_size": BATCH_SIZE,
        "optimizer": "Adam(5e-5) (BertClassifier.compile default)",
        "bucket_lengths": [16, 32, 64, 128], "drop_remainder": not args.keep_remainder,
        "train_examples": len(texts), "epochs": args.epochs, "rounds": args.rounds,
        "train_slice": "NSMC train, tutorial-cleaned, seeded sample (seed 0)",
    }
    results, ratios = [], []
    with tempfile.TemporaryDirectory() as tmp:
        rows_file = pathlib.Path(tmp) / "rows.json"
        rows_file.write_text(json.dumps({"texts": texts, "labels": labels.tolist()},
                                        ensure_ascii=False))
        for round_ in range(args.rounds):
            pair = {}
            for backend in ("tensorflow", "jax"):
                print(f"round {round_ + 1}, {backend}: load average "
                      f"{os.getloadavg()[0]:.1f}", flush=True)
                pair[backend] = dict(run_worker(backend, rows_file, args), round=round_ + 1)
                row = pair[backend]
                print(f"  {row.get('error') or ''}traces {row.get('traces')}, compiles "
                      f"{row.get('compiles')}, steady {row.get('steady_examples_per_s')} ex/s, "
                      f"first steps {row.get('first_steps_seconds')} s", flush=True)
                results.append(row)
            tf_rate = pair["tensorflow"].get("steady_examples_per_s")
            jax_rate = pair["jax"].get("steady_examples_per_s")
            if tf_rate and jax_rate:
                ratios.append(round(tf_rate / jax_rate, 3))
    report["results"] = results
    report["steady_jax_vs_tensorflow"] = ratios
    print(f"TensorFlow steady ex/s over JAX's, per round: {ratios}")
    common.finish_report(report, time.perf_counter() - started, args.out)


if __name__ == "__main__":
    main()
