"""How long does `mediasearch train-adapter` take for 1,000 captioned images?

    .venv/bin/python bench/adapter_speed.py [--images 1000] [--no-write]

Ingests the 1000 Flickr8k images with captions as descriptions into a temporary collection. The 600 dev
images get their own five captions; the other 400 have none in ../shared, so for this timing they borrow
the captions of a random dev image (the figures are about time, not quality). Then it runs the same
training as the command (default options: 20% held out, at most 100 epochs, early stopping) and the
switch to the new adapter, timing each stage. Appends the table to docs/benchmarks.md.
"""

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from indexer.stores.adapter_versions import size_bytes
from indexer.pipeline.adapters.train import TrainOptions, train_and_activate
from indexer.config import Settings
from indexer.pipeline.edits import update_asset
from indexer.assets import AssetInput
from indexer.pipeline.ingest import ingest
from query.datasets import datasets_root, load_captions
from query.evaluation import open_eval_collection


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--from-home", type=Path, default=None,
                        help="Copy a collection that already holds the 1000 images (e.g. after `mediasearch ingest "
                             "../shared/datasets/flickr8k-1k/images --captions ...`) instead of ingesting them again.")
    args = parser.parse_args()
    cs = load_captions()
    files = sorted((datasets_root() / "flickr8k-1k" / "images").glob("*.jpg"))[: args.images]
    rng = random.Random(0)
    dev = list(cs.captions)
    items = [AssetInput(id=f.name, owner="bench", data=f.read_bytes(), name=f.name,
                        description="\n".join(cs.captions.get(f.name) or cs.captions[rng.choice(dev)])) for f in files]
    with tempfile.TemporaryDirectory(prefix="mediasearch-adapter-speed-") as tmp:
        settings = Settings.from_env().model_copy(update={"encoder": "bundled"})
        started = time.perf_counter()
        if args.from_home is not None:
            import shutil

            shutil.copytree(args.from_home, Path(tmp) / "home", ignore=shutil.ignore_patterns("adapters"))
            collection = open_eval_collection(Path(tmp) / "home", settings)
            from indexer.pipeline.adapters.switch import switch

            switch(collection, None)
            for item in items:
                row = collection.catalog.asset_row(item.id)
                if row is not None and not row["description"]:
                    update_asset(collection, item.id, {"description": item.description})
            ingest_s = 0.0
        else:
            collection = open_eval_collection(Path(tmp) / "home", settings)
            ingest(collection, items)
            ingest_s = time.perf_counter() - started
        features = collection.catalog.db.execute("SELECT count(*), coalesce(sum(length(vector)), 0) FROM image_features").fetchone()
        marks: list[tuple[float, str]] = []
        epochs: list[object] = []
        started = time.perf_counter()
        result = train_and_activate(collection, TrainOptions(), on_epoch=epochs.append,
                                    report=lambda line: marks.append((time.perf_counter() - started, line)))
        total = time.perf_counter() - started
        size = size_bytes(collection.home, result.meta.version)
        collection.close()
    stamp = {label: next(t for t, line in marks if line.startswith(label)) for label in ("encoding", "training", "saved")}
    switch_start = next((t for t, line in marks if line.startswith("computing adapted")), stamp["saved"])
    meta = result.meta
    rows = [
        ("captioned images (train / held out)", f"{meta.n_train + meta.n_validation} ({meta.n_train} / {meta.n_validation})"),
        ("texts", f"{meta.n_texts}"),
        ("collect examples and frozen features from the catalog (s)", f"{stamp['encoding']:.1f}"),
        ("encode the texts with MiniLM (s)", f"{stamp['training'] - stamp['encoding']:.1f}"),
        (f"fit: {meta.epochs} epochs, best {meta.best_epoch}, early stop, on {meta.device} (s)", f"{switch_start - stamp['training']:.1f}"),
        ("compute adapted vectors and switch (s)", f"{stamp['saved'] - switch_start:.1f}"),
        ("**train-adapter in all (s)**", f"**{total:.1f}**"),
        ("adapter size on disk", f"{size / 1e6:.2f} MB ({meta.parameters:,} parameters)"),
        ("stored features", f"{features[0]} pictures, {features[1] / max(features[0], 1) / 1024:.1f} KB each (float16)"),
        ("ingest of the images, for scale (s)", "copied from --from-home" if args.from_home else f"{ingest_s:.1f}"),
        ("held-out R@10 without / adapter / fused", f"{meta.without['R@10']:.3f} / {meta.adapter['R@10']:.3f} / {meta.fused['R@10']:.3f}"),
    ]
    body = "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    body += ("\n\nThe 400 images without captions in ../shared borrow a random dev image's captions here, so the "
             "held-out figures are not a quality measure (docs/quality.md has those).")
    print(body)
    if not args.no_write:
        sys.path.insert(0, str(Path(__file__).parent))
        from report import append, machine

        load = os.getloadavg()[0]
        command = f"python bench/adapter_speed.py --images {args.images}" + (" --from-home HOME" if args.from_home else "")
        append("Adapter training time, 1,000 captioned images", command,
               body, machine(f"load average {load:.1f} at the end"))


if __name__ == "__main__":
    main()
