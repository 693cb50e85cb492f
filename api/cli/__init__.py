"""The `mediasearch` command line: the root command and where each of its commands lives.

    ingest.py       ingest, delete, demo
    search.py       search, similar, facets, recommend
    copies.py       search --video / --copies, index-copies
    maintenance.py  status, check, repair, reindex, serve, backup, restore, propagate
    adapter.py      train-adapter
    evaluate.py     eval text|crossmodal|recommend, calibrate
    keys.py         keys create|list|revoke
    migrate.py      migrate --to postgresql://...
    common.py       the consoles, error reporting (one place for every command), open_collection()
"""

import typer

from api.cli import adapter, copies, evaluate, ingest, keys, maintenance, migrate, search
from api.cli.common import ReportedGroup

app = typer.Typer(help="mediasearch: search the images and texts of a media platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False, cls=ReportedGroup)

# In the order `mediasearch --help` lists them; each command's name is its function's, with dashes.
for command in (ingest.ingest, search.search, search.similar, search.facets, ingest.delete, maintenance.status,
                adapter.train_adapter, maintenance.check, maintenance.repair, maintenance.reindex, maintenance.serve,
                maintenance.backup, maintenance.restore, ingest.demo, evaluate.calibrate, search.recommend,
                maintenance.propagate, copies.index_copies, migrate.migrate):
    app.command()(command)
app.add_typer(evaluate.eval_app, name="eval")
app.add_typer(keys.keys_app, name="keys")


def main() -> None:
    app()
