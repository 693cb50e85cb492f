"""The `mediasearch` command line."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from indexer.config import Settings
from indexer.errors import MediasearchError
from api.cli import adapter, ingest, maintenance, search
from api.cli.common import ReportedGroup, console, err, print_table, quiet_libraries, write_json

app = typer.Typer(help="mediasearch: search the images and texts of a media platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False, cls=ReportedGroup)


def _open(create: bool = False, allow_encoder_change: bool = False):  # noqa: ANN202
    from indexer.collection import Collection

    quiet_libraries()
    settings = Settings.from_env()
    with console.status("Loading models…"):
        return Collection.open(settings, create=create, allow_encoder_change=allow_encoder_change)


def _run(fn) -> None:  # noqa: ANN001
    try:
        fn()
    except MediasearchError as exc:
        err.print(f"[red]error:[/red] {exc.message}" + (f" [dim]({exc.hint})[/dim]" if exc.hint else ""))
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]: every asset reported as stored is complete; run the command again to continue")
        raise typer.Exit(130) from None


eval_app = typer.Typer(help="Measure retrieval quality on labelled sets.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("text")
def eval_text(
    collection: Annotated[str, typer.Option(help="'cranfield', or a folder with docs.jsonl, queries.jsonl, qrels.tsv.")] = "cranfield",
    out: Annotated[Optional[Path], typer.Option(help="Write the results as JSON here.")] = None,
    home: Annotated[Optional[Path], typer.Option(help="Keep the evaluation index here (default: a temporary folder).")] = None,
) -> None:
    """nDCG@10, MAP and R@100 for BM25 alone, dense alone and each fusion method."""

    def go() -> None:
        import tempfile

        from query.datasets import load_cranfield, load_text_collection
        from query.evaluation import evaluate_text, ingest_text_collection, open_eval_collection

        quiet_libraries()
        tc = load_cranfield() if collection == "cranfield" else load_text_collection(Path(collection))
        with tempfile.TemporaryDirectory(prefix="mediasearch-eval-") as tmp:
            with console.status(f"indexing {len(tc.docs)} documents of {tc.name}…"):
                c = open_eval_collection(home or Path(tmp) / "eval")
                if c.catalog.counts()["assets"] == 0:
                    ingest_text_collection(c, tc)
            with console.status(f"running {len(tc.queries)} queries…"):
                result = evaluate_text(c, tc)
            c.close()
        print_table(f"{tc.name}: {result['queries']} queries, {result['documents']} documents, {result['encoder']}", result["methods"])
        write_json(out, result)

    _run(go)


@eval_app.command("crossmodal")
def eval_crossmodal(
    dataset: Annotated[str, typer.Option(help="'flickr8k-dev' (the shared Flickr8k sample).")] = "flickr8k-dev",
    images: Annotated[Optional[Path], typer.Option(help="A folder of images (instead of --dataset).")] = None,
    captions: Annotated[Optional[Path], typer.Option(help="CSV with columns image, caption.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Write the results as JSON here.")] = None,
    home: Annotated[Optional[Path], typer.Option(help="Keep the evaluation index here.")] = None,
    adapter_folds: Annotated[int, typer.Option(min=0, max=20, help="Also with an adapter, by k-fold cross-validation (0: skip).")] = 5,
) -> None:
    """Text-to-image and image-to-text R@1/5/10 and MRR, one caption per image as the query; with and
    without an adapter trained on the other folds' captioned images."""

    def go() -> None:
        import tempfile

        from query.datasets import load_captions
        from query.evaluation import evaluate_crossmodal, ingest_caption_set, open_eval_collection

        quiet_libraries()
        if (images is None) != (captions is None):
            from indexer.errors import InvalidInput

            raise InvalidInput("give both --images and --captions, or neither")
        cs = load_captions(images, captions, name=dataset if images is None else images.name)
        with tempfile.TemporaryDirectory(prefix="mediasearch-eval-") as tmp:
            with console.status(f"indexing {len(cs.images)} images and their captions…"):
                c = open_eval_collection(home or Path(tmp) / "eval")
                if c.catalog.counts()["assets"] == 0:
                    ingest_caption_set(c, cs)
            with console.status("running the queries…"):
                result = evaluate_crossmodal(c, cs)
            if adapter_folds >= 2:
                from query.evaluation import evaluate_crossmodal_adapter

                with console.status(f"training {adapter_folds} adapters (k-fold)…") as status:
                    result["with_adapter"] = evaluate_crossmodal_adapter(c, cs, folds=adapter_folds,
                                                                         report=lambda line: status.update(line))
            c.close()
        title = f"{cs.name}: {result['images']} images, {result['encoder']}"
        print_table(f"text → image, {title}", result["text_to_image"])
        print_table(f"image → text, {title}", result["image_to_text"])
        print_table(f"one unified list (images and texts), {title}", result["unified"])
        if "with_adapter" in result:
            adapted = result["with_adapter"]
            print_table(f"text → image with and without an adapter ({adapted['folds']}-fold: each query's image held out of "
                         f"its adapter's {adapted['training_images_per_fold']} training images), {title}", adapted["text_to_image"])
        write_json(out, result)

    _run(go)


@eval_app.command("recommend")
def eval_recommend(
    iterations: Annotated[int, typer.Option(min=1, max=100, help="Random posting users per point (the seed used 100).")] = 5,
    images: Annotated[Optional[Path], typer.Option(help="Captioned images (default: the shared Flickr8k sample).")] = None,
    captions: Annotated[Optional[Path], typer.Option(help="CSV with columns image, caption.")] = None,
    plots: Annotated[Path, typer.Option(help="Folder for the PNG plots.")] = Path("docs"),
    out: Annotated[Optional[Path], typer.Option(help="Write the results as JSON here.")] = None,
    home: Annotated[Optional[Path], typer.Option(help="Keep the evaluation index here.")] = None,
) -> None:
    """ILD against k and against d for the four cross lists (D3.2 Figures 47-48), plus on-topic share."""

    def go() -> None:
        import tempfile

        from query.datasets import load_captions
        from query.evaluation import open_eval_collection
        from recommender.evaluation import build, plot, run

        quiet_libraries()
        cs = load_captions(images, captions)
        ks, ds = [5, 10, 20, 50, 100], [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95]
        with tempfile.TemporaryDirectory(prefix="mediasearch-eval-") as tmp:
            with console.status(f"indexing {len(cs.images)} images and captions…"):
                setup = build(open_eval_collection(home or Path(tmp) / "eval"), cs)
            results: dict = {"iterations": iterations, "encoder": setup.collection.encoder.id, "ild_vs_k": {}, "ild_vs_d": {}}
            with console.status("ILD against k…"):
                for n in (20, 200):
                    results["ild_vs_k"][f"n={n}"] = {k: run(setup, n, k, 0.2, iterations) for k in ks}
            with console.status("ILD against d…"):
                results["ild_vs_d"]["n=200, k=100"] = {d: run(setup, 200, 100, d, iterations) for d in ds}
            setup.collection.close()
        for name, series in (("ild_vs_k", results["ild_vs_k"]), ("ild_vs_d", results["ild_vs_d"])):
            for label, by_x in series.items():
                rows = {f"{name[-1]}={x}": {f"{c} ILD": v[c]["ild"] for c in ("text2text", "text2image", "image2text", "image2image")}
                        | {"on-topic (image2image)": v["image2image"]["on_topic"], "image clusters": v["image2image"]["image_clusters"]}
                        for x, v in by_x.items()}
                print_table(f"{name.replace('_', ' ')}, {label}", rows)
        plot(results["ild_vs_k"], "k (recommended items)", plots / "recommender-ild-vs-k.png", "ILD against k (d = 0.2)")
        plot(results["ild_vs_d"], "d (share of k from the outlier seed)", plots / "recommender-ild-vs-d.png", "ILD against d")
        console.print(f"[dim]plots in {plots}[/dim]")
        write_json(out, results)

    _run(go)


@app.command()
def calibrate(
    images: Annotated[Optional[Path], typer.Option(help="Captioned images (default: the shared Flickr8k sample).")] = None,
    captions: Annotated[Optional[Path], typer.Option(help="CSV with columns image, caption.")] = None,
    text_collection: Annotated[str, typer.Option("--text", help="'cranfield' or a docs/queries/qrels folder.")] = "cranfield",
    out: Annotated[Optional[Path], typer.Option(help="Also write the profile as JSON here.")] = None,
) -> None:
    """Derive calibrations, thresholds and channel weights for the active encoder; store them with the index."""

    def go() -> None:
        from query.calibrate import calibrate as run_calibrate
        from query.datasets import load_captions, load_cranfield, load_text_collection
        from query.profile import save_profile

        collection = _open(create=True)
        settings = collection.settings
        tc = load_cranfield() if text_collection == "cranfield" else load_text_collection(Path(text_collection))
        cs = load_captions(images, captions)
        profile = run_calibrate(settings, tc, cs, report=lambda line: console.print(line))
        save_profile(collection.catalog, profile)
        collection.close()
        console.print(f"[green]stored[/green] the ranking profile for {profile.encoder} in {settings.home}")
        console.print(profile.model_dump_json(indent=2))
        if out is not None:
            out.write_text(profile.model_dump_json(indent=2) + "\n", encoding="utf-8")

    _run(go)


keys_app = typer.Typer(help="API keys: who may read, post and administer (stored hashed in the catalog).",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _key_store():  # noqa: ANN202
    """The key table, without loading any model."""
    from indexer.collection import CATALOG_FILE
    from indexer.errors import ConfigurationError
    from indexer.stores.catalog import Catalog
    from indexer.stores.keys import KeyStore

    settings = Settings.from_env()
    path = settings.home / CATALOG_FILE
    if not path.is_file():
        raise ConfigurationError(f"no collection at {settings.home}", "ingest something first, or set MEDIASEARCH_HOME")
    return KeyStore(Catalog(path))


@keys_app.command("create")
def keys_create(
    username: Annotated[str, typer.Argument(help="The user the key acts as (the owner of what it posts).")],
    role: Annotated[str, typer.Option(help="reader, contributor or admin.")] = "reader",
    name: Annotated[str, typer.Option(help="A note to tell keys apart, e.g. 'mobile app'.")] = "",
) -> None:
    """Make a key and print it once; only its hash is stored. The first key turns on key checking."""

    def go() -> None:
        from indexer.access import Role
        from indexer.errors import InvalidInput

        if role not in Role.__members__:
            raise InvalidInput(f"unknown role '{role}'", "use reader, contributor or admin")
        store = _key_store()
        first = not store.ever_made()
        record, key = store.create(username, Role(role), name)
        console.print(f"key {record.id} for [bold]{record.username}[/bold] ({record.role.value}); it is shown only now:")
        print(key)
        if first:
            err.print("[yellow]API keys are now required[/yellow]: requests without a key get 401 "
                      "(set MEDIASEARCH_ANONYMOUS=true to let them read public assets)")

    _run(go)


@keys_app.command("list")
def keys_list(revoked: Annotated[bool, typer.Option(help="Include revoked keys.")] = False,
              as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every key's id, user, role and dates (never the key itself)."""

    def go() -> None:
        records = _key_store().list(include_revoked=revoked)
        if as_json:
            print(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
            return
        table = Table("id", "user", "role", "name", "created", "last used", "revoked")
        for r in records:
            table.add_row(r.id, r.username, r.role.value, r.name, r.created_at, r.last_used_at or "", r.revoked_at or "")
        console.print(table)

    _run(go)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (from `keys list`), or the key itself.")]) -> None:
    """Revoke a key at once; it can never be used again. Key checking stays on."""

    def go() -> None:
        record = _key_store().revoke(key_id)
        console.print(f"revoked {record.id} ({record.username}, {record.role.value}) at {record.revoked_at}")

    _run(go)


for command in (ingest.ingest, ingest.delete, ingest.demo,  # api/cli/ingest.py
                search.search, search.similar, search.facets, search.recommend,  # api/cli/search.py
                maintenance.status, maintenance.check, maintenance.repair, maintenance.reindex,  # api/cli/maintenance.py
                maintenance.serve, maintenance.backup, maintenance.restore, maintenance.propagate,
                adapter.train_adapter):  # api/cli/adapter.py
    app.command()(command)


def main() -> None:
    app()

