"""Load bertcls task models' `save_pretrained` directories in transformers and compare.

Run in the reference venv (torch + transformers), never in the test process; the test
tests/test_family_tasks.py::test_save_pretrained_loads_in_transformers runs it as

    .refvenv/bin/python tests/golden/families/check_task_pretrained.py MANIFEST

MANIFEST is a JSON list of {"directory", "kind" ("sequence" | "token" | "qa"), "mode"
("binary" | "multiclass" | "multilabel" | "regression" | "tags" | "span"), "expected" (an
.npz with the inputs and bertcls' probabilities, or for "qa" its `start_logits` /
`end_logits`)}.
Each directory is loaded with `AutoModelForSequenceClassification` /
`AutoModelForTokenClassification` (eager attention, every weight must match: no missing,
unexpected or mismatched names), run on the inputs, its logits turned into probabilities
(softmax; sigmoid for multi-label; softmax(...)[:, 1] for binary, which bertcls writes as
logits [0, z]) and compared with bertcls' (at real tokens for tagging). Prints one line
`RESULT {...}` with, per directory, the class transformers picked, the loading problems
and the max abs difference. A "qa" directory is loaded with `AutoModelForQuestionAnswering`
and its start/end logits compared at real tokens (tests/test_family_qa.py).
"""

import json
import sys

import numpy as np
import torch
import transformers


AUTO = {"sequence": "AutoModelForSequenceClassification",
        "token": "AutoModelForTokenClassification", "qa": "AutoModelForQuestionAnswering"}


def check(entry):
    auto = getattr(transformers, AUTO[entry["kind"]])
    model, info = auto.from_pretrained(entry["directory"], attn_implementation="eager",
                                       output_loading_info=True)
    model.eval()
    data = np.load(entry["expected"])
    feed = {"input_ids": torch.tensor(data["input_ids"]).long(),
            "attention_mask": torch.tensor(data["attention_mask"]).long()}
    if model.config.model_type != "distilbert":
        feed["token_type_ids"] = torch.tensor(data["token_type_ids"]).long()
    problems = {k: [str(name) for name in v] for k, v in info.items() if v}
    if entry["kind"] == "qa":
        with torch.no_grad():
            out = model(**feed)
        mask = data["attention_mask"].astype(bool)
        difference = max(
            float(np.abs(out.start_logits.numpy() - data["start_logits"])[mask].max()),
            float(np.abs(out.end_logits.numpy() - data["end_logits"])[mask].max()))
        return {"class": type(model).__name__, "problems": problems, "max_diff": difference,
                "tokenizer": _tokenizer(entry["directory"])}
    with torch.no_grad():
        logits = model(**feed).logits
    if entry["mode"] == "multilabel":
        probabilities = torch.sigmoid(logits).numpy()
    elif entry["mode"] == "regression":
        probabilities = logits.numpy()
    else:
        probabilities = torch.softmax(logits, dim=-1).numpy()
    if entry["mode"] == "binary":
        probabilities = probabilities[:, 1:]
    expected = data["probabilities"]
    difference = np.abs(probabilities - expected)
    if entry["kind"] == "token":
        difference = np.where(data["attention_mask"][..., None] == 1, difference, 0)
    return {"class": type(model).__name__, "problems": problems,
            "max_diff": float(difference.max()), "shape": list(probabilities.shape),
            "id2label": model.config.id2label}


def _tokenizer(directory):
    """The class AutoTokenizer picks for the directory (None when it cannot load one)."""
    try:
        return type(transformers.AutoTokenizer.from_pretrained(directory)).__name__
    except Exception as e:  # the directory may hold no tokenizer files
        return f"none ({type(e).__name__})"


def main(manifest):
    with open(manifest) as f:
        entries = json.load(f)
    print("RESULT" + json.dumps({e["directory"]: check(e) for e in entries}))


if __name__ == "__main__":
    main(sys.argv[1])
