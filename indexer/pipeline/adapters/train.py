"""Training an adapter: split, symmetric InfoNCE, early stopping on held-out R@10, the never-worse rule.

1. Examples: pictures with owner-written text (`data.collect_examples`), split by picture into a
   training part and a held-out part (`holdout`, seeded), so no held-out picture is ever trained on.
2. Fit: the projection of `model.py`, symmetric InfoNCE over in-batch pairs (one text per picture
   per batch), AdamW; after every epoch the adapter channel's R@10 on the held-out pictures, every
   text of each one a query against all held-out pictures; the best epoch is kept, and training stops
   after `patience` epochs without progress.
3. Decide: the un-adapted cross-modal channel alone against the two fused (RRF, the adapter's weight
   picked on the held-out part). The adapter is activated only when the fused R@10 beats the
   un-adapted one and the MRR is no worse: an adapter never makes search worse than without it.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field

from indexer.pipeline.adapters.data import Example, collect_examples, feature_model, picture_inputs
from indexer.media.encoders.adapter import LINEAR, RESIDUAL, AdapterArrays, projection
from indexer.pipeline.adapters.switch import switch
from indexer.stores.adapter_versions import AdapterMeta, adapters_root, prune, save, size_bytes, update_meta
from indexer.collection import SPACE_IMAGE, Collection
from indexer.media.encoders.base import unit_rows
from indexer.errors import InvalidInput
from ranking import fit_logistic, threshold_from_relevant

RRF_CONSTANT = 60
WEIGHT_GRID = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class TrainOptions(BaseModel):
    epochs: int = Field(default=100, ge=1, le=10_000)
    patience: int = Field(default=10, ge=1, description="Epochs without held-out progress before stopping.")
    holdout: float = Field(default=0.2, gt=0, lt=0.9, description="Share of pictures held out for validation.")
    learning_rate: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=0.01, ge=0)
    temperature: float = Field(default=0.05, gt=0)
    batch_size: int = Field(default=256, ge=2)
    seed: int = 0
    min_examples: int = Field(default=20, ge=4, description="Captioned pictures needed to train at all.")
    # Below this many held-out pictures the validation pool is too small to show that an adapter helps a
    # larger collection (on Flickr8k, 20 held-out pictures passed adapters that hurt R@10 over 600): it trains
    # and is saved, but is not activated.
    min_validation: int = Field(default=40, ge=2, description="Held-out pictures needed to activate.")
    include_private: bool | None = Field(default=None, description="None: MEDIASEARCH_ADAPTER_TRAIN_PRIVATE.")
    device: str | None = Field(default=None, description="None: cuda when available, else cpu.")


@dataclass
class Prepared:
    examples: list[Example]
    inputs: np.ndarray          # (pictures, feature dim): the adapter's frozen inputs
    base: np.ndarray            # (pictures, dim): the un-adapted image vectors
    text_vectors: np.ndarray    # (texts, dim): the encoder's text tower
    text_owner: np.ndarray      # (texts,): index of the picture each text describes


@dataclass
class Epoch:
    epoch: int
    loss: float
    r10: float
    mrr: float


@dataclass
class TrainResult:
    meta: AdapterMeta
    arrays: AdapterArrays
    history: list[Epoch] = field(default_factory=list)
    switched: int = 0


def _mean_rows(matrix: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    return np.stack([matrix[g].mean(axis=0) for g in groups])


def prepare(collection: Collection, examples: list[Example], report: Callable[[str], None] = print,
            encode_texts: Callable[[list[str]], np.ndarray] | None = None) -> Prepared:
    """Frozen inputs and base vectors per picture (a video: the mean over its keyframes) and the
    text vectors of every owner text."""
    vector_ids = np.array(sorted({v for e in examples for v in e.vector_ids}), dtype=np.int64)
    found, inputs = picture_inputs(collection, vector_ids)
    base_ids, base = collection.catalog.vectors(SPACE_IMAGE, found)
    position = {int(v): i for i, v in enumerate(found)}
    base_position = {int(v): i for i, v in enumerate(base_ids)}
    kept = [e for e in examples if any(v in position and v in base_position for v in e.vector_ids)]
    groups = [[position[v] for v in e.vector_ids if v in position and v in base_position] for e in kept]
    base_groups = [[base_position[v] for v in e.vector_ids if v in position and v in base_position] for e in kept]
    texts = [t for e in kept for t in e.texts]
    owner = np.array([i for i, e in enumerate(kept) for _ in e.texts], dtype=np.int64)
    report(f"encoding {len(texts)} texts of {len(kept)} pictures with {collection.encoder.id}")
    text_vectors = (encode_texts or collection.encoder.encode_texts)(texts)
    return Prepared(kept, _mean_rows(inputs, groups), unit_rows(_mean_rows(base, base_groups)), text_vectors, owner)


def split(n: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(2, round(n * holdout))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


# --- metrics on the held-out part (numpy; every text of a held-out picture is a query)
def _ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of each query's target among the pool (ties count against it)."""
    target_scores = scores[np.arange(len(targets)), targets]
    return (scores > target_scores[:, None]).sum(axis=1)


def _metrics(ranks: np.ndarray) -> dict[str, float]:
    return {"R@1": float((ranks < 1).mean()), "R@5": float((ranks < 5).mean()),
            "R@10": float((ranks < 10).mean()), "MRR": float((1.0 / (ranks + 1)).mean())}


def _rank_positions(scores: np.ndarray) -> np.ndarray:
    """1-based position of every pool item in each query's ranking."""
    order = np.argsort(-scores, axis=1, kind="stable")
    positions = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    positions[rows, order] = np.arange(1, scores.shape[1] + 1)
    return positions


def rrf_scores(channels: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """Reciprocal rank fusion of score matrices (queries x pool), each with its weight."""
    return sum(weight / (RRF_CONSTANT + _rank_positions(scores)) for scores, weight in channels)


@dataclass
class Validation:
    without: dict[str, float]
    adapter: dict[str, float]
    fused: dict[str, float]
    weight: float
    calibration: tuple[float, float]
    threshold: float


def validate(prepared: Prepared, val: np.ndarray, arrays: AdapterArrays, seed: int = 0) -> Validation:
    queries = np.flatnonzero(np.isin(prepared.text_owner, val))
    pool = {int(p): i for i, p in enumerate(val)}
    targets = np.array([pool[int(prepared.text_owner[q])] for q in queries])
    text = prepared.text_vectors[queries]
    without = text @ prepared.base[val].T
    adapted = arrays.text_vectors(text) @ arrays.image_vectors(prepared.inputs[val]).T
    base_metrics = _metrics(_ranks(without, targets))
    fused_by_weight = {w: _metrics(_ranks(rrf_scores([(without, 1.0), (adapted, w)]), targets)) for w in WEIGHT_GRID}
    # The weight with the best R@10 among those that keep the MRR; the best R@10 when none does.
    weight = max(WEIGHT_GRID, key=lambda w: (fused_by_weight[w]["MRR"] >= base_metrics["MRR"], fused_by_weight[w]["R@10"],
                                             fused_by_weight[w]["MRR"], -abs(w - 1)))
    # Calibration of the adapter's cosine scores: matching pairs against random others.
    rng = np.random.default_rng(seed)
    positives = adapted[np.arange(len(targets)), targets]
    negatives = []
    for row, target in enumerate(targets):
        others = np.delete(np.arange(adapted.shape[1]), target)
        negatives += adapted[row, rng.choice(others, size=min(20, len(others)), replace=False)].tolist()
    fit = fit_logistic([*positives.tolist(), *negatives], [1] * len(positives) + [0] * len(negatives))
    return Validation(base_metrics, _metrics(_ranks(adapted, targets)), fused_by_weight[weight], weight,
                      (fit.slope, fit.intercept), round(threshold_from_relevant(positives.tolist(), 0.95), 4))


# --- fitting
def fit(prepared: Prepared, train: np.ndarray, val: np.ndarray, kind: str, text_residual: bool, options: TrainOptions,
        on_epoch: Callable[[Epoch], None] | None = None) -> tuple[AdapterArrays, list[Epoch], int, str]:
    import torch
    from torch.nn import functional as F

    device = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(options.seed)
    model = projection(kind, prepared.inputs.shape[1], prepared.text_vectors.shape[1], text_residual).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay)
    inputs = torch.from_numpy(np.ascontiguousarray(prepared.inputs, dtype=np.float32)).to(device)
    texts = torch.from_numpy(np.ascontiguousarray(prepared.text_vectors, dtype=np.float32)).to(device)
    pairs = np.flatnonzero(np.isin(prepared.text_owner, train))  # text indices of training pictures
    val_queries = np.flatnonzero(np.isin(prepared.text_owner, val))
    pool = {int(p): i for i, p in enumerate(val)}
    val_targets = np.array([pool[int(prepared.text_owner[q])] for q in val_queries])
    generator = np.random.default_rng(options.seed)
    history: list[Epoch] = []
    best: tuple[tuple[float, float], int, AdapterArrays] | None = None
    for epoch in range(1, options.epochs + 1):
        model.train()
        losses = []
        order = pairs[generator.permutation(len(pairs))]
        for start in range(0, len(order), options.batch_size):
            chunk = order[start : start + options.batch_size]
            owners = prepared.text_owner[chunk]
            _, first = np.unique(owners, return_index=True)  # one text per picture: no false negatives
            chunk, owners = chunk[first], owners[first]
            if len(chunk) < 2:
                continue
            images = model.encode_image(inputs[torch.from_numpy(owners).to(device)])
            captions = model.encode_text(texts[torch.from_numpy(chunk).to(device)])
            logits = images @ captions.T / options.temperature
            labels = torch.arange(len(chunk), device=device)
            loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        model.eval()
        arrays = model.export()
        scores = arrays.text_vectors(prepared.text_vectors[val_queries]) @ arrays.image_vectors(prepared.inputs[val]).T
        metrics = _metrics(_ranks(scores, val_targets))
        record = Epoch(epoch, float(np.mean(losses)) if losses else 0.0, metrics["R@10"], metrics["MRR"])
        history.append(record)
        if on_epoch:
            on_epoch(record)
        key = (record.r10, record.mrr)
        if best is None or key > best[0]:
            best = (key, epoch, arrays)
        elif epoch - best[1] >= options.patience:
            break
    assert best is not None
    return best[2], history, best[1], device


def train(collection: Collection, options: TrainOptions | None = None, on_epoch: Callable[[Epoch], None] | None = None,
          report: Callable[[str], None] = print, examples: list[Example] | None = None,
          encode_texts: Callable[[list[str]], np.ndarray] | None = None) -> TrainResult:
    """Train (no activation): collect, split, fit, validate; returns the adapter and its figures."""
    options = options or TrainOptions()
    started = time.perf_counter()
    include_private = collection.settings.adapter_train_private if options.include_private is None else options.include_private
    max_rowid = collection.catalog.last_asset_rowid()
    if examples is None:
        examples = collect_examples(collection, include_private)
    if len(examples) < options.min_examples:
        raise InvalidInput(
            f"{len(examples)} pictures have owner-written text; an adapter needs at least {options.min_examples}",
            "ingest images with titles or descriptions (e.g. `mediasearch ingest DIR --captions FILE.csv`)"
            + ("" if include_private else ", or allow private ones with MEDIASEARCH_ADAPTER_TRAIN_PRIVATE=true"),
        )
    prepared = prepare(collection, examples, report, encode_texts)
    train_idx, val_idx = split(len(prepared.examples), options.holdout, options.seed)
    clip_like = feature_model(collection) is None
    kind = RESIDUAL if clip_like else LINEAR
    report(f"training a {kind} adapter on {len(train_idx)} pictures, validating on {len(val_idx)} held out")
    arrays, history, best_epoch, device = fit(prepared, train_idx, val_idx, kind, clip_like, options, on_epoch)
    checked = validate(prepared, val_idx, arrays, options.seed)
    meta = AdapterMeta(
        encoder=collection.encoder.id, feature_model=feature_model(collection), kind=kind, parameters=arrays.parameters,
        n_train=len(train_idx), n_validation=len(val_idx), n_texts=len(prepared.text_vectors),
        include_private=include_private, max_asset_rowid=max_rowid, epochs=len(history), best_epoch=best_epoch,
        seconds=round(time.perf_counter() - started, 2), device=device, without=checked.without, adapter=checked.adapter,
        fused=checked.fused, weight=checked.weight, calibration=checked.calibration, threshold=checked.threshold,
    )
    never_worse = (checked.fused["R@10"] > checked.without["R@10"] and checked.fused["MRR"] >= checked.without["MRR"])
    if never_worse and len(val_idx) < options.min_validation:
        never_worse = False
        meta.reason = (f"only {len(val_idx)} held-out pictures (fewer than {options.min_validation}): too few to show that it "
                       f"helps (held-out fused R@10 {checked.fused['R@10']:.3f} vs {checked.without['R@10']:.3f}); "
                       "add captioned pictures or raise --holdout")
    elif never_worse:
        meta.reason = (f"held-out fused R@10 {checked.fused['R@10']:.3f} beats the un-adapted channel's "
                       f"{checked.without['R@10']:.3f} (MRR {checked.fused['MRR']:.3f} vs {checked.without['MRR']:.3f})")
    else:
        meta.reason = (f"held-out fused R@10 {checked.fused['R@10']:.3f} / MRR {checked.fused['MRR']:.3f} does not beat "
                       f"the un-adapted channel's R@10 {checked.without['R@10']:.3f} / MRR {checked.without['MRR']:.3f}")
    meta.activated = never_worse
    return TrainResult(meta, arrays, history)


def _still_there(collection: Collection, examples: list[Example]) -> list[Example]:
    """The examples whose assets a deletion has not removed meanwhile."""
    live = []
    for example in examples:
        ids = [a for a in example.asset_ids if collection.catalog.asset_row(a) is not None]
        if ids:
            live.append(example)
    return live


def train_and_activate(collection: Collection, options: TrainOptions | None = None,
                       on_epoch: Callable[[Epoch], None] | None = None, report: Callable[[str], None] = print,
                       activate: bool = True, encode_texts: Callable[[list[str]], np.ndarray] | None = None) -> TrainResult:
    """Train, save the version with the index, and switch to it when the never-worse rule allows.
    One training at a time per collection (a lock file); searches go on throughout."""
    import fcntl

    from indexer.stores.adapter_versions import ACTIVE_KEY, LATEST_KEY, lock_path

    options = options or TrainOptions()
    if options.device is None:  # MEDIASEARCH_DEVICE decides (auto: cuda when torch sees a GPU)
        options = options.model_copy(update={"device": collection.device})
    root = adapters_root(collection)  # the media root: shared by the API nodes of a cluster
    path = lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InvalidInput("an adapter is being trained for this collection already",
                               "wait for it to finish (`mediasearch status` shows it)") from None
        include_private = collection.settings.adapter_train_private if options.include_private is None else options.include_private
        examples = collect_examples(collection, include_private)
        result = train(collection, options, on_epoch, report, examples, encode_texts)
        live = _still_there(collection, examples)
        if len(live) < len(examples):  # assets deleted while training: never keep what they taught
            report(f"{len(examples) - len(live)} training assets were deleted meanwhile: training again without them")
            result = train(collection, options, on_epoch, report, live, encode_texts)
        meta = save(root, result.meta.model_copy(update={"activated": False}), result.arrays)
        meta.activated = result.meta.activated and activate
        if result.meta.activated and not activate:
            meta.reason += "; not activated (--no-activate)"
        result.meta = meta
        update_meta(root, meta)
        collection.catalog.set_meta(LATEST_KEY, meta.version)
        if meta.activated:
            report(f"computing adapted vectors with {meta.version} and switching")
            result.switched = switch(collection, meta.version)
        prune(root, active=collection.catalog.get_meta(ACTIVE_KEY))
        report(f"saved {meta.version} ({size_bytes(root, meta.version) / 1e6:.1f} MB)")
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return result
