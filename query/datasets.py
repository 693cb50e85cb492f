"""Labelled sets for evaluation and calibration: Cranfield-style text collections and captioned images."""

import csv
import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from indexer.errors import InvalidInput


@dataclass
class TextCollection:
    name: str
    docs: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, float]]  # query id -> doc id -> gain (> 0 relevant)


@dataclass
class CaptionSet:
    name: str
    images: dict[str, Path]  # image name -> file
    captions: dict[str, list[str]] = field(default_factory=dict)  # image name -> captions


def datasets_root() -> Path:
    """MEDIASEARCH_DATASETS, else ../shared/datasets beside the checkout."""
    env = os.environ.get("MEDIASEARCH_DATASETS")
    if env:
        return Path(env)
    for candidate in (Path.cwd().parent / "shared" / "datasets", Path(__file__).resolve().parents[2] / "shared" / "datasets"):
        if candidate.is_dir():
            return candidate
    return Path.cwd().parent / "shared" / "datasets"


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise InvalidInput(f"{what} not found at {path}", "set MEDIASEARCH_DATASETS or give the path explicitly")
    return path


def load_cranfield(folder: Path | None = None) -> TextCollection:
    """The Cranfield collection: cran.all.1400, cran.qry, cranqrel.

    Query ids in cran.qry are not sequential; cranqrel numbers queries 1..225 in file
    order. Relevance codes 1 (complete answer) .. 4 (minimal interest) become gains
    4 .. 1; code -1 is ignored.
    """
    folder = _need(folder or datasets_root() / "cranfield", "the Cranfield collection")
    docs = {}
    for block in re.split(r"^\.I ", _need(folder / "cran.all.1400", "cran.all.1400").read_text(errors="replace"), flags=re.M)[1:]:
        doc_id, _, rest = block.partition("\n")
        fields = dict(re.findall(r"^\.([TAWB])\n(.*?)(?=^\.[TAWB]\n|\Z)", rest, flags=re.M | re.S))
        title = " ".join(fields.get("T", "").split())
        body = " ".join(fields.get("W", "").split())
        docs[doc_id.strip()] = body if body.startswith(title) else f"{title} {body}".strip()
    queries = {}
    for number, block in enumerate(re.split(r"^\.I ", (folder / "cran.qry").read_text(errors="replace"), flags=re.M)[1:], start=1):
        _, _, rest = block.partition("\n")
        queries[str(number)] = " ".join(rest.replace(".W\n", "", 1).split())
    qrels: dict[str, dict[str, float]] = defaultdict(dict)
    for line in (folder / "cranqrel").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].lstrip("-").isdigit() and int(parts[2]) > 0:
            qrels[parts[0]][parts[1]] = float(5 - int(parts[2]))
    return TextCollection("cranfield", docs, queries, dict(qrels))


def load_text_collection(folder: Path) -> TextCollection:
    """Any collection: docs.jsonl (id, text), queries.jsonl (id, text), qrels.tsv (query id, doc id, relevance)."""
    if folder.name == "cranfield" and not (folder / "docs.jsonl").exists():
        return load_cranfield(folder if folder.exists() else None)
    docs = {str(r["id"]): r["text"] for r in map(json.loads, _need(folder / "docs.jsonl", "docs.jsonl").read_text().splitlines()) if r}
    queries = {str(r["id"]): r["text"] for r in map(json.loads, _need(folder / "queries.jsonl", "queries.jsonl").read_text().splitlines()) if r}
    qrels: dict[str, dict[str, float]] = defaultdict(dict)
    for line in _need(folder / "qrels.tsv", "qrels.tsv").read_text().splitlines():
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) >= 3 and parts[0] != "query-id":
            try:
                if float(parts[2]) > 0:
                    qrels[parts[0]][parts[1]] = float(parts[2])
            except ValueError:
                continue
    return TextCollection(folder.name, docs, queries, dict(qrels))


def load_captions(images: Path | None = None, captions: Path | None = None, name: str = "flickr8k-dev") -> CaptionSet:
    """Images and a CSV with columns image, caption (several rows per image allowed).
    Only images that have at least one caption are kept."""
    root = datasets_root() / "flickr8k-1k"
    images = _need(images or root / "images", "the image folder")
    captions = _need(captions or root / "captions-dev.csv", "the captions file")
    by_image: dict[str, list[str]] = defaultdict(list)
    with captions.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"image", "caption"} <= set(reader.fieldnames):
            raise InvalidInput(f"{captions} needs the columns image and caption")
        for row in reader:
            if row["caption"].strip():
                by_image[row["image"]].append(row["caption"].strip())
    files = {name_: images / name_ for name_ in sorted(by_image) if (images / name_).is_file()}
    if not files:
        raise InvalidInput(f"none of the captioned images are in {images}")
    return CaptionSet(name, files, {n: by_image[n] for n in files})
