"""chatlab: livestream recordings and their chat -> a clean training set and a chat-writing LoRA."""

__version__ = "0.1.0"
