"""Peak resident memory per phase: NSMC training on MiniLM with bertcls versus the tutorial's
stack (transformers 4.57 `TFBertModel` + tf-keras), each arm alone in a fresh process.

Phases, in order, each with its own peak (`VmHWM` of /proc/self/status, reset between
phases by writing 5 to /proc/self/clear_refs; where that is refused, a thread samples
`VmRSS` every 2 ms instead and the JSON says so):

1. `import`: TensorFlow, Keras and the library (bertcls / tf_keras + transformers);
2. `model`: the checkpoint loaded, the sigmoid head added, `compile` (Adam 5e-5, binary
   cross-entropy, accuracy: the tutorial's);
3. `dataset`: bertcls `make_dataset(texts, labels, encoder=..., batch_size=64, shuffle=True)`
   (length buckets 16/32/64/128; `/fixed` arms pad to 128); the tutorial's
   `convert_examples_to_features` loop to numpy arrays of 128;
4. `first_step`: `fit`'s first training step (trace, graph optimisation, first kernels),
   measured from the start of `fit` to the end of batch 0 (a callback);
5. `training`: the rest of the epoch (one pass over the rows, batch 64);
6. `predict`: probabilities for the test rows (`predict_texts(texts, batch_size=B)`; the
   tutorial encodes them the same way as phase 3 and calls `model.predict(batch_size=B)`).

`training_peak_mb` is the largest peak of phases 1-5 (what the issue's "peak RSS, training"
means); `peak_mb` includes `predict`. Both arms read the same rows: the parent process
picks them once (`common.nsmc_slice`: NSMC train, tutorial-cleaned, seeded sample; test:
a seeded sample) and hands them to the workers in a file.

The tutorial arm runs in its own virtual environment (`.tutvenv` or `$BERTCLS_TUTVENV`, built
by `bash benchmarks/make_envs.sh` from benchmarks/envs/tutorial.txt: TensorFlow 2.21, tf-keras
2.21, transformers 4.57), with
`TF_USE_LEGACY_KERAS=1` as its `tf.keras` model code needs.
transformers 4.57 cannot read the PyTorch-saved `model.safetensors` into a TF model with
safetensors 0.5 to 0.8 (`safe_open` is not iterable), so a helper process in that venv first
writes the MiniLM weights as the TF checkpoint `tf_model.h5` (loaded through the
safetensors numpy API, converted by transformers' own PyTorch-to-TF mapping) into a temporary
directory; the measured worker then calls `TFBertModel.from_pretrained` on it, as the
tutorial does on the Hub.

Arms: `tutorial`, `bertcls` (bucketed), `bertcls/fixed` (the tutorial's 128 padding), and
bertcls arms with `/microN` (`compile(micro_batch_tokens=N)`: each batch's forward and
backward pass run on slices of at most N tokens, one update per batch), `/jax` (bertcls on
`KERAS_BACKEND=jax`), or `+VAR=value` to set an environment variable for that worker only
(e.g. `bertcls+MALLOC_ARENA_MAX=2`).

    python benchmarks/bench_memory.py [--arms tutorial,bertcls,bertcls/fixed]
        [--train-examples 1024] [--test-examples 1024] [--predict-batch-size 1024]
        [--tutorial-python .tutvenv/bin/python] [--out benchmarks/results/memory.json]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402

BATCH_SIZE = 64
LEARNING_RATE = 5e-5
DEFAULT_ARMS = ("tutorial", "bertcls", "bertcls/micro1024", "bertcls/micro512")
PHASES = ("import", "model", "dataset", "first_step", "training", "predict")


def proc_status():
    """VmRSS and VmHWM of this process, MB."""
    found = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:")):
                found[line.split(":")[0]] = round(int(line.split()[1]) / 1024, 1)
    return found


class PhasePeaks:
    """The peak resident set of each phase of this process, one after the other."""

    def __init__(self):
        self.rows = []
        self.method = "VmHWM reset by /proc/self/clear_refs"
        self.sampled = 0.0
        try:
            self._reset()
        except OSError:
            self.method = "VmRSS sampled every 2 ms by a thread"
            threading.Thread(target=self._sample, daemon=True).start()
        self.started = time.perf_counter()

    def _reset(self):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    def _sample(self):
        while True:
            self.sampled = max(self.sampled, proc_status()["VmRSS"])
            time.sleep(0.002)

    def end(self, name, **extra):
        """Close phase `name`: record its peak and the resident set at its end."""
        status = proc_status()
        peak = status["VmHWM"] if self.sampled == 0.0 else max(self.sampled, status["VmRSS"])
        self.rows.append({"phase": name, "peak_mb": peak, "rss_at_end_mb": status["VmRSS"],
                          "anon_at_end_mb": status.get("RssAnon"),
                          "file_at_end_mb": status.get("RssFile"),
                          "seconds": round(time.perf_counter() - self.started, 2), **extra})
        print(f"  {name:11s} peak {peak:7.0f} MB, at end {status['VmRSS']:7.0f} MB, "
              f"{self.rows[-1]['seconds']:6.1f} s", flush=True)
        if self.sampled:
            self.sampled = status["VmRSS"]
        else:
            self._reset()
        self.started = time.perf_counter()


def phase_callback_class(base, peaks):
    """A `base` (keras / tf_keras `Callback`) subclass that closes `first_step` after batch 0."""

    class FirstStep(base):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                peaks.end("first_step")

    return FirstStep


def bertcls_worker(arm, rows, predict_batch_size):
    peaks = PhasePeaks()
    import keras
    import tensorflow as tf  # noqa: F401 (the import phase of TensorFlow)

    import bertcls
    peaks.end("import", backend=keras.backend.backend())

    model = bertcls.BertClassifier.from_preset(str(common.minilm_dir()),
                                               max_seq_len=common.MAX_SEQ_LEN)
    micro = [o for o in arm.split("+")[0].split("/") if o.startswith("micro")]
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                  micro_batch_tokens=int(micro[0][5:]) if micro else None)
    peaks.end("model", parameters=int(model.count_params()))

    texts, labels = rows["train_texts"], rows["train_labels"]
    ds = bertcls.make_dataset(texts, labels, encoder=model.encoder, batch_size=BATCH_SIZE,
                              shuffle=True, seed=common.SEED,
                              bucket_lengths=None if "/fixed" in arm else "auto")
    peaks.end("dataset")

    start = time.perf_counter()
    model.fit(ds, epochs=1, verbose=0,
              callbacks=[phase_callback_class(keras.callbacks.Callback, peaks)()])
    peaks.end("training", fit_seconds=round(time.perf_counter() - start, 2))

    result = model.predict_texts(rows["test_texts"], batch_size=predict_batch_size)
    accuracy = float((result["labels"] == rows["test_labels"]).mean())
    peaks.end("predict", test_accuracy=round(accuracy, 4))
    return {"phases": peaks.rows, "peak_method": peaks.method}


def tutorial_worker(rows, predict_batch_size, tf_checkpoint, model_dir):
    import numpy as np

    peaks = PhasePeaks()
    import tensorflow as tf
    import tf_keras
    from transformers import BertTokenizer, TFBertModel
    peaks.end("import", keras=tf_keras.__version__)

    tokenizer = BertTokenizer.from_pretrained(model_dir)
    model = common.tutorial_model_class(tf, TFBertModel)(tf_checkpoint)
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=LEARNING_RATE),
                  loss=tf.keras.losses.BinaryCrossentropy(), metrics=["accuracy"])
    peaks.end("model")

    features = common.tutorial_features(tokenizer, rows["train_texts"])
    train_x = [features["input_ids"], features["attention_mask"], features["token_type_ids"]]
    train_y = np.asarray(rows["train_labels"])
    peaks.end("dataset")

    start = time.perf_counter()
    model.fit(train_x, train_y, epochs=1, batch_size=BATCH_SIZE, verbose=0,
              callbacks=[phase_callback_class(tf.keras.callbacks.Callback, peaks)()])
    peaks.end("training", fit_seconds=round(time.perf_counter() - start, 2))

    test = common.tutorial_features(tokenizer, rows["test_texts"])
    scores = model.predict([test["input_ids"], test["attention_mask"], test["token_type_ids"]],
                           batch_size=predict_batch_size, verbose=0)[:, 0]
    accuracy = float(((scores > 0.5).astype(int) == np.asarray(rows["test_labels"])).mean())
    peaks.end("predict", test_accuracy=round(accuracy, 4))
    return {"phases": peaks.rows, "peak_method": peaks.method}


def parse_arm(arm):
    """`"name[/fixed][/jax][/microN][+VAR=value...]"` -> (name, options, env)."""
    head, *settings = arm.split("+")
    name, *options = head.split("/")
    if name not in ("tutorial", "bertcls") or (name == "tutorial" and options) or any(
            o not in ("fixed", "jax") and not (o.startswith("micro") and o[5:].isdigit())
            for o in options):
        raise ValueError(f"Bad arm {arm!r}: expected tutorial or bertcls[/fixed][/jax]"
                         "[/microN], optionally followed by +VAR=value.")
    env = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key:
            raise ValueError(f"Bad setting {setting!r} in {arm!r}: expected +VAR=value.")
        env[key] = value
    return name, options, env


def run_worker(arm, rows_file, args, tf_checkpoint):
    name, options, env = parse_arm(arm)
    python = args.tutorial_python if name == "tutorial" else sys.executable
    environment = dict(os.environ, **env)
    if name == "tutorial":
        environment["TF_USE_LEGACY_KERAS"] = "1"
        environment.pop("PYTHONPATH", None)  # nothing of bertcls in that process
    else:
        environment["KERAS_BACKEND"] = "jax" if "jax" in options else "tensorflow"
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "result.json"
        command = [python, __file__, "--worker", arm, "--rows", str(rows_file),
                   "--predict-batch-size", str(args.predict_batch_size),
                   "--worker-out", str(out)]
        if tf_checkpoint:
            command += ["--tf-checkpoint", tf_checkpoint, "--model-dir", str(common.minilm_dir())]
        start = time.perf_counter()
        completed = subprocess.run(command, env=environment, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        seconds = round(time.perf_counter() - start, 1)
        printed = [line for line in completed.stdout.splitlines() if line.startswith("  ")]
        print("\n".join(printed), flush=True)
        if completed.returncode != 0 or not out.exists():
            return {"arm": arm, "error": f"exit {completed.returncode}",
                    "output_tail": completed.stdout[-3000:], "process_seconds": seconds}
        result = json.loads(out.read_text())
    phases = result["phases"]
    training = [p["peak_mb"] for p in phases if p["phase"] != "predict"]
    return {"arm": arm, "environment": env, **result,
            "training_peak_mb": max(training), "peak_mb": max(p["peak_mb"] for p in phases),
            "process_seconds": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default=",".join(DEFAULT_ARMS),
                        help="comma-separated: tutorial, bertcls[/fixed][/jax][+VAR=value]")
    parser.add_argument("--train-examples", type=int, default=1024)
    parser.add_argument("--test-examples", type=int, default=1024)
    parser.add_argument("--predict-batch-size", type=int, default=1024,
                        help="batch of the predict phase (the tutorial's evaluate used 1024)")
    parser.add_argument("--tutorial-python", default=common.TUTORIAL_PYTHON)
    parser.add_argument("--out", default=str(common.REPO / "benchmarks" / "results"
                                             / "memory.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--rows", help=argparse.SUPPRESS)
    parser.add_argument("--tf-checkpoint", help=argparse.SUPPRESS)
    parser.add_argument("--convert-to", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.convert_to:
        common.convert_checkpoint(args.model_dir, args.convert_to)
        return
    if args.worker:
        rows = json.loads(pathlib.Path(args.rows).read_text())
        if parse_arm(args.worker)[0] == "tutorial":
            result = tutorial_worker(rows, args.predict_batch_size, args.tf_checkpoint,
                                     args.model_dir)
        else:
            result = bertcls_worker(args.worker, rows, args.predict_batch_size)
        pathlib.Path(args.worker_out).write_text(json.dumps(result))
        return

    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    for arm in arms:
        parse_arm(arm)
    started = time.perf_counter()
    report = common.report_header()
    train_texts, train_labels = common.nsmc_slice("train", args.train_examples, seed=0)
    test_texts, test_labels = common.nsmc_slice("test", args.test_examples, seed=1)
    report["setup"] = {
        "model": common.describe_model("minilm"), "batch_size": BATCH_SIZE,
        "optimizer": f"Adam({LEARNING_RATE})", "epochs": 1, "max_seq_len": common.MAX_SEQ_LEN,
        "train_examples": len(train_texts), "test_examples": len(test_texts),
        "predict_batch_size": args.predict_batch_size,
        "train_slice": "NSMC train, tutorial-cleaned, seeded sample (seed 0)",
        "test_slice": "NSMC test, missing rows dropped, seeded sample (seed 1)",
        "tutorial_python": args.tutorial_python,
    }
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        rows_file = pathlib.Path(tmp) / "rows.json"
        rows_file.write_text(json.dumps({
            "train_texts": train_texts, "train_labels": train_labels.tolist(),
            "test_texts": test_texts, "test_labels": test_labels.tolist()}, ensure_ascii=False))
        tf_checkpoint = None
        if any(parse_arm(a)[0] == "tutorial" for a in arms):
            tf_checkpoint = str(pathlib.Path(tmp) / "minilm_tf")
            environment = dict(os.environ, TF_USE_LEGACY_KERAS="1")
            environment.pop("PYTHONPATH", None)
            subprocess.run([args.tutorial_python, __file__, "--convert-to", tf_checkpoint,
                            "--model-dir", str(common.minilm_dir())],
                           env=environment, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            report["tutorial_versions"] = json.loads(subprocess.run(
                [args.tutorial_python, "-c", "import json, tensorflow, tf_keras, transformers;"
                 "print(json.dumps({m.__name__: m.__version__ for m in "
                 "(tensorflow, tf_keras, transformers)}))"], env=environment, check=True,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout)
        for arm in arms:
            print(f"{arm}: load average {os.getloadavg()[0]:.1f}", flush=True)
            results.append(run_worker(arm, rows_file, args, tf_checkpoint))
    tutorial = next((r for r in results if r["arm"] == "tutorial" and "error" not in r), None)
    for row in results:
        if tutorial is not None and "error" not in row:
            row["training_peak_vs_tutorial"] = round(
                row["training_peak_mb"] / tutorial["training_peak_mb"], 3)
    report["results"] = results
    print(f"\n{'arm':40s} {'training peak MB':>16s} {'x tutorial':>10s} {'with predict':>12s}")
    for row in results:
        if "error" in row:
            print(f"{row['arm']:40s} ERROR {row['error']}\n{row['output_tail']}")
            continue
        print(f"{row['arm']:40s} {row['training_peak_mb']:16.0f} "
              f"{row.get('training_peak_vs_tutorial', float('nan')):10.2f} "
              f"{row['peak_mb']:12.0f}")
    common.finish_report(report, time.perf_counter() - started, args.out)


if __name__ == "__main__":
    main()
