"""Where the training memory goes: peak resident set and TensorFlow's allocator statistics per
step of MiniLM training on fixed `BATCH x LENGTH` batches of random token ids.

Prints one JSON line: the resident set after import and after loading the model, then for
each step `VmHWM` (peak resident set of that step: reset by /proc/self/clear_refs after each
step), `VmRSS` at its end, its seconds, and `tf`: `tf.config.experimental.get_memory_info`
("current" bytes in use after the step and "peak" bytes in use so far, MB; only the oneDNN
build's BFC allocator keeps these). Run it with environment variables to compare settings:

    python benchmarks/memory_probe.py [--batch 64] [--length 128] [--steps 4]
        [--micro-batch-tokens N]
    MALLOC_ARENA_MAX=2 python benchmarks/memory_probe.py
    MALLOC_MMAP_THRESHOLD_=1048576 python benchmarks/memory_probe.py
    TF_ENABLE_ONEDNN_OPTS=0 python benchmarks/memory_probe.py
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


def status():
    with open("/proc/self/status") as f:
        return {line.split(":")[0]: int(line.split()[1]) // 1024 for line in f
                if line.startswith(("VmRSS", "VmHWM"))}


def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--micro-batch-tokens", type=int, default=None)
    args = parser.parse_args()

    import keras
    import numpy as np
    import tensorflow as tf

    import bertcls

    settings = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "TF_ENABLE_ONEDNN_OPTS")
    out = {"args": vars(args), "import": status(),
           "environment": {k: os.environ[k] for k in settings if k in os.environ}}
    reset_peak()
    model = bertcls.BertClassifier.from_preset(str(common.minilm_dir()),
                                               max_seq_len=common.MAX_SEQ_LEN)
    model.compile(optimizer=keras.optimizers.Adam(5e-5),
                  micro_batch_tokens=args.micro_batch_tokens)
    out["model"] = status()
    reset_peak()
    n = args.batch * args.steps
    rng = np.random.default_rng(0)
    x = {"input_ids": rng.integers(1000, 20000, (n, args.length)).astype("int32"),
         "attention_mask": np.ones((n, args.length), "int32"),
         "token_type_ids": np.zeros((n, args.length), "int32")}
    y = rng.integers(0, 2, n).astype("int32")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch)

    class PerStep(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            try:
                info = {k: v // 2 ** 20 for k, v in
                        tf.config.experimental.get_memory_info("CPU:0").items()}
            except ValueError as error:  # allocator without statistics
                info = str(error)[:80]
            out[f"step{batch}"] = dict(status(), seconds=round(
                time.perf_counter() - self.started, 1), tf=info)
            reset_peak()

    model.fit(ds, epochs=1, verbose=0, callbacks=[PerStep()])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
