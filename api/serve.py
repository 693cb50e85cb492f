"""The app each uvicorn worker of `mediasearch serve` builds (uvicorn imports it by name: api.serve:serve_app).

It lives apart from api/ops.py so that ops, which api/app.py installs, never imports the app back.
"""

import os

from fastapi import FastAPI

from api.app import create_app
from api.ops import configure_logging
from indexer.config import Settings


def serve_app() -> FastAPI:
    """The factory `mediasearch serve` hands uvicorn: settings from the environment, logs set up,
    the collection opened in the background (GET /ready says when it is done)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import transformers

        transformers.utils.logging.disable_progress_bar()
    except Exception:  # noqa: BLE001 - cosmetic
        pass
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    return create_app(settings, open_in_background=True)
