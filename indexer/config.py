"""Settings, read from MEDIASEARCH_* environment variables."""

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

EncoderChoice = Literal["auto", "clip", "bundled"]


class Settings(BaseModel):
    home: Path = Field(default=Path(".mediasearch"), description="Folder holding every store.")
    encoder: EncoderChoice = "auto"
    clip_model: str = "ViT-B-32"
    # An open_clip pretrained tag, or the path of a local checkpoint file.
    clip_pretrained: str = "laion2b_s34b_b79k"
    # faiss.index_factory string for the vector indexes (metric: inner product).
    faiss_factory: str = "Flat"
    max_upload_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 60_000_000
    max_text_chars: int = 1_000_000
    thumbnail_size: int = 256
    # Save the vector indexes after this many writes; the rest is replayed from SQLite.
    vector_save_every: int = 200

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        env = os.environ
        values: dict[str, object] = {}
        mapping = {
            "home": "MEDIASEARCH_HOME",
            "encoder": "MEDIASEARCH_ENCODER",
            "clip_model": "MEDIASEARCH_CLIP_MODEL",
            "clip_pretrained": "MEDIASEARCH_CLIP_PRETRAINED",
            "faiss_factory": "MEDIASEARCH_FAISS_FACTORY",
            "max_upload_bytes": "MEDIASEARCH_MAX_UPLOAD_BYTES",
            "max_image_pixels": "MEDIASEARCH_MAX_IMAGE_PIXELS",
        }
        for field_name, var in mapping.items():
            if env.get(var):
                values[field_name] = env[var]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
