"""One epoch of CosineSimilarityLoss on KorSTS from all-MiniLM-L6-v2: bertcls vs
sentence-transformers, same data and hyper-parameters, test Spearman x100 for each.

    python benchmarks/bench_sbert.py --json benchmarks/results/sbert.json

Both sides: the KorSTS training file in file order shuffled with one seed per side, scores / 5,
batch 16, max_seq_len 128, Adam(W) with learning rate 2e-5 decaying linearly to 0 over the
epoch, no warm-up, no weight decay, gradient norm clipped at 1 (the Hugging Face Trainer
defaults that SentenceTransformerTrainer uses, with its learning rate set to 2e-5), mean
pooling and Normalize as the checkpoint ships them. Test: cosine of the two embeddings vs the
gold score on sts-test.tsv, Spearman x100 (zero-shot first).

The sentence-transformers side runs in /work/refvenv (torch) in its own process: a plain
training loop around sentence_transformers.losses.CosineSimilarityLoss and the model's own
tokenize(), so nothing but the loss and the optimiser settings is shared. Expect tens of
minutes on two CPU cores for each side.
"""

import argparse
import json
import subprocess
import sys
import time

from common import REPO, finish_report, minilm_dir, report_header

KORSTS = REPO.parent / "shared" / "data" / "korsts"
REFERENCE_PYTHON = "/work/refvenv/bin/python"
BATCH, LR, MAX_LEN, SEED = 16, 2e-5, 128, 42

TORCH_SIDE = r"""
import csv, json, sys, time
import numpy as np, torch
from scipy.stats import spearmanr
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

model_dir, data_dir, batch, lr, max_len, seed = sys.argv[1:7]
batch, lr, max_len, seed = int(batch), float(lr), int(max_len), int(seed)

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
test_a, test_b, test_y = read("sts-test.tsv")
zero = spearman(model, test_a, test_b, test_y)
loss = CosineSimilarityLoss(model)
steps = -(-len(train_y) // batch)
optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / steps))
order = np.random.default_rng(seed).permutation(len(train_y))
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
model.eval()
print("RESULT " + json.dumps({"zero_shot_spearman": zero,
                              "trained_spearman": spearman(model, test_a, test_b, test_y),
                              "train_seconds": time.time() - start, "steps": steps}))
"""


def bertcls_side(model_dir):
    import keras

    import bertcls

    keras.utils.set_random_seed(SEED)
    train = bertcls.read_korsts(KORSTS / "sts-train.tsv")
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
    data = bertcls.make_siamese_dataset(
        (train["sentence1"].tolist(), train["sentence2"].tolist()),
        (train["score"] / 5.0).astype("float32").to_numpy(), encoder=embedder.encoder,
        batch_size=BATCH, shuffle=True, seed=SEED)
    start = time.time()
    model.fit(data, epochs=1, verbose=2)
    return {"zero_shot_spearman": zero, "trained_spearman": spearman(),
            "train_seconds": time.time() - start, "steps": steps}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--skip-reference", action="store_true",
                        help="run the bertcls side only")
    args = parser.parse_args()
    report = report_header()
    started = time.time()
    model_dir = str(minilm_dir())
    report["bertcls"] = bertcls_side(model_dir)
    print("bertcls:", report["bertcls"], flush=True)
    if not args.skip_reference:
        done = subprocess.run(
            [REFERENCE_PYTHON, "-c", TORCH_SIDE, model_dir, str(KORSTS), str(BATCH), str(LR),
             str(MAX_LEN), str(SEED)], capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            sys.exit(f"reference run failed:\n{done.stderr[-3000:]}")
        report["sentence_transformers"] = json.loads(lines[-1][len("RESULT "):])
        print("sentence-transformers:", report["sentence_transformers"])
    if args.json:
        finish_report(report, time.time() - started, args.json)


if __name__ == "__main__":
    main()
