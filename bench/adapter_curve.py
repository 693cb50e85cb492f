"""Adapter learning curve on Flickr8k dev: text-to-image R@10 with and without an adapter, against the
number of captioned images it learns from.

    .venv/bin/python bench/adapter_curve.py [--folds 5] [--sizes 50,100,200,400] [--home DIR]

The 600 captioned images go into one collection with captions 2-5 as text assets (as `mediasearch eval
crossmodal`); caption 1 of every image is its query. 5-fold cross-validation: each fold's adapter learns
from (a random subset of) the other folds' images and all their captions, and answers the held-out
fold's queries over the whole collection, so no query's image was ever trained on. "all" is the whole
training part of a fold (480 images); 600 would leave nothing held out. Writes the JSON to
docs/eval/adapter-flickr8k-dev.json and the plot to docs/adapter-learning-curve.png, and prints the
tables for docs/quality.md.
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from query.datasets import load_captions
from query.evaluation import (
    evaluate_crossmodal_adapter,
    ingest_caption_set,
    open_eval_collection,
)

DOCS = Path(__file__).resolve().parents[1] / "docs"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = {int(k): v for k, v in result["learning_curve"].items()}
    sizes = sorted(curve)
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    for label, style in (("adapter channel", "o-"), ("text_to_image + adapter (RRF)", "s-"), ("with the never-worse rule", "^-")):
        ax.plot(sizes, [curve[s][label]["R@10"] for s in sizes], style, label=label)
    ax.axhline(curve[sizes[-1]]["text_to_image channel"]["R@10"], linestyle="--", color="grey", label="text_to_image (no adapter)")
    ax.set_xlabel("captioned training images (20% of them held out for early stopping)")
    ax.set_ylabel("text-to-image R@10 (600 images)")
    ax.set_title(f"Adapter learning curve, Flickr8k dev, {result['folds']}-fold")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--sizes", default="50,100,200,400")
    parser.add_argument("--home", type=Path, default=None, help="Keep the evaluation collection here (reused).")
    args = parser.parse_args()
    cs = load_captions()
    with tempfile.TemporaryDirectory(prefix="mediasearch-adapter-curve-") as tmp:
        collection = open_eval_collection(args.home or Path(tmp) / "eval")
        started = time.perf_counter()
        if collection.catalog.counts()["assets"] == 0:
            ingest_caption_set(collection, cs)
        print(f"indexed in {time.perf_counter() - started:.0f} s")
        result = evaluate_crossmodal_adapter(collection, cs, folds=args.folds,
                                             train_sizes=[int(s) for s in args.sizes.split(",") if s],
                                             report=lambda line: print(line, flush=True))
        collection.close()
    (DOCS / "eval").mkdir(exist_ok=True)
    (DOCS / "eval" / "adapter-flickr8k-dev.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot(result, DOCS / "adapter-learning-curve.png")
    print("\n| method | R@1 | R@5 | R@10 | MRR |\n|---|---|---|---|---|")
    for label, m in result["text_to_image"].items():
        print(f"| {label} | {m['R@1']:.4f} | {m['R@5']:.4f} | {m['R@10']:.4f} | {m['MRR']:.4f} |")
    print("\n| captioned training images | text_to_image R@10 | adapter R@10 | RRF R@10 | RRF MRR | activated (folds) | R@10 with the never-worse rule |\n|---|---|---|---|---|---|---|")
    for size, p in sorted((int(k), v) for k, v in result["learning_curve"].items()):
        print(f"| {size} | {p['text_to_image channel']['R@10']:.4f} | {p['adapter channel']['R@10']:.4f} | "
              f"{p['text_to_image + adapter (RRF)']['R@10']:.4f} | {p['text_to_image + adapter (RRF)']['MRR']:.4f} | "
              f"{result['learning_curve_activated'][size]}/{result['folds']} | {p['with the never-worse rule']['R@10']:.4f} |")
    print(f"\nfolds: {result['fold_adapters']}\n{result['seconds']} s")


if __name__ == "__main__":
    main()
