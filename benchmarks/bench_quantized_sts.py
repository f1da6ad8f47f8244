"""How much int8 quantization moves KorSTS Spearman of all-MiniLM-L6-v2 sentence embeddings,
in bertcls and in transformers + PyTorch: no training, the checkpoint as it ships.

- `bertcls` (this process): `SentenceEmbedder.from_preset(<minilm dir>)` (mean pooling and
  Normalize from its modules.json, max_seq_len 256 from sentence_bert_config.json), `embed`
  (length-sorted batches), then `quantize("int8")` (Keras' int8 mode: int8 weights of the
  dense, attention and embedding layers, inputs quantized per call) and `embed` again.
- `torch` (the reference environment, `.refvenv` or `$BERTCLS_REFVENV`, in its own process):
  `AutoModel` + `AutoTokenizer`, the texts tokenized (truncated to the same max_seq_len),
  sorted by length, in batches each padded to its longest text, mean pooling over
  `attention_mask` as sentence-transformers' Pooling does; then
  `torch.ao.quantization.quantize_dynamic` on every `nn.Linear` (qint8) and the same again.

Each side: the cosine of the two sentences' embeddings for every sts-test pair, fp32 and
int8; the driver scores both sides with `bertcls.spearman` against the gold scores (x100)
and reports the drift (int8 - fp32), the largest absolute change of a pair's cosine, and the
time to embed all the pairs' sentences (after one warm-up call on 64 sentences) in each
precision. The driver reads the pairs (`bertcls.read_korsts`) and hands them to the torch
process in a JSON file; torch and TensorFlow never share a process.

    python benchmarks/bench_quantized_sts.py [--pairs N] [--batch-size 64]
        [--out benchmarks/results/quantized_sts.json]
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

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import common  # noqa: E402  (numpy only: importable in every venv)
import numpy as np  # noqa: E402

KORSTS_TEST = common.REPO.parent / "shared" / "data" / "korsts" / "sts-test.tsv"
BATCH_SIZE = 64


def pair_cosines(vectors, n):
    """Cosine of rows i and n + i of `vectors` (the first and second sentences of n pairs)."""
    vectors = np.asarray(vectors, np.float64)
    a, b = vectors[:n], vectors[n:]
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return (a * b).sum(axis=1) / norms


def both_precisions(embed, quantize, texts):
    """Cosines and embedding time of `embed(texts)` before and after `quantize()`."""
    n, result = len(texts) // 2, {}
    for precision in ("fp32", "int8"):
        if precision == "int8":
            start = time.perf_counter()
            quantize()
            result["quantize_seconds"] = round(time.perf_counter() - start, 2)
        embed(texts[:64])
        start = time.perf_counter()
        vectors = embed(texts)
        seconds = time.perf_counter() - start
        result[precision] = {"embed_seconds": round(seconds, 2),
                             "sentences_per_s": round(len(texts) / seconds, 1),
                             "cosines": pair_cosines(vectors, n).tolist()}
    return result


# === torch side (refvenv) ====================================================================

def torch_side(rows):
    import warnings

    import torch
    import transformers
    from transformers import AutoModel, AutoTokenizer

    transformers.logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(rows["model_dir"])
    current = {"model": AutoModel.from_pretrained(rows["model_dir"]).eval()}

    def embed(texts):
        ids = tokenizer(texts, truncation=True, max_length=rows["max_seq_len"])["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        vectors = np.zeros((len(texts), current["model"].config.hidden_size), np.float32)
        with torch.inference_mode():
            for begin in range(0, len(order), rows["batch_size"]):
                index = order[begin:begin + rows["batch_size"]]
                width = max(len(ids[i]) for i in index)
                input_ids = torch.full((len(index), width), tokenizer.pad_token_id)
                mask = torch.zeros((len(index), width), dtype=torch.long)
                for row, i in enumerate(index):
                    input_ids[row, :len(ids[i])] = torch.tensor(ids[i])
                    mask[row, :len(ids[i])] = 1
                hidden = current["model"](input_ids=input_ids, attention_mask=mask,
                                          token_type_ids=torch.zeros_like(mask))[0]
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                vectors[index] = ((hidden * weights).sum(1)
                                  / weights.sum(1).clamp(min=1e-9)).numpy()
        return vectors

    def quantize():
        with warnings.catch_warnings():  # torch.ao.quantization is deprecated (torchao)
            warnings.simplefilter("ignore")
            current["model"] = torch.ao.quantization.quantize_dynamic(
                current["model"], {torch.nn.Linear}, dtype=torch.qint8)

    result = both_precisions(embed, quantize, rows["sentence1"] + rows["sentence2"])
    result["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                          "torch_threads": torch.get_num_threads()}
    return result


# === bertcls side and driver ================================================================

def bertcls_side(model_dir, texts, batch_size):
    import bertcls

    embedder = bertcls.SentenceEmbedder.from_preset(model_dir)
    result = both_precisions(lambda t: embedder.embed(t, batch_size=batch_size),
                             lambda: embedder.quantize("int8"), texts)
    return result, embedder.encoder.max_seq_len


def scored(side, gold):
    """Spearman x100 of each precision's cosines against `gold`, drift and largest change."""
    import bertcls

    for precision in ("fp32", "int8"):
        cosines = side[precision].pop("cosines")
        side[precision]["spearman_x100"] = round(100 * float(bertcls.spearman(cosines, gold)), 3)
        side[precision]["_cosines"] = np.asarray(cosines)
    side["drift_x100"] = round(side["int8"]["spearman_x100"] - side["fp32"]["spearman_x100"], 3)
    side["max_cosine_change"] = round(float(np.abs(
        side["int8"].pop("_cosines") - side["fp32"].pop("_cosines")).max()), 5)
    return side


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=None,
                        help="the first N sts-test pairs (default: all 1,379)")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--skip-torch", action="store_true", help="run the bertcls side only")
    parser.add_argument("--torch-python", default=common.REFERENCE_PYTHON)
    parser.add_argument("--out", default=str(common.REPO / "benchmarks" / "results"
                                             / "quantized_sts.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        rows = json.loads(pathlib.Path(args.worker).read_text())
        pathlib.Path(args.worker_out).write_text(json.dumps(torch_side(rows)))
        return

    import bertcls

    started = time.perf_counter()
    report = common.report_header()
    test = bertcls.read_korsts(KORSTS_TEST)[:args.pairs]
    gold = test["score"].to_numpy()
    model_dir = str(common.minilm_dir())
    texts = test["sentence1"].tolist() + test["sentence2"].tolist()
    print(f"{len(test)} pairs; bertcls: load average {os.getloadavg()[0]:.1f}", flush=True)
    results = {}
    results["bertcls"], max_seq_len = bertcls_side(model_dir, texts, args.batch_size)
    report["setup"] = {
        "model": "all-MiniLM-L6-v2 as it ships (mean pooling; no training)",
        "data": f"KorSTS sts-test.tsv, first {len(test)} pairs",
        "max_seq_len": max_seq_len, "batch_size": args.batch_size,
        "metric": "Spearman x100 of the pair cosine against the gold score (bertcls.spearman)",
    }
    if not args.skip_torch:
        print(f"torch: load average {os.getloadavg()[0]:.1f}", flush=True)
        environment = dict(os.environ)
        environment.pop("PYTHONPATH", None)  # nothing of bertcls in that process
        with tempfile.TemporaryDirectory() as tmp:
            rows_file, out = pathlib.Path(tmp) / "rows.json", pathlib.Path(tmp) / "out.json"
            rows_file.write_text(json.dumps({
                "sentence1": test["sentence1"].tolist(), "sentence2": test["sentence2"].tolist(),
                "model_dir": model_dir, "max_seq_len": max_seq_len,
                "batch_size": args.batch_size}, ensure_ascii=False))
            completed = subprocess.run(
                [args.torch_python, __file__, "--worker", str(rows_file),
                 "--worker-out", str(out)], env=environment, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)
            if completed.returncode != 0 or not out.exists():
                results["torch"] = {"error": f"exit {completed.returncode}",
                                    "output_tail": completed.stdout[-3000:]}
            else:
                results["torch"] = json.loads(out.read_text())
    for name, side in results.items():
        if "error" not in side:
            report[name] = scored(side, gold)
        else:
            report[name] = side
            print(f"{name} failed: {side['output_tail']}")
    print(f"{'side':8} {'fp32':>7} {'int8':>7} {'drift':>7} {'max dcos':>9} "
          f"{'fp32 s':>7} {'int8 s':>7}")
    for name in results:
        side = report[name]
        if "error" not in side:
            print(f"{name:8} {side['fp32']['spearman_x100']:7.2f} "
                  f"{side['int8']['spearman_x100']:7.2f} {side['drift_x100']:7.2f} "
                  f"{side['max_cosine_change']:9.4f} {side['fp32']['embed_seconds']:7.1f} "
                  f"{side['int8']['embed_seconds']:7.1f}")
    common.finish_report(report, time.perf_counter() - started, args.out)


if __name__ == "__main__":
    main()
