"""Task models on a backbone: heads, the task base, text prediction, classifier, tagger, NER."""
