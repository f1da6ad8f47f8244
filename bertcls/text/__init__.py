"""Text to token ids: normaliser, tokenizers, feature encoder layers, vocabulary training."""
