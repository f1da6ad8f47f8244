"""Writes tests/golden/squad_v2_scores.json: random SQuAD 2.0 cases and the scores the official
evaluator gives them. The official script is not part of this repository; pass its path:

    python tests/golden/make_squad_v2_golden.py /path/to/evaluate-v2.0.py

(the SQuAD 2.0 evaluator from https://rajpurkar.github.io/SQuAD-explorer/, run unchanged in a
subprocess of its own with `--na-prob-file` and `--na-prob-thresh`; it needs numpy only).
Each case has unanswerable questions, empty predictions, gold answers that normalise to
nothing ("the", "."), several gold answers, and no-answer probabilities on a coarse grid so
that ties are frequent (the official best-threshold search depends on their order).
"""

import json
import pathlib
import random
import subprocess
import sys
import tempfile

OUT = pathlib.Path(__file__).resolve().parent / "squad_v2_scores.json"
WORDS = ["the", "a", "an", "Seoul", "seoul", "Busan", "1443년", "세종대왕", "King", "sejong",
         "of", "in", "river", "Han", "han-gang", "U.S.", "us", "(1)", "it's", "Theatre"]
MARKS = ["", "", ".", ",", "!", "'", '"', " ", "  ", "-"]


def text(rng, low=1, high=4):
    words = [rng.choice(WORDS) + rng.choice(MARKS) for _ in range(rng.randint(low, high))]
    return rng.choice(["", " "]) + " ".join(words) + rng.choice(MARKS)


def make_case(seed, questions, answerable_share, grid):
    rng = random.Random(seed)
    references, predictions, probs = {}, {}, {}
    for i in range(questions):
        qid = f"q{seed}-{i}"
        if rng.random() < answerable_share:
            golds = [text(rng) for _ in range(rng.randint(1, 3))]
            if rng.random() < 0.1:
                golds.append(rng.choice(["the", ".", "a an"]))  # normalises to nothing
            if rng.random() < 0.05:
                golds = ["the"]  # answerable by `answers`, yet scored as unanswerable
        else:
            golds = []
        roll = rng.random()
        if roll < 0.3:
            prediction = ""
        elif roll < 0.6 and golds:
            prediction = rng.choice(golds) + rng.choice(MARKS)
        else:
            prediction = text(rng)
        references[qid] = golds
        predictions[qid] = prediction
        # Informative but noisy: higher for unanswerable questions and empty predictions,
        # so that the best threshold is not simply 0.
        lean = 0.3 * (not golds) + 0.3 * (not prediction) + rng.uniform(0.0, 0.6)
        probs[qid] = round(round(min(lean, 1.0) * grid) / grid, 6)
    # Shuffle the probability dict's order: the official tie order follows it.
    items = list(probs.items())
    rng.shuffle(items)
    return references, predictions, dict(items)


def official(evaluator, references, predictions, probs, threshold):
    data = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{
        "context": "c", "qas": [{"id": qid, "question": "?",
                                 "answers": [{"text": g, "answer_start": 0} for g in golds]}
                                for qid, golds in references.items()]}]}]}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for name, value in (("data", data), ("pred", predictions), ("na", probs)):
            (tmp / f"{name}.json").write_text(json.dumps(value))
        subprocess.run([sys.executable, str(evaluator), str(tmp / "data.json"),
                        str(tmp / "pred.json"), "-n", str(tmp / "na.json"),
                        "-t", repr(threshold), "-o", str(tmp / "out.json")], check=True)
        return json.loads((tmp / "out.json").read_text())


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    evaluator = pathlib.Path(sys.argv[1])
    cases = []
    for seed, questions, share, grid, threshold in [
            (0, 200, 0.5, 10, 1.0), (1, 300, 0.7, 4, 0.5), (2, 150, 0.3, 20, 0.25),
            (3, 100, 1.0, 10, 0.6), (4, 100, 0.0, 10, 0.3), (5, 500, 0.5, 2, 0.5),
            (6, 7, 0.5, 1, 1.0), (7, 1000, 0.6, 100, 0.42)]:
        references, predictions, probs = make_case(seed, questions, share, grid)
        cases.append({"threshold": threshold, "references": references,
                      "predictions": predictions, "no_answer_probs": probs,
                      "official": official(evaluator, references, predictions, probs,
                                           threshold)})
    OUT.write_text(json.dumps({"cases": cases}, ensure_ascii=False, indent=0) + "\n",
                   encoding="utf-8")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
