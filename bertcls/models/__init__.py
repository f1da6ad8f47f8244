"""Encoders: the backbone networks, their Hugging Face checkpoint reading and writing."""
