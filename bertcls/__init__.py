"""bertcls: fine-tune BERT-family encoders with Keras 3.

The public surface of the package; everything a user needs is importable from here.
"""

__version__ = "0.1.0"

# === Text ===
from bertcls.hub import PresetError, resolve_preset

# === Model ===

# === Tasks ===

# === Running ===

__all__ = [
    # Text
    "PresetError",
    "resolve_preset",
    # Model
    # Tasks
    # Running
]
