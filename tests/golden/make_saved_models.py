"""Write the `.keras` files that tests/test_layout.py loads: saved by bertcls as it was before the
package moved into tiers (commit c3ca341), so a move that changes a registered name fails there.

Run from a checkout of that commit: `PYTHONPATH=<old checkout> python make_saved_models.py`.
"""

import os

import keras
import numpy as np

from bertcls import BertBackbone, BertClassifier, BertTagger, FeatureEncoder

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "seoul", "##s"]
TEXTS = ["good movie", "bad movies", "seoul movie good"]


def main():
    keras.utils.set_random_seed(0)
    encoder = FeatureEncoder(VOCAB, max_seq_len=8)
    features = {k: np.asarray(v) for k, v in encoder(TEXTS).items()}
    outputs = {}
    for name, build in (
            ("classifier", lambda b: BertClassifier(b, num_classes=3, encoder=encoder)),
            ("tagger", lambda b: BertTagger(b, num_tags=3, encoder=encoder))):
        backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2,
                                hidden_size=8, intermediate_size=16)
        model = build(backbone)
        model.compile()
        model.save(os.path.join(HERE, f"{name}_v0.1.keras"))
        outputs[name] = np.asarray(model.predict(features, verbose=0))
    np.savez(os.path.join(HERE, "saved_models_v0.1.npz"), **outputs,
             **{f"feature_{k}": v for k, v in features.items()})


if __name__ == "__main__":
    main()
