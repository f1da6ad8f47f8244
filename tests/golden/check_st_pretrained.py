"""Load `SentenceEmbedder.save_pretrained` directories with sentence-transformers and compare
embeddings. Run in the reference environment (torch), never in the test process;
tests/test_publishing.py runs it as

    .refvenv/bin/python tests/golden/check_st_pretrained.py MANIFEST

MANIFEST is a JSON list of {"directory", "expected" (an .npz with `texts` and bertcls'
`embeddings`)}. Prints one line `RESULT {directory: {"max_diff", "modules"}}`.
"""

import json
import sys

import numpy as np
from sentence_transformers import SentenceTransformer


def main(manifest):
    results = {}
    for entry in json.load(open(manifest)):
        data = np.load(entry["expected"])
        model = SentenceTransformer(entry["directory"], device="cpu")
        embeddings = model.encode([str(t) for t in data["texts"]], convert_to_numpy=True)
        results[entry["directory"]] = {
            "max_diff": float(np.abs(embeddings - data["embeddings"]).max()),
            "modules": [type(m).__name__ for m in model]}
    print("RESULT" + json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
