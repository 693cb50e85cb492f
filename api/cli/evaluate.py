"""Measuring quality: `eval text|crossmodal|recommend` on labelled sets, each in an evaluation collection
of its own, and `calibrate` (the ranking profile of the active encoder)."""

import tempfile
from contextlib import closing
from pathlib import Path
from typing import Annotated, Optional

import typer

from api.cli.common import console, open_collection, print_table, quiet_libraries, write_json
from indexer.errors import InvalidInput

eval_app = typer.Typer(help="Measure retrieval quality on labelled sets.", no_args_is_help=True)


@eval_app.command("text")
def eval_text(
    collection: Annotated[str, typer.Option(help="'cranfield', or a folder with docs.jsonl, queries.jsonl, qrels.tsv.")] = "cranfield",
    out: Annotated[Optional[Path], typer.Option(help="Write the results as JSON here.")] = None,
    home: Annotated[Optional[Path], typer.Option(help="Keep the evaluation index here (default: a temporary folder).")] = None,
) -> None:
    """nDCG@10, MAP and R@100 for BM25 alone, dense alone and each fusion method."""
    from query.datasets import load_cranfield, load_text_collection
    from query.evaluation import evaluate_text, ingest_text_collection, open_eval_collection

    quiet_libraries()
    tc = load_cranfield() if collection == "cranfield" else load_text_collection(Path(collection))
    with tempfile.TemporaryDirectory(prefix="mediasearch-eval-") as tmp, \
            console.status(f"indexing {len(tc.docs)} documents of {tc.name}…") as spinner, \
            closing(open_eval_collection(home or Path(tmp) / "eval")) as c:
        if c.catalog.counts()["assets"] == 0:
            ingest_text_collection(c, tc)
        spinner.update(f"running {len(tc.queries)} queries…")
        result = evaluate_text(c, tc)
    print_table(f"{tc.name}: {result['queries']} queries, {result['documents']} documents, {result['encoder']}", result["methods"])
    write_json(out, result)


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
    from query.datasets import load_captions
    from query.evaluation import (
        evaluate_crossmodal, evaluate_crossmodal_adapter, ingest_caption_set, open_eval_collection,
    )

    quiet_libraries()
    if (images is None) != (captions is None):
        raise InvalidInput("give both --images and --captions, or neither")
    cs = load_captions(images, captions, name=dataset if images is None else images.name)
    with tempfile.TemporaryDirectory(prefix="mediasearch-eval-") as tmp, \
            console.status(f"indexing {len(cs.images)} images and their captions…") as spinner, \
            closing(open_eval_collection(home or Path(tmp) / "eval")) as c:
        if c.catalog.counts()["assets"] == 0:
            ingest_caption_set(c, cs)
        spinner.update("running the queries…")
        result = evaluate_crossmodal(c, cs)
        if adapter_folds >= 2:
            spinner.update(f"training {adapter_folds} adapters (k-fold)…")
            result["with_adapter"] = evaluate_crossmodal_adapter(c, cs, folds=adapter_folds,
                                                                 report=lambda line: spinner.update(line))
    title = f"{cs.name}: {result['images']} images, {result['encoder']}"
    print_table(f"text → image, {title}", result["text_to_image"])
    print_table(f"image → text, {title}", result["image_to_text"])
    print_table(f"one unified list (images and texts), {title}", result["unified"])
    if "with_adapter" in result:
        adapted = result["with_adapter"]
        print_table(f"text → image with and without an adapter ({adapted['folds']}-fold: each query's image held out of "
                    f"its adapter's {adapted['training_images_per_fold']} training images), {title}", adapted["text_to_image"])
    write_json(out, result)


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
    from query.datasets import load_captions
    from query.evaluation import open_eval_collection
    from recommender.evaluation import build, plot, run

    quiet_libraries()
    cs = load_captions(images, captions)
    ks, ds = [5, 10, 20, 50, 100], [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95]
    with tempfile.TemporaryDirectory(prefix="mediasearch-eval-") as tmp, \
            console.status(f"indexing {len(cs.images)} images and captions…") as spinner, \
            closing(open_eval_collection(home or Path(tmp) / "eval")) as c:
        setup = build(c, cs)
        results: dict = {"iterations": iterations, "encoder": c.encoder.id, "ild_vs_k": {}, "ild_vs_d": {}}
        spinner.update("ILD against k…")
        for n in (20, 200):
            results["ild_vs_k"][f"n={n}"] = {k: run(setup, n, k, 0.2, iterations) for k in ks}
        spinner.update("ILD against d…")
        results["ild_vs_d"]["n=200, k=100"] = {d: run(setup, 200, 100, d, iterations) for d in ds}
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


def calibrate(
    images: Annotated[Optional[Path], typer.Option(help="Captioned images (default: the shared Flickr8k sample).")] = None,
    captions: Annotated[Optional[Path], typer.Option(help="CSV with columns image, caption.")] = None,
    text_collection: Annotated[str, typer.Option("--text", help="'cranfield' or a docs/queries/qrels folder.")] = "cranfield",
    out: Annotated[Optional[Path], typer.Option(help="Also write the profile as JSON here.")] = None,
    from_collection: Annotated[bool, typer.Option(
        "--from-collection", help="Fit the cross-modal cut-off on this collection's own described public pictures "
                                  "(a share held out for the check) instead of labelled sets.")] = False,
    holdout: Annotated[float, typer.Option(help="With --from-collection: the share of pictures held out.")] = 0.25,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the fit and its check; store nothing.")] = False,
) -> None:
    """Derive calibrations, thresholds and channel weights for the active encoder; store them with the index."""
    from query.calibrate import calibrate as run_calibrate
    from query.datasets import load_captions, load_cranfield, load_text_collection
    from query.profile import save_profile

    if from_collection:
        from query.calibrate_collection import calibrate_on_collection

        with open_collection() as collection:
            result = calibrate_on_collection(collection, holdout=holdout)
            check = result.held_out
            console.print(f"fitted on {result.fitted_pictures} described public pictures; threshold {result.threshold}")
            console.print(f"held out {check.pictures}: recall {check.recall:.3f}, false positives "
                          f"{check.false_positives:.3f}, accuracy {check.accuracy:.3f}, log loss {check.log_loss:.3f}")
            if not dry_run:
                save_profile(collection.catalog, result.profile)
                console.print(f"[green]stored[/green] the ranking profile for {result.profile.encoder}")
        if out is not None:
            out.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return
    with open_collection(create=True) as collection:
        settings = collection.settings
        tc = load_cranfield() if text_collection == "cranfield" else load_text_collection(Path(text_collection))
        cs = load_captions(images, captions)
        profile = run_calibrate(settings, tc, cs, report=lambda line: console.print(line))
        save_profile(collection.catalog, profile)
    console.print(f"[green]stored[/green] the ranking profile for {profile.encoder} in {settings.home}")
    console.print(profile.model_dump_json(indent=2))
    if out is not None:
        out.write_text(profile.model_dump_json(indent=2) + "\n", encoding="utf-8")
