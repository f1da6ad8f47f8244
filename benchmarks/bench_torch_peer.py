"""bertcls against the peers a Korean practitioner would pick instead, on the same MiniLM
checkpoint and the same NSMC rows, each arm in its own process:

- `torch`: transformers 5 + PyTorch (CPU) in the reference environment (`.refvenv` or
  `$BERTCLS_REFVENV`, built by `bash benchmarks/make_envs.sh`): `AutoTokenizer` +
  `AutoModelForSequenceClassification` (2 labels); training with `Trainer`
  (`train_sampling_strategy="group_by_length"`, `DataCollatorWithPadding`: dynamic padding,
  batch 64, AdamW without weight decay, constant learning rate); one sentence
  `tokenizer(text, return_tensors="pt")` + `model(**inputs)` under `torch.inference_mode()`;
  batch inference in the texts' order with dynamic padding (`unsorted`, what `Trainer.predict`
  does) and length-sorted (`sorted`).
- `torch_loop`: the same peer at its leanest, no Trainer: `torch.set_num_threads(2)`, the
  training rows sorted by token length and cut into batches of 64 whose order is shuffled
  (seed 42), each padded to its longest row; `torch.optim.AdamW` (no weight decay),
  `model(**batch, labels=...)`, backward, step, zero_grad. One sentence as `torch`; batch
  inference length-sorted only. Same reference environment.
- `tutorial`: the tutorial's stack in `.tutvenv` or `$BERTCLS_TUTVENV` (transformers 4.57
  `TFBertModel` inside
  its `tf.keras.Model`, tf-keras, `TF_USE_LEGACY_KERAS=1`): `sentiment_predict` (slow
  `BertTokenizer.encode` to 128, `model.predict` on a batch of one) and its batch path
  (`convert_examples_to_features`, then `model.predict(batch_size=B)`). No training here
  (benchmarks/bench_memory.py trains it). MiniLM's weights are converted to `tf_model.h5`
  first (transformers 4.57 cannot read the PyTorch safetensors with the installed
  safetensors; the workaround of bench_memory.py).
- `bertcls`: `BertClassifier.from_preset` (sigmoid head), `predict_text`, `predict_texts`,
  and `fit` on `make_dataset(...)` (length buckets 16/32/64/128), Adam, same rate.

Every arm: model load, then one-sentence latency (10 warm-up calls, then each of the
sentences once: p50 / p99 / mean), then training (one pass over the training rows, batch 64;
per-step wall times between consecutive step ends; `steady` leaves out, for bertcls, the first
step of each distinct batch shape (the trace) and, for the torch arms, the first two steps;
`total` includes them), then batch
inference over the test rows (one warm-up call on 64 texts first) with test accuracy, then
(not `tutorial`; `--no-quantized` skips it) the trained model against its int8 version,
measured back to back: `fp32_trained`, then `quantized` (`torch.ao.quantization.
quantize_dynamic` on every `nn.Linear`; bertcls: `Task.quantize("int8")`), each with
one-sentence p50 / p99, length-sorted batch examples/s, test accuracy and size on disk
(torch: the `state_dict` saved by `torch.save`; bertcls: the `.keras` file of `model.save`,
compiled afresh first so it holds no optimizer state), and for int8 the largest absolute
change of a test probability. Peak resident set (`ru_maxrss`, which only grows) and process
CPU time are recorded after each phase. With `--rounds 2` the arms run A B C D A B C D, so the
machine's load falls on all; the medians across rounds are reported.

The driver reads the rows (common.nsmc_slice: tutorial-cleaned, seeded samples) and hands
them to each arm in a JSON file; no arm imports another's framework (torch and TensorFlow
never share a process).

    python benchmarks/bench_torch_peer.py [--arms torch,torch_loop,bertcls,tutorial]
        [--rounds 1] [--train-examples 1280] [--test-examples 2000] [--sentences 200]
        [--batch-size 64] [--learning-rate 2e-4] [--profile] [--no-quantized]
        [--out benchmarks/results/torch_peer.json]
"""

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402  (numpy only: importable in every venv)
import numpy as np  # noqa: E402

BATCH_SIZE = 64
TORCH_WARMUP_STEPS = 2  # torch arms: steps left out of `steady` (allocator warm-up)
WARMUP_CALLS = 10
ARMS = ("torch", "torch_loop", "bertcls", "tutorial")


# === Shared by the arms =====================================================================

class Phases:
    """Peak RSS (ru_maxrss so far), current RSS and process CPU seconds after each phase."""

    def __init__(self):
        self.rows = {}
        self._cpu = time.process_time()

    def end(self, name, **extra):
        cpu = time.process_time()
        self.rows[name] = {"peak_rss_mb_so_far": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_mb": common.current_rss_mb(), "cpu_seconds": round(cpu - self._cpu, 2),
            **extra}
        self._cpu = cpu
        print(f"  {name}: " + json.dumps(self.rows[name]), flush=True)


def latency_summary(seconds):
    return {"calls": len(seconds), "p50_ms": common.percentile_ms(seconds, 50),
            "p99_ms": common.percentile_ms(seconds, 99),
            "mean_ms": round(sum(seconds) / len(seconds) * 1000, 2)}


def timed_calls(fn, sentences):
    for sentence in sentences[:WARMUP_CALLS]:
        fn(sentence)
    seconds, scores = [], []
    for sentence in sentences:
        start = time.perf_counter()
        scores.append(fn(sentence))
        seconds.append(time.perf_counter() - start)
    return seconds, scores


def step_summary(step_seconds, shapes, warmup_steps=None):
    """`shapes`: (batch, length, real tokens) of each step, in order. `steady` leaves out the
    first step of each distinct batch shape (bertcls: the trace), or with `warmup_steps` the
    first that many steps (torch: nothing is traced per shape, and with dynamic padding
    nearly every batch has a shape of its own)."""
    seen, first, steady_n, steady_s = set(), 0.0, 0, 0.0
    for step, ((batch, length, _), s) in enumerate(zip(shapes, step_seconds)):
        repeated = (batch, length) in seen
        seen.add((batch, length))
        if step >= warmup_steps if warmup_steps is not None else repeated:
            steady_n, steady_s = steady_n + batch, steady_s + s
        else:
            first += s
    n = sum(s[0] for s in shapes)
    return {
        "steps": len(shapes), "distinct_batch_shapes": len(seen),
        "padding_share": round(1 - sum(s[2] for s in shapes)
                               / sum(s[0] * s[1] for s in shapes), 3),
        "first_steps_seconds": round(first, 2),
        "steady_examples_per_s": round(steady_n / steady_s, 2) if steady_s else None,
        "total_seconds": round(sum(step_seconds), 2),
        "total_examples_per_s": round(n / sum(step_seconds), 2),
    }


def accuracy(probabilities, labels):
    """Share of `probabilities` (positive class) on the right side of 0.5."""
    return round(float(((np.asarray(probabilities) > 0.5) == np.asarray(labels)).mean()), 4)


def timed_batch(predict_all, texts, labels):
    """`predict_all(texts)` (positive-class probabilities) timed after one warm-up call on
    64 texts. Returns `({"seconds", "examples_per_s", "test_accuracy"}, probabilities)`."""
    predict_all(texts[:64])
    start = time.perf_counter()
    probabilities = np.asarray(predict_all(texts), np.float64)
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 2), "examples_per_s": round(len(texts) / seconds, 1),
            "test_accuracy": accuracy(probabilities, labels)}, probabilities


def precision_figures(predict_one, predict_all, texts, labels, sentences):
    """One-sentence latency (`timed_calls` on `sentences`), batch throughput of
    `predict_all(texts)` (`timed_batch`), and test accuracy, of the model the two functions
    run now. Returns `(figures, probabilities)`."""
    seconds, _ = timed_calls(predict_one, sentences)
    batch, probabilities = timed_batch(predict_all, texts, labels)
    return {**latency_summary(seconds), "batch_seconds": batch["seconds"],
            "batch_examples_per_s": batch["examples_per_s"],
            "test_accuracy": batch["test_accuracy"]}, probabilities


def precision_phases(phases, rows, texts, labels, predictors, size_mb, quantize):
    """Phases `fp32_trained` and `quantized`: `precision_figures` and the size on disk of
    the trained model, then of its int8 version, and the largest absolute change of a test
    probability between the two.

    `predictors()` returns `(predict_one, predict_all)` for the model as it is now,
    `size_mb()` its size on disk, `quantize()` turns it into its int8 version.
    """
    sentences = rows["sentences"]
    fp32, before = precision_figures(*predictors(), texts, labels, sentences)
    phases.end("fp32_trained", size_mb=size_mb(), **fp32)
    start = time.perf_counter()
    quantize()
    quantize_seconds = round(time.perf_counter() - start, 2)
    int8, after = precision_figures(*predictors(), texts, labels, sentences)
    phases.end("quantized", quantize_seconds=quantize_seconds, size_mb=size_mb(), **int8,
               max_probability_change=round(float(np.abs(after - before).max()), 5))


def file_mb(path):
    return round(pathlib.Path(path).stat().st_size / 2 ** 20, 2)


# === torch arms (refvenv) ===================================================================

def torch_load(rows, phases, num_threads=None):
    """Import transformers + torch (seeded), then the tokenizer and a 2-label
    `AutoModelForSequenceClassification` in eval mode; phases `import` and `model`."""
    import torch
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if num_threads:
        torch.set_num_threads(num_threads)
    transformers.set_seed(common.SEED)
    transformers.logging.set_verbosity_error()
    phases.end("import", torch=torch.__version__, transformers=transformers.__version__,
               torch_threads=torch.get_num_threads())
    tokenizer = AutoTokenizer.from_pretrained(rows["model_dir"])
    model = AutoModelForSequenceClassification.from_pretrained(rows["model_dir"], num_labels=2)
    model.eval()
    phases.end("model")
    return tokenizer, model


def torch_predict_one(tokenizer, model, text):
    """Positive-class probability of one sentence: `tokenizer(text)` + `model(**inputs)`."""
    import torch

    with torch.inference_mode():
        inputs = tokenizer(text, truncation=True, max_length=common.MAX_SEQ_LEN,
                           return_tensors="pt")
        return float(torch.softmax(model(**inputs).logits, -1)[0, 1])


def torch_predict(tokenizer, model, texts, batch_size, order=None):
    """Positive-class probabilities of `texts` (in their order), run in batches of
    consecutive indices of `order` (default: the texts' order), each padded to its
    longest text."""
    import torch

    order = list(range(len(texts))) if order is None else order
    probabilities = np.zeros(len(texts))
    with torch.inference_mode():
        for begin in range(0, len(order), batch_size):
            index = order[begin:begin + batch_size]
            inputs = tokenizer([texts[i] for i in index], truncation=True, padding=True,
                               max_length=common.MAX_SEQ_LEN, return_tensors="pt")
            probabilities[index] = torch.softmax(model(**inputs).logits, -1)[:, 1].numpy()
    return probabilities


def torch_sorted_order(tokenizer, texts):
    """Indices of `texts` by token length (truncated to MAX_SEQ_LEN), shortest first."""
    lengths = [len(i) for i in tokenizer(texts, truncation=True,
                                         max_length=common.MAX_SEQ_LEN)["input_ids"]]
    return sorted(range(len(texts)), key=lambda i: lengths[i])


def torch_batch_inference(tokenizer, model, rows, args, phases, names=("sorted",)):
    """Phase `batch_inference`: the test rows in batches, in the texts' order (`unsorted`)
    and/or length-sorted (`sorted`), after one warm-up call on 64 texts."""
    texts = rows["test_texts"]
    torch_predict(tokenizer, model, texts[:64], args.batch_size)
    orders = {"unsorted": list(range(len(texts))), "sorted": torch_sorted_order(tokenizer, texts)}
    result = {}
    for name in names:
        start = time.perf_counter()
        probabilities = torch_predict(tokenizer, model, texts, args.batch_size, orders[name])
        seconds = time.perf_counter() - start
        result[name] = {"seconds": round(seconds, 2),
                        "examples_per_s": round(len(texts) / seconds, 1),
                        "test_accuracy": accuracy(probabilities, rows["test_labels"])}
    phases.end("batch_inference", texts=len(texts), batch_size=args.batch_size, **result)


def torch_precisions(tokenizer, model, rows, args, phases):
    """`precision_phases` for a trained torch model: int8 is
    `torch.ao.quantization.quantize_dynamic` on every `nn.Linear` (weights int8, activations
    quantized per batch at run time; embeddings and LayerNorm stay float32); the size is
    the `state_dict` written by `torch.save`. Batches are length-sorted."""
    import warnings

    import torch

    order = torch_sorted_order(tokenizer, rows["test_texts"])
    texts = [rows["test_texts"][i] for i in order]
    labels = [rows["test_labels"][i] for i in order]
    current = {"model": model}

    def predictors():
        m = current["model"]
        return (lambda s: torch_predict_one(tokenizer, m, s),
                lambda t: torch_predict(tokenizer, m, t, args.batch_size))

    def size_mb():
        with tempfile.TemporaryDirectory() as tmp:
            torch.save(current["model"].state_dict(), f"{tmp}/model.pt")
            return file_mb(f"{tmp}/model.pt")

    def quantize():
        with warnings.catch_warnings():  # torch.ao.quantization is deprecated (torchao)
            warnings.simplefilter("ignore")
            current["model"] = torch.ao.quantization.quantize_dynamic(
                model, {torch.nn.Linear}, dtype=torch.qint8)

    precision_phases(phases, rows, texts, labels, predictors, size_mb, quantize)


def torch_arm(rows, args):
    phases = Phases()
    from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

    tokenizer, model = torch_load(rows, phases)
    seconds, _ = timed_calls(lambda s: torch_predict_one(tokenizer, model, s), rows["sentences"])
    phases.end("latency", **latency_summary(seconds))
    if args.profile:
        import torch

        phases.end("latency_profile", **torch_latency_profile(tokenizer, model, rows, torch))

    start = time.perf_counter()
    encoded = tokenizer(rows["train_texts"], truncation=True, max_length=common.MAX_SEQ_LEN)
    train = [{"input_ids": i, "attention_mask": m, "token_type_ids": t, "labels": y}
             for i, m, t, y in zip(encoded["input_ids"], encoded["attention_mask"],
                                   encoded["token_type_ids"], rows["train_labels"])]
    tokenize_seconds = time.perf_counter() - start
    ends, shapes = [], []

    class StepTimes(TrainerCallback):
        def on_train_begin(self, *a, **k):
            ends.append(time.perf_counter())

        def on_step_end(self, *a, **k):
            ends.append(time.perf_counter())

    collator = DataCollatorWithPadding(tokenizer)

    def collate(features):
        batch = collator(features)
        mask = batch["attention_mask"]
        shapes.append((int(mask.shape[0]), int(mask.shape[1]), int(mask.sum())))
        return batch

    with tempfile.TemporaryDirectory() as tmp:
        training_args = TrainingArguments(
            output_dir=tmp, per_device_train_batch_size=args.batch_size, num_train_epochs=1,
            learning_rate=args.learning_rate, weight_decay=0.0, lr_scheduler_type="constant",
            warmup_steps=0, train_sampling_strategy="group_by_length", use_cpu=True,
            report_to=[], save_strategy="no", logging_strategy="no", disable_tqdm=True,
            dataloader_num_workers=0, seed=common.SEED)
        model.train()
        trainer = Trainer(model=model, args=training_args, train_dataset=train,
                          data_collator=collate, callbacks=[StepTimes()])
        trainer.train()
    model.eval()
    steps = [b - a for a, b in zip(ends, ends[1:])]
    phases.end("training", tokenize_seconds=round(tokenize_seconds, 2),
               **step_summary(steps, shapes, warmup_steps=TORCH_WARMUP_STEPS))

    torch_batch_inference(tokenizer, model, rows, args, phases, ("unsorted", "sorted"))
    if args.quantized:
        torch_precisions(tokenizer, model, rows, args, phases)
    return phases.rows


def torch_loop_arm(rows, args):
    """The peer at its leanest: a plain PyTorch loop, no Trainer."""
    phases = Phases()
    import torch

    tokenizer, model = torch_load(rows, phases, num_threads=2)
    seconds, _ = timed_calls(lambda s: torch_predict_one(tokenizer, model, s), rows["sentences"])
    phases.end("latency", **latency_summary(seconds))

    # Length-sorted batches in a seeded random order; each padded to its longest row.
    start = time.perf_counter()
    encoded = tokenizer(rows["train_texts"], truncation=True, max_length=common.MAX_SEQ_LEN)
    tokenize_seconds = time.perf_counter() - start
    ids, types = encoded["input_ids"], encoded["token_type_ids"]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batches = [order[i:i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    batches = [batches[i] for i in np.random.default_rng(common.SEED).permutation(len(batches))]
    labels = torch.tensor(rows["train_labels"])

    def pad(index):
        width = max(len(ids[i]) for i in index)
        batch = {"input_ids": torch.full((len(index), width), tokenizer.pad_token_id),
                 "attention_mask": torch.zeros((len(index), width), dtype=torch.long),
                 "token_type_ids": torch.zeros((len(index), width), dtype=torch.long)}
        for row, i in enumerate(index):
            batch["input_ids"][row, :len(ids[i])] = torch.tensor(ids[i])
            batch["attention_mask"][row, :len(ids[i])] = 1
            batch["token_type_ids"][row, :len(ids[i])] = torch.tensor(types[i])
        return batch

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=0.0)
    model.train()
    ends, shapes = [time.perf_counter()], []
    for index in batches:
        batch = pad(index)
        shapes.append((len(index), int(batch["input_ids"].shape[1]),
                       int(batch["attention_mask"].sum())))
        model(**batch, labels=labels[index]).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        ends.append(time.perf_counter())
    model.eval()
    steps = [b - a for a, b in zip(ends, ends[1:])]
    phases.end("training", tokenize_seconds=round(tokenize_seconds, 2),
               **step_summary(steps, shapes, warmup_steps=TORCH_WARMUP_STEPS))

    torch_batch_inference(tokenizer, model, rows, args, phases)
    if args.quantized:
        torch_precisions(tokenizer, model, rows, args, phases)
    return phases.rows


def torch_latency_profile(tokenizer, model, rows, torch):
    """Where one sentence's time goes: tokenizer, forward pass, and the top operators of
    `torch.profiler` over the first 30 sentences."""
    from torch.profiler import ProfilerActivity, profile

    sentences = rows["sentences"]
    tokenize, forward = [], []
    with torch.inference_mode():
        for sentence in sentences:
            start = time.perf_counter()
            inputs = tokenizer(sentence, truncation=True, max_length=common.MAX_SEQ_LEN,
                               return_tensors="pt")
            middle = time.perf_counter()
            model(**inputs)
            tokenize.append(middle - start)
            forward.append(time.perf_counter() - middle)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for sentence in sentences[:30]:
                model(**tokenizer(sentence, truncation=True, max_length=common.MAX_SEQ_LEN,
                                  return_tensors="pt"))
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:8]
    total = sum(e.self_cpu_time_total for e in prof.key_averages())
    return {"tokenizer_p50_ms": common.percentile_ms(tokenize, 50),
            "forward_p50_ms": common.percentile_ms(forward, 50),
            "forward_p99_ms": common.percentile_ms(forward, 99),
            "top_ops_self_cpu_share": {e.key: round(e.self_cpu_time_total / total, 3)
                                       for e in events}}


def bertcls_latency_profile(model, rows):
    """Where one `predict_text` call's time goes: the traced encoder alone, the traced
    forward pass alone on the encoded features, and the rest (Python, the call into the
    combined function, `_answer`)."""
    import tensorflow as tf

    from bertcls.tasks.prediction import text_encoder

    encoder = text_encoder(model)
    names = ("input_ids", "attention_mask", "token_type_ids")
    encode = tf.function(lambda x: {k: encoder(x)[k] for k in names},
                         input_signature=[tf.TensorSpec([None], tf.string)])
    spec = {k: tf.TensorSpec([None, None], tf.int32) for k in names}
    forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    sentences = rows["sentences"]
    features = [encode(tf.constant([s])) for s in sentences]
    for f in features[:WARMUP_CALLS]:
        forward(f)
    encode_s, forward_s, whole_s = [], [], []
    for sentence, f in zip(sentences, features):
        start = time.perf_counter()
        encode(tf.constant([sentence]))
        middle = time.perf_counter()
        forward(f).numpy()
        end = time.perf_counter()
        model.predict_text(sentence)
        encode_s.append(middle - start)
        forward_s.append(end - middle)
        whole_s.append(time.perf_counter() - end)
    lengths = [int(f["input_ids"].shape[1]) for f in features]
    return {"encoder_p50_ms": common.percentile_ms(encode_s, 50),
            "forward_p50_ms": common.percentile_ms(forward_s, 50),
            "forward_p99_ms": common.percentile_ms(forward_s, 99),
            "predict_text_p50_ms": common.percentile_ms(whole_s, 50),
            "tokens_p50": int(sorted(lengths)[len(lengths) // 2]), "tokens_max": max(lengths)}


# === bertcls arm =============================================================================

def bertcls_arm(rows, args):
    phases = Phases()
    import keras

    import bertcls
    phases.end("import", versions=common.versions())
    keras.utils.set_random_seed(common.SEED)
    model = common.build_classifier("minilm")
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    phases.end("model")

    seconds, _ = timed_calls(lambda s: model.predict_text(s)[1], rows["sentences"])
    phases.end("latency", **latency_summary(seconds))
    if args.profile:
        phases.end("latency_profile", **bertcls_latency_profile(model, rows))

    texts, labels = rows["train_texts"], np.asarray(rows["train_labels"], np.int32)

    def dataset():
        return bertcls.make_dataset(texts, labels, encoder=model.encoder,
                                    batch_size=args.batch_size, shuffle=True, seed=common.SEED)

    # A fresh dataset with the same seed gives the same batches (bench_training checks it).
    shapes = [(int(x["input_ids"].shape[0]), int(x["input_ids"].shape[1]),
               int(np.asarray(x["attention_mask"]).sum())) for x, _ in dataset()]
    ends = []

    class StepTimes(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            ends.append(time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.perf_counter())

    model.fit(dataset(), epochs=1, verbose=0, callbacks=[StepTimes()])
    steps = [b - a for a, b in zip(ends, ends[1:])]
    phases.end("training", **step_summary(steps, shapes))

    test = rows["test_texts"]
    batch, _ = timed_batch(
        lambda t: model.predict_texts(t, batch_size=args.batch_size)["probabilities"], test,
        rows["test_labels"])
    phases.end("batch_inference", texts=len(test), batch_size=args.batch_size, sorted=batch)
    if args.quantized:
        bertcls_precisions(model, rows, args, phases)
    return phases.rows


def bertcls_precisions(model, rows, args, phases):
    """`precision_phases` for the trained classifier: int8 is `model.quantize("int8")`
    (Keras' int8 mode on the dense, attention and embedding layers: int8 weights, inputs
    quantized per call; bertcls drops its traced predict functions, so `predict_text` and
    `predict_texts` run the int8 layers); the size is the `.keras` file of `model.save`.
    The model is compiled afresh first, so the file holds no Adam state (`.keras` files
    always include the optimizer's variables; torch's `state_dict` has none either)."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))

    def predictors():
        return (lambda s: model.predict_text(s)[1],
                lambda t: model.predict_texts(t, batch_size=args.batch_size)["probabilities"])

    def size_mb():
        with tempfile.TemporaryDirectory() as tmp:
            model.save(f"{tmp}/model.keras")
            return file_mb(f"{tmp}/model.keras")

    precision_phases(phases, rows, rows["test_texts"], rows["test_labels"], predictors,
                     size_mb, lambda: model.quantize("int8"))


# === tutorial arm (tutvenv, TF_USE_LEGACY_KERAS=1) ===========================================

def tutorial_arm(rows, args):
    phases = Phases()
    import tensorflow as tf
    import transformers
    from transformers import BertTokenizer, TFBertModel

    from bench_inference import sentiment_predict
    import tf_keras
    phases.end("import", tensorflow=tf.__version__, transformers=transformers.__version__,
               tf_keras=tf_keras.__version__)
    with tempfile.TemporaryDirectory() as tmp:
        common.convert_checkpoint(rows["model_dir"], tmp)
        tokenizer = BertTokenizer.from_pretrained(rows["model_dir"])

        model = common.tutorial_model_class(tf, TFBertModel)(tmp)
    phases.end("model")

    def predict(features, batch_size):
        return model.predict([features["input_ids"], features["attention_mask"],
                              features["token_type_ids"]], batch_size=batch_size, verbose=0)

    class Wrapped:  # sentiment_predict calls model.predict on a dict of three arrays
        def predict(self, features, verbose=0):
            return predict(features, 1)

    seconds, _ = timed_calls(lambda s: sentiment_predict(Wrapped(), tokenizer, s),
                             rows["sentences"])
    phases.end("latency", **latency_summary(seconds))

    texts = rows["test_texts"]
    predict(common.tutorial_features(tokenizer, texts[:64]), args.batch_size)
    start = time.perf_counter()
    features = common.tutorial_features(tokenizer, texts)
    encode_seconds = time.perf_counter() - start
    scores = predict(features, args.batch_size)[:, 0]
    seconds = time.perf_counter() - start
    phases.end("batch_inference", texts=len(texts), batch_size=args.batch_size,
               fixed_128={"seconds": round(seconds, 2), "encode_seconds": round(encode_seconds, 2),
                          "examples_per_s": round(len(texts) / seconds, 1),
                          "test_accuracy": accuracy(scores, rows["test_labels"])})
    return phases.rows


# === Driver ==================================================================================

def run_arm(arm, rows_file, args):
    environment = dict(os.environ)
    if arm == "bertcls":
        python = sys.executable
        environment["KERAS_BACKEND"] = "tensorflow"
    else:
        python = args.tutorial_python if arm == "tutorial" else args.torch_python
        environment.pop("PYTHONPATH", None)  # nothing of bertcls in that process
        if arm == "tutorial":
            environment["TF_USE_LEGACY_KERAS"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "result.json"
        command = [python, __file__, "--worker", arm, "--rows", str(rows_file),
                   "--worker-out", str(out), "--batch-size", str(args.batch_size),
                   "--learning-rate", str(args.learning_rate)]
        if args.profile:
            command.append("--profile")
        if not args.quantized:
            command.append("--no-quantized")
        load = os.getloadavg()
        start = time.perf_counter()
        completed = subprocess.run(command, env=environment, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        seconds = round(time.perf_counter() - start, 1)
        print("\n".join(line for line in completed.stdout.splitlines()
                        if line.startswith("  ")), flush=True)
        if completed.returncode != 0 or not out.exists():
            return {"error": f"exit {completed.returncode}",
                    "output_tail": completed.stdout[-3000:], "process_seconds": seconds}
        return {"phases": json.loads(out.read_text()), "process_seconds": seconds,
                "load_average_at_start": load, "load_average_at_end": os.getloadavg()}


def write_rows(args):
    """(bertcls process) The rows every arm reads, as JSON."""
    train_texts, train_labels = common.nsmc_slice("train", args.train_examples, seed=0)
    test_texts, test_labels = common.nsmc_slice("test", args.test_examples, seed=1)
    sentences, _ = common.nsmc_slice("test", args.sentences, seed=3)
    pathlib.Path(args.make_rows).write_text(json.dumps({
        "train_texts": train_texts, "train_labels": train_labels.tolist(),
        "test_texts": test_texts, "test_labels": test_labels.tolist(),
        "sentences": sentences, "model_dir": str(common.minilm_dir())}, ensure_ascii=False))


def summarize(results):
    """Medians across rounds of the figures the table shows, and bertcls / peer ratios."""
    def median(arm, phase, *keys):
        values = []
        for run in results.get(arm, []):
            value = run.get("phases", {}).get(phase)
            for key in keys:
                value = value.get(key) if isinstance(value, dict) else None
            if value is not None:
                values.append(value)
        return statistics.median(values) if values else None

    table = {}
    for arm in results:
        table[arm] = {
            "latency_p50_ms": median(arm, "latency", "p50_ms"),
            "latency_p99_ms": median(arm, "latency", "p99_ms"),
            "train_steady_examples_per_s": median(arm, "training", "steady_examples_per_s"),
            "train_total_examples_per_s": median(arm, "training", "total_examples_per_s"),
            "batch_examples_per_s": median(arm, "batch_inference", "sorted", "examples_per_s")
            or median(arm, "batch_inference", "fixed_128", "examples_per_s"),
            "batch_unsorted_examples_per_s": median(arm, "batch_inference", "unsorted",
                                                    "examples_per_s"),
            "peak_rss_mb": max((max(p["peak_rss_mb_so_far"] for p in run["phases"].values())
                                for run in results[arm] if "phases" in run), default=None),
        }
        # The trained model before and after int8 quantization, measured back to back.
        for phase, row in (("fp32_trained", f"{arm}_fp32"), ("quantized", f"{arm}_int8")):
            if median(arm, phase, "p50_ms") is None:
                continue
            table[row] = {key: median(arm, phase, name) for key, name in (
                ("latency_p50_ms", "p50_ms"), ("latency_p99_ms", "p99_ms"),
                ("batch_examples_per_s", "batch_examples_per_s"),
                ("test_accuracy", "test_accuracy"), ("size_mb", "size_mb"),
                ("max_probability_change", "max_probability_change"))
                if median(arm, phase, name) is not None}

    def ratio(ours, theirs, keys=None):
        return {key: round(table[ours][key] / table[theirs][key], 3)
                for key in (keys or table[theirs])
                if table[ours].get(key) and table[theirs].get(key)}

    speed = ("latency_p50_ms", "latency_p99_ms", "batch_examples_per_s", "size_mb")
    ratios = {}
    for peer in ("torch", "torch_loop", "tutorial"):
        if "bertcls" in table and peer in table:
            ratios[f"bertcls_vs_{peer}"] = ratio("bertcls", peer)
        if "bertcls_int8" in table and f"{peer}_int8" in table:
            ratios[f"bertcls_int8_vs_{peer}_int8"] = ratio("bertcls_int8", f"{peer}_int8", speed)
    for arm in results:
        if f"{arm}_int8" in table and f"{arm}_fp32" in table:
            ratios[f"{arm}_int8_vs_fp32"] = ratio(f"{arm}_int8", f"{arm}_fp32", speed)
    return table, ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default=None,
                        help=f"comma-separated, from {ARMS} (default: all; tutorial only "
                             "when the tutorial environment exists)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--train-examples", type=int, default=1280)
    parser.add_argument("--test-examples", type=int, default=2000)
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--profile", action="store_true",
                        help="also split one-sentence latency into its parts (torch: top "
                             "operators of torch.profiler; bertcls: encoder, forward, rest)")
    parser.add_argument("--no-quantized", dest="quantized", action="store_false",
                        help="skip the fp32_trained and quantized phases (int8 after "
                             "training; not in the tutorial arm)")
    parser.add_argument("--torch-python", default=common.REFERENCE_PYTHON)
    parser.add_argument("--tutorial-python", default=common.TUTORIAL_PYTHON)
    parser.add_argument("--out", default=str(common.REPO / "benchmarks" / "results"
                                             / "torch_peer.json"))
    parser.add_argument("--worker", choices=ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--rows", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    parser.add_argument("--make-rows", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.make_rows:
        write_rows(args)
        return
    if args.worker:
        rows = json.loads(pathlib.Path(args.rows).read_text())
        arm = {"torch": torch_arm, "torch_loop": torch_loop_arm, "bertcls": bertcls_arm,
               "tutorial": tutorial_arm}
        phases = arm[args.worker](rows, args)
        pathlib.Path(args.worker_out).write_text(json.dumps(phases))
        return

    if args.arms:
        arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    else:
        arms = [a for a in ARMS
                if a != "tutorial" or pathlib.Path(args.tutorial_python).parents[1].joinpath(
                    ".ready").exists()]
    started = time.perf_counter()
    # This process imports neither TensorFlow nor torch: Linux carries a parent's peak RSS
    # into the `ru_maxrss` of the children it starts, so the arms' peaks would include it.
    # Each arm records its own versions.
    report = {"command": "python " + " ".join(sys.argv), "machine": common.machine(),
              "cpu": common.cpu_model(), "load_average_at_start": os.getloadavg()}
    report["setup"] = {
        "model": common.describe_model("minilm"), "max_seq_len": common.MAX_SEQ_LEN,
        "train_rows": f"NSMC train, tutorial-cleaned, seeded sample (seed 0) of "
                      f"{args.train_examples}",
        "test_rows": f"NSMC test, missing rows dropped, seeded sample (seed 1) of "
                     f"{args.test_examples}",
        "sentences": f"NSMC test, seeded sample (seed 3) of {args.sentences}",
        "batch_size": args.batch_size, "learning_rate": args.learning_rate,
        "arms": arms, "rounds": args.rounds,
        "tutorial_arm": "the real tutorial stack (benchmarks/envs/tutorial.txt)"
        if "tutorial" in arms else "not run",
    }
    results = {arm: [] for arm in arms}
    with tempfile.TemporaryDirectory() as tmp:
        rows_file = pathlib.Path(tmp) / "rows.json"
        subprocess.run([sys.executable, __file__, "--make-rows", str(rows_file),
                        "--train-examples", str(args.train_examples),
                        "--test-examples", str(args.test_examples),
                        "--sentences", str(args.sentences)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for round_ in range(args.rounds):
            for arm in arms:
                print(f"round {round_ + 1}, {arm}: load average {os.getloadavg()[0]:.1f}",
                      flush=True)
                results[arm].append(run_arm(arm, rows_file, args))
    report["results"] = results
    report["table"], report["ratios"] = summarize(results)
    print(json.dumps({"table": report["table"], "ratios": report["ratios"]}, indent=1))
    common.finish_report(report, time.perf_counter() - started, args.out)


if __name__ == "__main__":
    main()
