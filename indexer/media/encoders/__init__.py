"""Encoders turn texts and images into unit vectors.

Every cross-modal encoder follows `Encoder`; the dense sentence encoder for
text-to-text search follows `TextEncoder`. `load_encoder` picks one by name.
"""

from indexer.media.encoders.base import Encoder, TextEncoder
from indexer.media.encoders.factory import clip_weights_available, load_encoder, load_sentence_encoder

__all__ = ["Encoder", "TextEncoder", "clip_weights_available", "load_encoder", "load_sentence_encoder"]
