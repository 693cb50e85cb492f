"""`mediasearch calibrate`: derive a ranking profile for the active encoder from labelled sets.

  - a logistic calibration per channel (score -> probability of relevance):
    cross-modal and dense channels from matching vs random caption/image pairs,
    image_to_image from images vs re-framed copies of themselves, BM25 channels
    from score / best score against relevance judgements;
  - similarity thresholds for the cross-modal pairs: the score above which 95% of
    matching pairs lie (D3.2 section 3.6's 0.24 / 0.23 for CLIP ViT-B/32);
  - RRF channel weights, picked on the labelled sets (nDCG@10 on the text
    collection, text-to-image R@10 on the captioned images).
"""

import tempfile
from collections.abc import Callable
from pathlib import Path

from indexer.assets import MediaType
from indexer.config import Settings
from query.datasets import CaptionSet, TextCollection
from query.evaluation import (
    bm25_relative_scores, channel_runs, fused_ranking, ingest_caption_set, ingest_text_collection,
    open_eval_collection, pair_scores,
)
from query.fusion import FusionOptions
from query.profile import ChannelCalibration, RankingProfile
from ranking import fit_logistic, threshold_from_relevant
from ranking.metrics import hit_at_k, mean, ndcg_at_k

THRESHOLD_CHANNELS = ("text_to_image", "image_to_text")
WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0)


def calibrate(settings: Settings, text: TextCollection, captions: CaptionSet,
              report: Callable[[str], None] = print, keep: float = 0.95) -> RankingProfile:
    calibrations: dict[str, ChannelCalibration] = {}
    thresholds: dict[str, float] = {}
    weights: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mediasearch-calibrate-") as tmp:
        report(f"indexing {len(captions.images)} captioned images and their captions")
        images = open_eval_collection(Path(tmp) / "captions", settings)
        ingest_caption_set(images, captions)
        encoder_id = images.encoder.id
        for channel, (scores, labels) in pair_scores(images, captions).items():
            fit = fit_logistic(scores, labels)
            calibrations[channel] = ChannelCalibration(slope=fit.slope, intercept=fit.intercept)
            positives = [s for s, y in zip(scores, labels, strict=True) if y]
            if channel in THRESHOLD_CHANNELS:
                thresholds[channel] = round(threshold_from_relevant(positives, keep), 4)
            report(f"  {channel}: p(0.5) at {-fit.intercept / fit.slope:.3f}" + (f", threshold {thresholds[channel]}" if channel in thresholds else ""))
        queries = {n: captions.captions[n][0] for n in captions.images}
        runs = channel_runs(images, queries, {MediaType.image}, depth=100)
        targets = {n: {f"img:{n}"} for n in captions.images}
        scores, labels = bm25_relative_scores(runs, "bm25_image", targets)
        if any(labels) and not all(labels):
            fit = fit_logistic(scores, labels)
            calibrations["bm25_image"] = ChannelCalibration(slope=fit.slope, intercept=fit.intercept, relative=True)
        weights["bm25_image"] = _best_weight(
            runs.runs, "bm25_image", "text_to_image",
            lambda qid, ranking: hit_at_k(ranking, targets[qid], 10), report, "text-to-image R@10",
        )
        images.close()

        report(f"indexing {len(text.docs)} documents of {text.name}")
        texts = open_eval_collection(Path(tmp) / "text", settings)
        ingest_text_collection(texts, text)
        runs = channel_runs(texts, text.queries, {MediaType.text}, depth=100)
        relevant = {q: set(docs) for q, docs in text.qrels.items()}
        scores, labels = bm25_relative_scores(runs, "bm25_text", relevant)
        fit = fit_logistic(scores, labels)
        calibrations["bm25_text"] = ChannelCalibration(slope=fit.slope, intercept=fit.intercept, relative=True)
        weights["bm25_text"] = _best_weight(
            {q: r for q, r in runs.runs.items() if q in text.qrels}, "bm25_text", "dense_text",
            lambda qid, ranking: ndcg_at_k(ranking, text.qrels[qid], 10), report, "nDCG@10",
        )
        texts.close()
    return RankingProfile(
        encoder=encoder_id, calibrations=calibrations, thresholds=thresholds, weights=weights,
        source=f"mediasearch calibrate on {captions.name} ({len(captions.images)} images) and {text.name} ({len(text.queries)} queries)",
    )


def _best_weight(runs: dict[str, dict[str, list[tuple[str, float]]]], lexical: str, semantic: str,
                 metric: Callable[[str, list[str]], float], report: Callable[[str], None], label: str) -> float:
    """The RRF weight of the lexical channel (the semantic one weighs 1) that scores best."""
    results = {}
    for weight in WEIGHT_GRID:
        options = FusionOptions(weights={lexical: weight, semantic: 1.0})
        values = []
        for qid, per in runs.items():
            pair = {n: h for n, h in per.items() if n in (lexical, semantic)}
            values.append(metric(qid, fused_ranking(pair, options, None, "rrf")))
        results[weight] = mean(values)
    best = max(results, key=lambda w: (round(results[w], 4), -abs(w - 1.0)))
    report(f"  weight of {lexical} against {semantic}: {best} ({label} " +
           ", ".join(f"{w}: {v:.3f}" for w, v in results.items()) + ")")
    return best
