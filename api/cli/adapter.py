"""`train-adapter`: learn the projection from captioned pictures (indexer/pipeline/adapters/), here or in a
background process."""

import os
import subprocess
import sys
from typing import Annotated

import typer

from api.cli.common import console, err, open_collection, print_table
from indexer.config import Settings


def train_adapter(
    epochs: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many epochs (it stops early).")] = 100,
    patience: Annotated[int, typer.Option(min=1, help="Epochs without held-out progress before stopping.")] = 10,
    holdout: Annotated[float, typer.Option(min=0.05, max=0.5, help="Share of captioned pictures held out.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the split and the initialisation.")] = 0,
    no_activate: Annotated[bool, typer.Option("--no-activate", help="Train and save, but do not switch to it.")] = False,
    background: Annotated[bool, typer.Option("--background", help="Run in a background process (log under adapters/).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the adapter's metadata as JSON.")] = False,
) -> None:
    """Learn an adapter from the collection's captioned pictures (image features into the text space, the
    encoders frozen), validate it on held-out pictures, and activate it only if fused search gets better."""
    if background:
        _start_in_background(epochs, patience, holdout, seed, no_activate)
        return
    from indexer.pipeline.adapters.train import TrainOptions, train_and_activate

    def epoch(e) -> None:  # noqa: ANN001
        console.print(f"epoch {e.epoch:3d}  loss {e.loss:.3f}  held-out R@10 {e.r10:.3f}  MRR {e.mrr:.3f}")

    with open_collection() as collection:
        options = TrainOptions(epochs=epochs, patience=patience, holdout=holdout, seed=seed)
        result = train_and_activate(collection, options, on_epoch=epoch, report=lambda line: console.print(f"[dim]{line}[/dim]"),
                                    activate=not no_activate)
    meta = result.meta
    if as_json:
        print(meta.model_dump_json(indent=2, by_alias=True))
        return
    print_table(f"held-out text → image: {meta.n_validation} pictures, every text a query (best epoch {meta.best_epoch})",
                {"without adapter (text_to_image)": meta.without, "adapter alone (text_to_adapted)": meta.adapter,
                 f"fused (RRF, adapter weight {meta.weight:g})": meta.fused})
    if meta.activated:
        console.print(f"[green]activated {meta.version}[/green]: {meta.reason}; {result.switched} pictures re-mapped "
                      f"({meta.parameters:,} parameters, {meta.n_train} training pictures, {meta.seconds:.0f} s on {meta.device})")
    else:
        console.print(f"[yellow]{meta.version} not activated[/yellow]: {meta.reason}. Search goes on without it.")


def _start_in_background(epochs: int, patience: int, holdout: float, seed: int, no_activate: bool) -> None:
    """The same command in a process of its own, its output in adapters/train.log."""
    settings = Settings.from_env()
    if not (settings.home.is_dir() if settings.database_url else (settings.home / "catalog.sqlite3").is_file()):
        err.print(f"[red]error:[/red] no mediasearch collection at {settings.home.resolve()} "
                  "[dim](ingest captioned pictures first, or set MEDIASEARCH_HOME)[/dim]")
        raise typer.Exit(2)
    log = settings.home / "adapters" / "train.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "api.cli", "train-adapter", f"--epochs={epochs}", f"--patience={patience}",
            f"--holdout={holdout}", f"--seed={seed}"] + (["--no-activate"] if no_activate else [])
    with log.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, "COLUMNS": "120"})
    console.print(f"training in the background (pid {proc.pid}); log: {log}. Search goes on meanwhile; "
                  "`mediasearch status` shows when it is done.")
