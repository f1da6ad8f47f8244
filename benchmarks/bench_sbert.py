"""One epoch of CosineSimilarityLoss on KorSTS from all-MiniLM-L6-v2: bertcls vs
sentence-transformers, same data and hyper-parameters, test Spearman x100 for each.

    python benchmarks/bench_sbert.py --json benchmarks/results/sbert.json

Both sides: the same batches in the same order (the KorSTS training file permuted by
`numpy.random.default_rng(42)`, consecutive slices of 16 pairs), scores / 5, max_seq_len
128, Adam(W) with learning rate 2e-5 decaying linearly to 0 over the epoch, no warm-up,
no weight decay, gradient norm clipped at 1 (the Hugging Face Trainer defaults that
SentenceTransformerTrainer uses, with its learning rate set to 2e-5), dropout 0.1 as the
checkpoint's config says, mean pooling and Normalize as the checkpoint ships them. Test:
cosine of the two embeddings vs the gold score on sts-test.tsv, Spearman x100 (zero-shot
first).

The sentence-transformers side runs in the reference environment (torch; built by
`bash benchmarks/make_envs.sh`) in its own process: a plain
training loop around sentence_transformers.losses.CosineSimilarityLoss and the model's own
tokenize(), so nothing but the batch order, the loss and the optimiser settings is shared.
bertcls pads each side of a batch to the next power of two from 16 (as `make_siamese_dataset`
does, but without its length bucketing, which would regroup the pairs); sentence-transformers
pads to the batch's longest. Padding is masked, so it changes no result beyond rounding.
Expect tens of minutes on two CPU cores for each side; `--train-limit N` for a smoke test.
"""

import argparse
import json
import subprocess
import sys
import time

import numpy as np
from common import REFERENCE_PYTHON, REPO, finish_report, minilm_dir, report_header

KORSTS = REPO.parent / "shared" / "data" / "korsts"
BATCH, LR, MAX_LEN, SEED = 16, 2e-5, 128, 42

TORCH_SIDE = r"""
import csv, json, sys, time
import numpy as np, torch
from scipy.stats import spearmanr
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

model_dir, data_dir, batch, lr, max_len, seed, limit = sys.argv[1:8]
batch, lr, max_len, seed, limit = int(batch), float(lr), int(max_len), int(seed), int(limit)

def read(name):
    with open(f"{data_dir}/{name}", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [r[5] for r in rows], [r[6] for r in rows], np.array([float(r[4]) for r in rows])

def spearman(model, a, b, gold):
    u = model.encode(a, batch_size=64, convert_to_tensor=True, normalize_embeddings=True)
    v = model.encode(b, batch_size=64, convert_to_tensor=True, normalize_embeddings=True)
    return 100 * spearmanr((u * v).sum(-1).cpu().numpy(), gold)[0]

torch.manual_seed(seed)
model = SentenceTransformer(model_dir, device="cpu")
model.max_seq_length = max_len
train_a, train_b, train_y = read("sts-train.tsv")
train_a, train_b, train_y = train_a[:limit], train_b[:limit], train_y[:limit]
test_a, test_b, test_y = read("sts-test.tsv")
zero = spearman(model, test_a, test_b, test_y)
loss = CosineSimilarityLoss(model)
steps = -(-len(train_y) // batch)
optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / steps))
order = np.random.default_rng(seed).permutation(len(train_y))  # = batch_order()
start = time.time()
model.train()
for step in range(steps):
    idx = order[step * batch:(step + 1) * batch]
    features = [model.tokenize([train_a[i] for i in idx]),
                model.tokenize([train_b[i] for i in idx])]
    value = loss(features, torch.tensor(train_y[idx] / 5.0, dtype=torch.float32))
    optimizer.zero_grad()
    value.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    schedule.step()
    if (step + 1) % 40 == 0:
        print(f"step {step + 1}/{steps}: {time.time() - start:.0f} s", file=sys.stderr,
              flush=True)
model.eval()
print("RESULT " + json.dumps({"zero_shot_spearman": zero,
                              "trained_spearman": spearman(model, test_a, test_b, test_y),
                              "train_seconds": time.time() - start, "steps": steps}))
"""


def batch_order(n):
    """Indices of each training batch, shared by both sides."""
    order = np.random.default_rng(SEED).permutation(n)
    return [order[i:i + BATCH] for i in range(0, n, BATCH)]


def padded_batches(encoder, train):
    """The training batches as `({"a": features, "b": features}, labels)`, each side padded
    to the smallest of 16, 32, 64, 128 that holds its longest row (few shapes to compile)."""
    import tensorflow as tf

    def side(texts):
        features = {k: v.numpy() for k, v in encoder(tf.constant(texts)).items()
                    if k in ("input_ids", "attention_mask", "token_type_ids")}
        width = int(features["attention_mask"].sum(1).max())
        width = next(w for w in (16, 32, 64, 128, MAX_LEN) if w >= width)
        return {k: v[:, :width] for k, v in features.items()}

    a, b = train["sentence1"].to_numpy(), train["sentence2"].to_numpy()
    y = (train["score"] / 5.0).astype("float32").to_numpy()
    for idx in batch_order(len(train)):
        yield {"a": side(list(a[idx])), "b": side(list(b[idx]))}, y[idx]


def bertcls_side(model_dir, limit):
    import keras
    import tensorflow as tf

    import bertcls

    keras.utils.set_random_seed(SEED)
    train = bertcls.read_korsts(KORSTS / "sts-train.tsv")[:limit]
    test = bertcls.read_korsts(KORSTS / "sts-test.tsv")
    embedder = bertcls.SentenceEmbedder.from_preset(model_dir, max_seq_len=MAX_LEN)

    def spearman():
        a = embedder.embed(test["sentence1"].tolist(), batch_size=64)
        b = embedder.embed(test["sentence2"].tolist(), batch_size=64)
        return 100 * bertcls.spearman((a * b).sum(1), test["score"])

    zero = spearman()
    steps = -(-len(train) // BATCH)
    schedule = keras.optimizers.schedules.PolynomialDecay(LR, steps, end_learning_rate=0.0)
    model = bertcls.SiameseModel(embedder, objective="cosine")
    model.compile(optimizer=keras.optimizers.Adam(schedule, epsilon=1e-8, global_clipnorm=1.0))
    side = {k: tf.TensorSpec((None, None), tf.int32)
            for k in ("input_ids", "attention_mask", "token_type_ids")}
    batches = list(padded_batches(embedder.encoder, train))  # max_length-padded encoder
    data = tf.data.Dataset.from_generator(
        lambda: iter(batches),
        output_signature=({"a": side, "b": side}, tf.TensorSpec((None,), tf.float32)))
    start = time.time()
    model.fit(data, epochs=1, verbose=2)
    return {"zero_shot_spearman": zero, "trained_spearman": spearman(),
            "train_seconds": time.time() - start, "steps": steps}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--skip-reference", action="store_true",
                        help="run the bertcls side only")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="train on the first N pairs (smoke test; default: all 5,749)")
    args = parser.parse_args()
    report = report_header()
    started = time.time()
    model_dir = str(minilm_dir())
    report["train_limit"] = args.train_limit
    report["bertcls"] = bertcls_side(model_dir, args.train_limit)
    print("bertcls:", report["bertcls"], flush=True)
    if not args.skip_reference:
        done = subprocess.run(
            [REFERENCE_PYTHON, "-c", TORCH_SIDE, model_dir, str(KORSTS), str(BATCH), str(LR),
             str(MAX_LEN), str(SEED), str(args.train_limit or 10 ** 9)],
            stdout=subprocess.PIPE, text=True)  # progress on stderr
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            sys.exit(f"reference run failed (exit {done.returncode}); its stderr is above")
        report["sentence_transformers"] = json.loads(lines[-1][len("RESULT "):])
        print("sentence-transformers:", report["sentence_transformers"])
    if args.json:
        finish_report(report, time.time() - started, args.json)


if __name__ == "__main__":
    main()
