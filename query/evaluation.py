"""The evaluation harness: text retrieval (Cranfield-style) and cross-modal retrieval (captioned images).

Each run ingests the labelled set into a collection of its own (a temporary home
unless one is given), runs every query through the real channels, and scores
each channel alone and each fusion method. Nothing here is mocked: it is the
search path users get.
"""

import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.access import ADMIN
from indexer.assets import AssetInput, MediaType
from indexer.collection import SPACE_IMAGE, SPACE_TEXT, Collection
from indexer.config import Settings
from indexer.filters import Filters
from indexer.pipeline.ingest import ingest
from query.channels import ChannelPlan, run_channels
from query.datasets import CaptionSet, TextCollection
from query.fusion import FusionOptions, fuse
from query.language import ParsedQuery
from query.profile import RankingProfile, load_profile
from ranking.metrics import average_precision, hit_at_k, mean, ndcg_at_k, recall_at_k, reciprocal_rank

COMBINATIONS = [("min_max", "arithmetic_mean"), ("min_max", "geometric_mean"), ("min_max", "harmonic_mean"),
                ("l2", "arithmetic_mean"), ("l2", "geometric_mean"), ("l2", "harmonic_mean"), ("z_score", "arithmetic_mean")]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def open_eval_collection(home: Path, settings: Settings | None = None) -> Collection:
    base = settings or Settings.from_env()
    return Collection.open(base.model_copy(update={"home": home}), create=True)


@dataclass
class ChannelRuns:
    """Per query: channel name -> [(item id, raw score)] best first (item ids are asset ids)."""

    runs: dict[str, dict[str, list[tuple[str, float]]]] = field(default_factory=dict)
    seconds: float = 0.0


def channel_runs(collection: Collection, queries: dict[str, str], media_types: set[MediaType], depth: int = 100,
                 images: dict[str, object] | None = None, adapter: object | None = None) -> ChannelRuns:
    """Run each query (text, or an image when `images` maps the query id to one) through the channels."""
    out = ChannelRuns()
    started = time.perf_counter()
    for qid, text in queries.items():
        image = images.get(qid) if images else None
        plan = ChannelPlan(parsed=ParsedQuery(words=_words(text)) if image is None else ParsedQuery(),
                           filters=Filters(), viewer=ADMIN, depth=depth, media_types=media_types, image=image,
                           adapter=adapter)  # type: ignore[arg-type]
        if image is None and not plan.parsed.words:
            continue
        results, _ = run_channels(collection, plan)
        ids = {c for r in results.values() for c, _ in r.hits}
        reps = collection.catalog.representatives(ids, ADMIN)
        out.runs[qid] = {n: [(reps[c]["id"], s) for c, s in r.hits if c in reps] for n, r in results.items() if not r.skipped}
    out.seconds = time.perf_counter() - started
    return out


def fused_ranking(per_channel: dict[str, list[tuple[str, float]]], options: FusionOptions,
                  profile: RankingProfile | None, method: str) -> list[str]:
    # fuse() works on ints; map ids through positions.
    ids = sorted({i for hits in per_channel.values() for i, _ in hits})
    index = {i: n for n, i in enumerate(ids)}
    lists = {name: [(index[i], s) for i, s in hits] for name, hits in per_channel.items()}
    fused, _ = fuse(lists, options, profile, method=method)  # type: ignore[arg-type]
    return [ids[f.content_id] for f in fused]


# --- text retrieval
def ingest_text_collection(collection: Collection, tc: TextCollection) -> None:
    ingest(collection, [AssetInput(id=doc_id, owner="eval", text=text) for doc_id, text in tc.docs.items()])


def evaluate_text(collection: Collection, tc: TextCollection, profile: RankingProfile | None = None) -> dict:
    runs = channel_runs(collection, tc.queries, {MediaType.text}, depth=100)
    if profile is None:
        profile, _ = load_profile(collection.catalog, collection.encoder.id)
    methods: dict[str, list[list[str]]] = {}
    qids = [q for q in runs.runs if q in tc.qrels]
    for qid in qids:
        per = {n: h for n, h in runs.runs[qid].items() if n in ("bm25_text", "dense_text", "clip_text")}
        hybrid = {n: h for n, h in per.items() if n in ("bm25_text", "dense_text")}
        rankings = {
            "bm25": [i for i, _ in per.get("bm25_text", [])],
            "dense": [i for i, _ in per.get("dense_text", [])],
            "rrf": fused_ranking(hybrid, FusionOptions(weights={}), None, "rrf"),
        }
        if profile is not None and profile.weights:
            rankings["rrf (profile weights)"] = fused_ranking(hybrid, FusionOptions(), profile, "rrf")
        for norm, comb in COMBINATIONS:
            rankings[f"{norm} + {comb}"] = fused_ranking(hybrid, FusionOptions(normalisation=norm, combination=comb, weights={}), None, "combination")
        if profile is not None and all(n in profile.calibrations for n in hybrid):
            rankings["calibrated"] = fused_ranking(hybrid, FusionOptions(), profile, "calibrated")
        for name, ranking in rankings.items():
            methods.setdefault(name, []).append(ranking)
    table = {}
    for name, rankings in methods.items():
        table[name] = {
            "nDCG@10": mean([ndcg_at_k(r, tc.qrels[q], 10) for q, r in zip(qids, rankings, strict=True)]),
            "MAP": mean([average_precision(r, set(tc.qrels[q])) for q, r in zip(qids, rankings, strict=True)]),
            "R@100": mean([recall_at_k(r, set(tc.qrels[q]), 100) for q, r in zip(qids, rankings, strict=True)]),
        }
    return {"collection": tc.name, "documents": len(tc.docs), "queries": len(qids), "encoder": collection.encoder.id,
            "seconds_for_queries": round(runs.seconds, 2), "methods": table}


# --- cross-modal retrieval
def ingest_caption_set(collection: Collection, cs: CaptionSet, query_caption: int = 0) -> None:
    """Images, plus every caption except the query one as a text asset (the query caption is
    not in the collection, as in D3.2 section 3.5)."""
    items = [AssetInput(id=f"img:{name}", owner="eval", data=path.read_bytes(), name=name) for name, path in cs.images.items()]
    for name, captions in cs.captions.items():
        for n, caption in enumerate(captions):
            if n != query_caption:
                items.append(AssetInput(id=f"txt:{name}:{n}", owner="eval", text=caption))
    ingest(collection, items)


def _crossmodal_metrics(rankings: list[list[str]], relevant: list[set[str]]) -> dict[str, float]:
    return {
        "R@1": mean([hit_at_k(r, rel, 1) for r, rel in zip(rankings, relevant, strict=True)]),
        "R@5": mean([hit_at_k(r, rel, 5) for r, rel in zip(rankings, relevant, strict=True)]),
        "R@10": mean([hit_at_k(r, rel, 10) for r, rel in zip(rankings, relevant, strict=True)]),
        "MRR": mean([reciprocal_rank(r, rel) for r, rel in zip(rankings, relevant, strict=True)]),
    }


def evaluate_crossmodal(collection: Collection, cs: CaptionSet, profile: RankingProfile | None = None,
                        query_caption: int = 0, limit_image_queries: int | None = None) -> dict:
    from indexer.media.decoding import load_image

    if profile is None:
        profile, _ = load_profile(collection.catalog, collection.encoder.id)
    names = list(cs.images)
    queries = {name: cs.captions[name][query_caption] for name in names}
    t2i = channel_runs(collection, queries, {MediaType.image, MediaType.text}, depth=100)
    image_names = names[:limit_image_queries] if limit_image_queries else names
    pictures = {name: load_image(cs.images[name].read_bytes(), name)[0] for name in image_names}
    i2t = channel_runs(collection, {n: "" for n in image_names}, {MediaType.text, MediaType.image}, depth=100, images=pictures)

    results: dict[str, dict] = {"text_to_image": {}, "image_to_text": {}, "unified": {}}
    targets = [{f"img:{n}"} for n in names]
    rank_sets: dict[str, list[list[str]]] = {}
    unified_calibrated, unified_raw = [], []
    for name in names:
        per = t2i.runs.get(name, {})
        images_only = {n: h for n, h in per.items() if n in ("text_to_image", "bm25_image")}
        rank_sets.setdefault("text_to_image channel", []).append([i for i, _ in per.get("text_to_image", [])])
        rank_sets.setdefault("bm25_image channel", []).append([i for i, _ in per.get("bm25_image", [])])
        rank_sets.setdefault("fused image list (rrf)", []).append(fused_ranking(images_only, FusionOptions(weights={}), None, "rrf"))
        if profile is not None:
            rank_sets.setdefault("fused image list (rrf, profile weights)", []).append(fused_ranking(images_only, FusionOptions(), profile, "rrf"))
            if all(n in profile.calibrations for n in images_only):
                rank_sets.setdefault("fused image list (calibrated)", []).append(fused_ranking(images_only, FusionOptions(), profile, "calibrated"))
        # The unified list over every channel (texts too): where does the target image land?
        if profile is not None and all(n in profile.calibrations for n in per):
            unified_calibrated.append(fused_ranking(per, FusionOptions(), profile, "calibrated"))
        raw = sorted(((s, i) for hits in per.items() if hits[0] != "bm25_text" and hits[0] != "bm25_image" for i, s in hits[1]), reverse=True)
        seen: dict[str, None] = {}
        for _, i in raw:
            seen.setdefault(i, None)
        unified_raw.append(list(seen))
    for label, rankings in rank_sets.items():
        results["text_to_image"][label] = _crossmodal_metrics(rankings, targets)

    def image_before_wrong_texts(ranking: list[str], name: str) -> float:
        own = {f"txt:{name}:{n}" for n in range(len(cs.captions[name]))}
        for item in ranking:
            if item == f"img:{name}":
                return 1.0
            if item.startswith("txt:") and item not in own:
                return 0.0
        return 0.0

    for label, rankings in (("raw cosine, one list (single index)", unified_raw), ("calibrated unified list", unified_calibrated)):
        if rankings:
            metrics = _crossmodal_metrics(rankings, targets)
            metrics["image above irrelevant texts"] = mean([image_before_wrong_texts(r, n) for r, n in zip(rankings, names, strict=True)])
            results["unified"][label] = metrics

    i2t_sets: dict[str, list[list[str]]] = {}
    for name in image_names:
        per = i2t.runs.get(name, {})
        i2t_sets.setdefault("image_to_text channel", []).append([i for i, _ in per.get("image_to_text", [])])
    relevant_texts = [{f"txt:{n}:{k}" for k in range(len(cs.captions[n])) if k != query_caption} for n in image_names]
    for label, rankings in i2t_sets.items():
        results["image_to_text"][label] = _crossmodal_metrics(rankings, relevant_texts)
    return {"dataset": cs.name, "images": len(names), "encoder": collection.encoder.id,
            "seconds_for_queries": round(t2i.seconds + i2t.seconds, 2), **results}


# --- labelled pairs for calibration
def pair_scores(collection: Collection, cs: CaptionSet, query_caption: int = 0, negatives_per_query: int = 20,
                seed: int = 0) -> dict[str, tuple[list[float], list[int]]]:
    """(scores, labels) per vector channel from a captioned set already ingested with
    `ingest_caption_set`: matching pairs are positives, random others negatives."""
    from indexer.media.decoding import load_image

    rng = random.Random(seed)
    names = list(cs.images)
    image_rows = {n: collection.catalog.asset_row(f"img:{n}")["content_id"] for n in names}
    _, image_vectors = collection.catalog.vectors(SPACE_IMAGE, np.array([image_rows[n] for n in names]))
    queries = collection.encoder.encode_texts([cs.captions[n][query_caption] for n in names])
    dense_queries = collection.sentence.encode_texts([cs.captions[n][query_caption] for n in names])
    text_ids = {n: [collection.catalog.asset_row(f"txt:{n}:{k}")["content_id"] for k in range(len(cs.captions[n])) if k != query_caption] for n in names}
    out: dict[str, tuple[list[float], list[int]]] = {}

    def add(channel: str, score: float, label: int) -> None:
        scores, labels = out.setdefault(channel, ([], []))
        scores.append(float(score))
        labels.append(label)

    sims = queries @ image_vectors.T
    for i in range(len(names)):
        add("text_to_image", sims[i, i], 1)
        for j in rng.sample([j for j in range(len(names)) if j != i], min(negatives_per_query, len(names) - 1)):
            add("text_to_image", sims[i, j], 0)
    for space, channel, qvecs in ((SPACE_TEXT, "image_to_text", None), (SPACE_TEXT, "clip_text", queries), ("dense", "dense_text", dense_queries)):
        for i, name in enumerate(names):
            others = [m for m in rng.sample(names, min(negatives_per_query, len(names))) if m != name]
            for label, pool in ((1, [name]), (0, others)):
                ids = np.array([cid for n in pool for cid in text_ids[n][:1 if label == 0 else None]], dtype=np.int64)
                _, vectors = collection.catalog.vectors(space, ids)
                if not len(vectors):
                    continue
                query = image_vectors[i] if qvecs is None else qvecs[i]
                for score in vectors @ query:
                    add(channel, score, label)
    # image_to_image: an image against a re-framed, re-coloured copy of itself (positive) and others.
    from PIL import ImageEnhance, ImageOps

    sample = names[: min(200, len(names))]
    copies = []
    for n in sample:
        img = load_image(cs.images[n].read_bytes(), n)[0]
        w, h = img.size
        crop = img.crop((int(w * 0.08), int(h * 0.08), int(w * 0.92), int(h * 0.92)))
        copies.append(ImageEnhance.Color(ImageOps.mirror(crop)).enhance(0.8))
    copy_vectors = collection.encoder.encode_images(copies)
    sims = copy_vectors @ image_vectors.T
    for i in range(len(sample)):
        add("image_to_image", sims[i, i], 1)
        for j in rng.sample([j for j in range(len(names)) if j != i], min(negatives_per_query, len(names) - 1)):
            add("image_to_image", sims[i, j], 0)
    return out


def bm25_relative_scores(runs: ChannelRuns, channel: str, relevant: dict[str, set[str]]) -> tuple[list[float], list[int]]:
    """(score / best score of its query, relevant?) over every channel hit, for BM25 calibration."""
    scores, labels = [], []
    for qid, per in runs.runs.items():
        hits = per.get(channel, [])
        if not hits or qid not in relevant:
            continue
        best = hits[0][1] or 1.0
        for item, score in hits:
            scores.append(score / best)
            labels.append(1 if item in relevant[qid] else 0)
    return scores, labels


# --- cross-modal retrieval with and without an adapter (k-fold: no query's image was trained on)
def caption_examples(collection: Collection, cs: CaptionSet, names: list[str]) -> list:
    """Adapter training examples from a captioned set already ingested with `ingest_caption_set`."""
    from indexer.pipeline.adapters.data import Example

    out = []
    for name in names:
        row = collection.catalog.asset_row(f"img:{name}")
        if row is not None:
            out.append(Example(row["content_id"], list(cs.captions[name]), [row["content_id"]], [row["id"]], row["rowid"]))
    return out


def evaluate_crossmodal_adapter(collection: Collection, cs: CaptionSet, folds: int = 5, query_caption: int = 0,
                                profile: RankingProfile | None = None, options: object | None = None,
                                train_sizes: list[int] | None = None, report=print, seed: int = 0) -> dict:
    """Text-to-image with and without an adapter, by k-fold cross-validation over the captioned images: each
    fold's adapter learns from the other folds' images and captions, and answers the held-out images'
    query captions over the whole collection through the real channels (switched in like
    `train-adapter` does). Every image is a query once, as in `evaluate_crossmodal`.

    With `train_sizes`, each fold also trains on random subsets of that many images: a learning curve,
    scored in memory from the stored vectors (the text_to_image and adapter channels and their RRF, over
    the same images) to keep it quick."""
    from indexer.pipeline.adapters.data import picture_inputs
    from indexer.pipeline.adapters.switch import switch
    from indexer.stores.adapter_versions import adapters_root, load, save
    from indexer.pipeline.adapters.train import TrainOptions, rrf_scores, train
    from query.profile import with_adapter

    options = options or TrainOptions(seed=seed)
    if profile is None:
        profile, _ = load_profile(collection.catalog, collection.encoder.id)
    names = list(cs.images)
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    parts = [order[i::folds] for i in range(folds)]
    cache: dict[str, np.ndarray] = {}

    def encode(texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in cache]
        if todo:
            cache.update(zip(todo, collection.encoder.encode_texts(todo), strict=True))
        return np.stack([cache[t] for t in texts])

    queries = {n: cs.captions[n][query_caption] for n in names}
    baseline = channel_runs(collection, queries, {MediaType.image}, depth=100)
    # For the in-memory curve: every image's stored vector and adapter inputs, every query's text vector.
    content = np.array([collection.catalog.asset_row(f"img:{n}")["content_id"] for n in names], dtype=np.int64)
    _, image_vectors = collection.catalog.vectors(SPACE_IMAGE, content)
    _, inputs = picture_inputs(collection, content)
    position = {n: i for i, n in enumerate(names)}
    rankings: dict[str, list[list[str]]] = {}
    curve_ranks: dict[int, dict[str, list[int]]] = {}
    activated: dict[int, list[bool]] = {}
    targets: list[set[str]] = []
    fold_meta: list[dict] = []
    started = time.perf_counter()
    def curve_point(size: int, fitted, query_vectors: np.ndarray, query_targets: np.ndarray) -> None:
        arrays = fitted.arrays
        without = query_vectors @ image_vectors.T
        adapted = arrays.text_vectors(query_vectors) @ arrays.image_vectors(inputs).T
        fused = rrf_scores([(without, 1.0), (adapted, fitted.meta.weight)])
        # What search gives: the adapter only where the never-worse rule would have activated it.
        ruled = fused if fitted.meta.activated else without
        activated.setdefault(size, []).append(fitted.meta.activated)
        for label, scores in (("text_to_image channel", without), ("adapter channel", adapted),
                              ("text_to_image + adapter (RRF)", fused), ("with the never-worse rule", ruled)):
            target_scores = scores[np.arange(len(query_targets)), query_targets]
            curve_ranks.setdefault(size, {}).setdefault(label, []).extend((scores > target_scores[:, None]).sum(axis=1).tolist())

    for k, held_out in enumerate(parts):
        held = set(held_out)
        training = [n for n in order if n not in held]
        query_vectors = encode([queries[n] for n in held_out])
        query_targets = np.array([position[n] for n in held_out])
        for size in sorted(s for s in set(train_sizes or []) if s < len(training)):
            report(f"fold {k + 1}/{folds}: learning curve, {size} training images")
            chosen = list(np.random.default_rng(seed + k).choice(training, size=size, replace=False))
            fitted = train(collection, options, report=lambda _: None, examples=caption_examples(collection, cs, chosen),
                           encode_texts=encode)
            curve_point(size, fitted, query_vectors, query_targets)
        report(f"fold {k + 1}/{folds}: training on {len(training)} images, {len(held_out)} held out")
        result = train(collection, options, report=lambda _: None, examples=caption_examples(collection, cs, training),
                       encode_texts=encode)
        if train_sizes:
            curve_point(len(training), result, query_vectors, query_targets)
        meta = save(adapters_root(collection), result.meta, result.arrays)
        switch(collection, meta.version)
        adapter = load(adapters_root(collection), meta.version)
        adapted_profile = with_adapter(profile, adapter)
        runs = channel_runs(collection, {n: queries[n] for n in held_out}, {MediaType.image}, depth=100, adapter=adapter)
        for name in held_out:
            per = runs.runs.get(name, {})
            without_runs = baseline.runs.get(name, {})
            images_only = {c: h for c, h in per.items() if c in ("text_to_image", "bm25_image", "text_to_adapted")}
            plain = {c: h for c, h in without_runs.items() if c in ("text_to_image", "bm25_image")}
            rows = {
                "text_to_image channel (no adapter)": [i for i, _ in without_runs.get("text_to_image", [])],
                "fused image list, no adapter (rrf, profile weights)": fused_ranking(plain, FusionOptions(), profile, "rrf"),
                "text_to_adapted channel (held-out images)": [i for i, _ in per.get("text_to_adapted", [])],
                "fused image list with adapter (rrf, profile weights)": fused_ranking(images_only, FusionOptions(), adapted_profile, "rrf"),
            }
            if adapted_profile is not None and all(c in adapted_profile.calibrations for c in images_only):
                rows["fused image list with adapter (calibrated)"] = fused_ranking(images_only, FusionOptions(), adapted_profile, "calibrated")
            for label, ranking in rows.items():
                rankings.setdefault(label, []).append(ranking)
            targets.append({f"img:{name}"})
        fold_meta.append({"fold": k + 1, "n_train": meta.n_train, "n_validation": meta.n_validation, "epochs": meta.epochs,
                          "best_epoch": meta.best_epoch, "weight": meta.weight, "would_activate": meta.activated,
                          "seconds": meta.seconds})
    switch(collection, None)

    def from_ranks(ranks: list[int]) -> dict[str, float]:
        r = np.array(ranks)
        return {"R@1": float((r < 1).mean()), "R@5": float((r < 5).mean()), "R@10": float((r < 10).mean()),
                "MRR": float((1.0 / (r + 1)).mean())}

    return {"dataset": cs.name, "images": len(names), "folds": folds, "encoder": collection.encoder.id,
            "training_images_per_fold": len(names) - len(parts[0]),
            "text_to_image": {label: _crossmodal_metrics(r, targets) for label, r in rankings.items()},
            "learning_curve": {size: {label: from_ranks(r) for label, r in per.items()} for size, per in sorted(curve_ranks.items())},
            "learning_curve_activated": {size: sum(flags) for size, flags in sorted(activated.items())},
            "fold_adapters": fold_meta, "seconds": round(time.perf_counter() - started, 1)}
