"""Load bertcls `BertMaskedLM.save_pretrained` directories with transformers'
`AutoModelForMaskedLM` and compare logits (run in the reference venv, never in the test
process; tests/test_masked_lm.py runs it as

    .refvenv/bin/python tests/golden/families_mlm/check_mlm_pretrained.py MANIFEST

MANIFEST is a JSON list of {"directory", "expected" (an .npz with the inputs and bertcls'
`logits`)}. Prints one line `RESULT {...}`: per directory the class transformers picked, its
loading problems (missing / unexpected / mismatched weights) and the max abs difference of
the logits at real tokens.
"""

import json
import sys

import numpy as np
import torch
import transformers


def check(entry):
    model, info = transformers.AutoModelForMaskedLM.from_pretrained(
        entry["directory"], attn_implementation="eager", output_loading_info=True)
    model.eval()
    data = np.load(entry["expected"])
    feed = {"input_ids": torch.tensor(data["input_ids"]).long(),
            "attention_mask": torch.tensor(data["attention_mask"]).long()}
    if model.config.model_type != "distilbert":
        feed["token_type_ids"] = torch.tensor(data["token_type_ids"]).long()
    with torch.no_grad():
        logits = model(**feed).logits.numpy()
    mask = data["attention_mask"].astype(bool)
    return {"class": type(model).__name__,
            "problems": {k: [str(n) for n in v] for k, v in info.items() if v},
            "max_diff": float(np.abs(logits - data["logits"])[mask].max())}


def main(manifest):
    with open(manifest) as f:
        entries = json.load(f)
    print("RESULT" + json.dumps({e["directory"]: check(e) for e in entries}))


if __name__ == "__main__":
    main(sys.argv[1])
