"""Choosing and loading encoders."""

from indexer.config import Settings
from indexer.device import torch_device
from indexer.media.encoders.base import Encoder, TextEncoder
from indexer.errors import ConfigurationError


def clip_weights_available(settings: Settings) -> bool:
    from indexer.media.encoders.clip import clip_checkpoint_cached

    try:
        return clip_checkpoint_cached(settings.clip_model, settings.clip_pretrained)
    except Exception:
        return False


def encoder_kind(encoder_id: str) -> str:
    return encoder_id.split(":", 1)[0]


def load_encoder(settings: Settings, stored_encoder_id: str | None = None) -> tuple[Encoder, str]:
    """The active encoder and a sentence saying why it was chosen.

    `auto` follows the encoder an existing index was built with, and otherwise
    picks CLIP when its weights are on disk and the bundled encoder when not.
    """
    choice = settings.encoder
    reason = f"MEDIASEARCH_ENCODER={choice}"
    if choice == "auto":
        if stored_encoder_id is not None:
            choice = "clip" if encoder_kind(stored_encoder_id) == "clip" else "bundled"
            reason = f"auto: the index was built with {stored_encoder_id}"
        elif clip_weights_available(settings):
            choice, reason = "clip", f"auto: CLIP weights for {settings.clip_model} found on disk"
        else:
            choice, reason = "bundled", (
                f"auto: no CLIP weights for {settings.clip_model}/{settings.clip_pretrained} on disk, "
                "using the offline bundled encoder"
            )
    if choice == "clip":
        from indexer.media.encoders.clip import ClipEncoder

        return ClipEncoder(settings.clip_model, settings.clip_pretrained, torch_device(settings.device)), reason
    if choice == "bundled":
        from indexer.media.encoders.bundled import BundledEncoder

        return BundledEncoder(device=torch_device(settings.device)), reason
    raise ConfigurationError(f"unknown encoder '{choice}'", "use auto, clip or bundled")


def load_sentence_encoder() -> TextEncoder:
    from indexer.media.encoders.minilm import shared_minilm

    return shared_minilm()
