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
    limit_intra_op_threads()
    return create_app(settings, open_in_background=True)


def limit_intra_op_threads() -> None:
    """One thread inside each torch, BLAS and FAISS call of a serving worker (MEDIASEARCH_INTRAOP_THREADS,
    default 1; 0 keeps the libraries' own defaults). A worker serves many small requests at once and runs
    a query's channels on threads of its own (query/concurrent.py): splitting a one-query MiniLM pass or a
    200 x 384 product over the cores only makes the threads wait on each other. Measured on the 2-core
    machine under load 22 (docs/benchmarks.md): MiniLM on one query 1,060-2,106 ms with 2 threads against
    153 ms with 1; a 200 x 384 self-product 67 ms against 2.2 ms."""
    raw = os.environ.get("MEDIASEARCH_INTRAOP_THREADS", "1").strip() or "1"
    threads = int(raw) if raw.isdigit() else 1
    if threads <= 0:
        return
    import faiss
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    threadpool_limits(limits=threads)  # numpy's (and scipy's) BLAS, OpenMP of the other libraries
