"""What every `mediasearch` command shares: the consoles, one place that reports errors, opening and
closing the collection, and the tables and JSON files of results.

Modules that load numpy, FAISS, PyTorch or scikit-learn (the collection, ingest, query, recommender and
what builds on them), and the server (uvicorn, api.ops), are imported inside the commands that use
them, here and in every module of this package: imported at the top, they would make every command,
`mediasearch --help` and `mediasearch keys ...` included, wait for them (seconds for PyTorch).
"""

import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from indexer.config import Settings
from indexer.errors import MediasearchError

if TYPE_CHECKING:
    from indexer.collection import Collection

console = Console()
err = Console(stderr=True)


class ReportedGroup(TyperGroup):
    """The `mediasearch` command group: a typed error from any command is one line and exit status 2,
    Ctrl-C is exit status 130 (what was stored is whole), instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MediasearchError as exc:
            err.print(f"[red]error:[/red] {exc.message}" + (f" [dim]({exc.hint})[/dim]" if exc.hint else ""))
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/yellow]: every asset reported as stored is complete; run the command again to continue")
            raise typer.Exit(130) from None


def quiet_libraries() -> None:
    """No model hub lookups, progress bars or library warnings on the command line."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore")
    logging.getLogger("root").setLevel(logging.ERROR)
    try:
        import transformers  # after the variables above, which it reads when imported

        transformers.utils.logging.disable_progress_bar()
    except Exception:
        pass


@contextmanager
def open_collection(settings: Settings | None = None, *, create: bool = False, allow_encoder_change: bool = False,
                    loading: str | None = "Loading models…") -> Iterator["Collection"]:
    """The collection in MEDIASEARCH_HOME (or `settings.home`), its models loaded under a spinner
    saying `loading` (None: no spinner, e.g. inside one of the caller's), closed when the block ends.

    Ctrl-C leaves it unclosed: it may land half way through an update of an in-memory index, which
    closing would save; the catalog is whole either way and the indexes replay it on the next open."""
    from indexer.collection import Collection

    quiet_libraries()
    settings = settings or Settings.from_env()
    with console.status(loading) if loading else nullcontext():
        collection = Collection.open(settings, create=create, allow_encoder_change=allow_encoder_change)
    try:
        yield collection
    except KeyboardInterrupt:
        raise
    except BaseException:
        collection.close()
        raise
    collection.close()


def print_table(title: str, rows: dict[str, dict[str, float]]) -> None:
    """Metrics per method: one row per method, one column per metric."""
    if not rows:
        return
    columns = list(next(iter(rows.values())))
    table = Table(title=title, title_justify="left")
    table.add_column("method")
    for column in columns:
        table.add_column(column, justify="right")
    for name, values in rows.items():
        table.add_row(name, *(f"{values[c]:.4f}" for c in columns))
    console.print(table)


def write_json(path: Path | None, data: dict) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        console.print(f"[dim]wrote {path}[/dim]")
