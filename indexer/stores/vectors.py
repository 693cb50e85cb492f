"""A FAISS index of unit vectors under int64 ids, built with `faiss.index_factory`.

Scores are inner products, i.e. cosine similarity for unit vectors. The index
is a derived cache of the vectors kept in SQLite: it is saved with the sequence
number of the last change it holds, and whatever is newer is replayed on open.
Factory strings that need training (IVF..., PQ...) start as an exact flat
index; the owner rebuilds with `VectorIndex.build` once `wants_training`.

The factory "auto" picks by size (`auto_factory`): exact `Flat` under 20,000 vectors, then
IVF with 8-bit scalar quantisation, its number of lists growing with the collection (each step
up is a rebuild). SQ8 keeps a 384-d vector in ~400 bytes instead of 1,536; the owner rescores
an approximate index's candidates exactly from the stored float vectors (docs/benchmarks.md).

On a GPU host (`MEDIASEARCH_DEVICE`, indexer/device.py) an index also keeps a GPU copy made with
`faiss.index_cpu_to_gpu`: unfiltered searches run there, IVF training and the first bulk add run there
too, and the CPU copy stays the one that is written to, filtered and saved, so the files are the same
on both. A removal makes the GPU copy stale; it is copied again at the next search.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from indexer.device import CPU, DeviceChoice, faiss_placement, gpu_resources

FORMAT_VERSION = 1
EXACT_FACTORY = "Flat"
AUTO_FACTORY = "auto"
# (at least this many vectors, factory), largest first: ~1,000 vectors per IVF list at the step's
# start, and at least 39 training vectors per list (faiss's own minimum).
AUTO_LADDER = ((20_000_000, "IVF16384,SQ8"), (2_000_000, "IVF4096,SQ8"), (200_000, "IVF1024,SQ8"),
               (20_000, "IVF256,SQ8"))


def auto_factory(n: int) -> str:
    """The factory "auto" uses for n vectors."""
    return next((factory for at_least, factory in AUTO_LADDER if n >= at_least), EXACT_FACTORY)


def _auto_step(factory: str) -> int:
    steps = [EXACT_FACTORY, *(f for _, f in reversed(AUTO_LADDER))]
    return steps.index(factory) if factory in steps else 0


# FAISS's GPU kernels select at most this many neighbours and probe at most this many lists.
GPU_MAX_K = 2048


def _gpu_clonable(index: faiss.Index) -> bool:
    """Index types with a GPU implementation: Flat and IVF with flat, SQ or PQ codes."""
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexIDMap):
        return _gpu_clonable(index.index)
    return isinstance(index, (faiss.IndexFlat, faiss.IndexIVFFlat, faiss.IndexIVFScalarQuantizer,
                              faiss.IndexIVFPQ))


def training_sample(vectors: np.ndarray, nlist: int, seed: int = 0) -> np.ndarray:
    """At most 256 vectors per IVF list, drawn at random: FAISS's k-means samples that many anyway, and the
    GPU's scalar quantiser would otherwise train on every vector (49.7 s instead of a few at 10M x 512)."""
    limit = 256 * nlist
    if len(vectors) <= limit:
        return vectors
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), limit, replace=False))
    return vectors[rows]


def _to_gpu(index: faiss.Index) -> faiss.Index:
    return faiss.index_cpu_to_gpu(gpu_resources(), 0, index)


@dataclass
class VectorHits:
    ids: list[int]
    scores: list[float]


def _from_factory(dim: int, factory: str) -> faiss.Index:
    try:
        return faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        reason = str(exc).rsplit(": ", 1)[-1]
        raise ValueError(f"faiss cannot build index '{factory}': {reason}") from None


def _build(dim: int, factory: str) -> faiss.Index:
    """IVF indexes carry ids natively; everything else is wrapped in IndexIDMap2."""
    inner = _from_factory(dim, factory)
    if isinstance(inner, faiss.IndexIVF):
        inner.nprobe = max(8, inner.nlist // 16)
        inner.set_direct_map_type(faiss.DirectMap.Hashtable)
        return inner
    if isinstance(inner, faiss.IndexHNSW):
        inner.hnsw.efSearch = max(inner.hnsw.efSearch, 128)
    return faiss.IndexIDMap2(inner)


def min_training_vectors(dim: int, factory: str) -> int:
    """How many vectors a factory string needs before it is trained (0: none)."""
    if factory == AUTO_FACTORY:
        return AUTO_LADDER[-1][0]
    probe = _from_factory(dim, factory)
    if probe.is_trained:
        return 0
    if isinstance(probe, faiss.IndexIVF):
        return max(1000, 39 * probe.nlist)
    return 10_000


def _search_parameters(inner: faiss.Index, selector: faiss.IDSelector) -> faiss.SearchParameters:
    inner = faiss.downcast_index(inner)
    if isinstance(inner, faiss.IndexIVF):
        params = faiss.SearchParametersIVF()
        params.nprobe = inner.nprobe
    elif isinstance(inner, faiss.IndexHNSW):
        params = faiss.SearchParametersHNSW()
        params.efSearch = inner.hnsw.efSearch
    else:
        params = faiss.SearchParameters()
    params.sel = selector
    return params


class VectorIndex:
    def __init__(self, dim: int, factory: str = EXACT_FACTORY, device: DeviceChoice = CPU):
        self.dim = dim
        self.factory = factory
        self.min_training = min_training_vectors(dim, factory)
        self.effective_factory = factory if self.min_training == 0 else EXACT_FACTORY
        self._index = _build(dim, self.effective_factory)
        self.applied_seq = 0
        self.device_choice: DeviceChoice = device
        self._placement = faiss_placement(device) if device != CPU else None
        # The GPU copy searched when the device is cuda (None: not made yet, or stale after a removal);
        # for an IndexIDMap2 it copies the inner index, and _gpu_ids maps its positions to ids.
        self._gpu: faiss.Index | None = None
        self._gpu_ids: np.ndarray | None = None
        # The float vectors (exact rescoring, the near-duplicate fold); None after `load` when the file
        # beside the index is missing or stale: the owner rebuilds it from the catalog.
        self.floats: FloatVectors | None = FloatVectors.build(dim, np.zeros(0, np.int64), np.zeros((0, dim), np.float32))

    @classmethod
    def build(cls, dim: int, factory: str, ids: np.ndarray, vectors: np.ndarray,
              device: DeviceChoice = CPU) -> "VectorIndex":
        """A fresh index over these vectors, trained on them when the factory needs it and
        there are enough of them (otherwise exact search until there are). On the GPU an IVF index
        is trained and filled there, then copied to the CPU."""
        index = cls(dim, factory, device)
        target = auto_factory(len(ids)) if factory == AUTO_FACTORY else factory
        if index.min_training and len(ids) >= index.min_training and target != EXACT_FACTORY:
            index._index = _build(dim, target)
            index.effective_factory = target
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            if index.on_gpu:
                index._train_and_add_on_gpu(np.ascontiguousarray(ids, dtype=np.int64), vectors)
            else:
                index._index.train(vectors)
            if factory == AUTO_FACTORY:
                # Fewer lists probed than for a hand-written factory: the owner rescores the candidates
                # exactly, and at 1M x 512 nprobe 64 cost 19 ms a query where 16 cost a few (benchmarks.md).
                index.set_nprobe(index.default_nprobe)
            if index.ntotal:
                index.floats = FloatVectors.build(dim, ids, vectors)
                return index
        index.add(ids, vectors, floats=False)
        index.floats = FloatVectors.build(dim, ids, vectors)
        return index

    def _train_and_add_on_gpu(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """IVF training (the coarse k-means and the codec) and the bulk add on the GPU; the filled
        index comes back to the CPU as the copy that is saved, and stays on the GPU for search."""
        nprobe = self._index.nprobe
        gpu = _to_gpu(self._index)
        gpu.train(training_sample(vectors, self._index.nlist))
        if len(ids):
            gpu.add_with_ids(vectors, ids)
        cpu = faiss.index_gpu_to_cpu(gpu)  # an owning proxy of the concrete class: no downcast_index, which
        cpu.nprobe = nprobe                  # would return a non-owning one and let this one free the index
        cpu.set_direct_map_type(faiss.DirectMap.Hashtable)
        self._index = cpu
        self._gpu, self._gpu_ids = gpu, None
        self.set_nprobe(nprobe)

    # --- where it runs
    @property
    def on_gpu(self) -> bool:
        """True when searches of this index run on the GPU."""
        return self._placement is not None and self._placement.gpu and _gpu_clonable(self._index)

    @property
    def device(self) -> str:
        """'cuda' or 'cpu', where unfiltered searches run."""
        return "cuda" if self.on_gpu else "cpu"

    @property
    def device_reason(self) -> str:
        if self._placement is None:
            return "MEDIASEARCH_DEVICE=cpu" if self.device_choice == CPU else "no CUDA device"
        if self._placement.gpu and not self.on_gpu:
            return f"{self.effective_factory} has no FAISS GPU implementation"
        return self._placement.reason

    def set_nprobe(self, nprobe: int) -> None:
        """Lists probed by an IVF index, on both copies."""
        self._index.nprobe = nprobe
        if self._gpu is not None:
            faiss.GpuParameterSpace().set_index_parameter(self._gpu, "nprobe", min(nprobe, GPU_MAX_K))

    def _gpu_index(self) -> faiss.Index:
        """The GPU copy, made (again) from the CPU one when missing or stale."""
        if self._gpu is None:
            if isinstance(self._index, faiss.IndexIDMap):
                self._gpu = _to_gpu(self._index.index)
                self._gpu_ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            else:
                self._gpu, self._gpu_ids = _to_gpu(self._index), None
                if isinstance(self._index, faiss.IndexIVF):
                    faiss.GpuParameterSpace().set_index_parameter(self._gpu, "nprobe",
                                                                  min(self._index.nprobe, GPU_MAX_K))
        return self._gpu

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """Every id in the index."""
        if isinstance(self._index, faiss.IndexIVF):
            lists = self._index.invlists
            parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                     for i in range(self._index.nlist) if lists.list_size(i)]
            return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    @property
    def is_ivf(self) -> bool:
        return isinstance(self._index, faiss.IndexIVF)

    @property
    def default_nprobe(self) -> int | None:
        """The lists an IVF index probes unless MEDIASEARCH_FAISS_NPROBE says otherwise: `auto`'s max(16,
        lists/64) (its candidates are rescored exactly), a hand-written factory's max(8, lists/16)."""
        if not self.is_ivf:
            return None
        nlist = int(self._index.nlist)
        return max(16, nlist // 64) if self.factory == AUTO_FACTORY else max(8, nlist // 16)

    @property
    def nprobe(self) -> int | None:
        """Lists probed per search (None: not an IVF index)."""
        return int(self._index.nprobe) if self.is_ivf else None

    @property
    def is_exact(self) -> bool:
        return self.effective_factory == EXACT_FACTORY

    @property
    def wants_training(self) -> bool:
        """True when enough vectors exist to switch to the requested factory (for "auto": to the
        next step of its ladder; it never steps down)."""
        if self.factory == AUTO_FACTORY:
            return _auto_step(auto_factory(self.ntotal)) > _auto_step(self.effective_factory)
        return self.effective_factory != self.factory and self.ntotal >= self.min_training

    def add(self, ids: np.ndarray, vectors: np.ndarray, floats: bool = True) -> None:
        """Add vectors under ids that are not in the index (remove them first to replace); their float
        rows too unless `floats` is False (`build` sets them all at once)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of dimension {self.dim}, got shape {vectors.shape}")
        if len(ids):
            self._index.add_with_ids(vectors, ids)
            if floats and self.floats is not None:
                self.floats.add(ids, vectors)
            if self._gpu is not None:
                if self._gpu_ids is None:
                    self._gpu.add_with_ids(vectors, ids)
                else:  # an IndexIDMap2 on the CPU: positions on the GPU, ids beside them
                    self._gpu.add(vectors)
                    self._gpu_ids = np.concatenate([self._gpu_ids, ids])

    def remove(self, ids: np.ndarray) -> bool:
        """Remove ids; False when the structure cannot remove (HNSW) and must be rebuilt."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self.floats is not None:
            self.floats.remove(ids)
        if not len(ids) or not self.ntotal:
            return True
        try:
            # IVF's hashtable direct map removes only through an IDSelectorArray.
            self._index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)))
        except RuntimeError:
            return False
        self._gpu = self._gpu_ids = None  # GPU indexes cannot remove: copied again at the next search
        return True

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> VectorHits:
        """Top-k ids for one query vector, restricted to `allowed` ids when given.

        The restriction happens inside FAISS (an ID selector), so on an exact
        index a filter that matches few vectors still returns all of them. An
        approximate index may return fewer than asked under a narrow filter;
        the caller then scores the allowed candidates exactly.
        """
        return self.search_many(np.asarray(query, dtype=np.float32).reshape(1, -1), k, allowed)[0]

    def search_many(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None,
                    denied: np.ndarray | None = None) -> list[VectorHits]:
        """`search` for several query vectors at once (one FAISS call, one selector); `denied`: every id but
        these (FAISS's IDSelectorNot), the short form of an `allowed` list that holds nearly every id."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if k <= 0 or not self.ntotal:
            return [VectorHits([], []) for _ in queries]
        if denied is not None and len(denied):
            if allowed is not None:
                raise ValueError("search takes allowed ids or denied ids, not both")
            denied = np.ascontiguousarray(denied, dtype=np.int64)
            batch = faiss.IDSelectorBatch(len(denied), faiss.swig_ptr(denied))
            selector = faiss.IDSelectorNot(batch)
            inner = self._index if isinstance(self._index, faiss.IndexIVF) else self._index.index
            scores, ids = self._index.search(queries, min(k, self.ntotal), params=_search_parameters(inner, selector))
            del batch  # referenced by the selector until the search is done
            return [VectorHits(r[r >= 0].tolist(), s[r >= 0].tolist()) for r, s in zip(ids, scores, strict=True)]
        if allowed is None and self.on_gpu and k <= GPU_MAX_K:
            # Filtered searches stay on the CPU copy: FAISS's GPU indexes take no ID selector.
            scores, ids = self._gpu_index().search(queries, min(k, self.ntotal))
            if self._gpu_ids is not None:
                ids = np.where(ids >= 0, self._gpu_ids[np.maximum(ids, 0)], -1)
        elif allowed is None:
            scores, ids = self._index.search(queries, min(k, self.ntotal))
        else:
            allowed = np.ascontiguousarray(allowed, dtype=np.int64)
            if not len(allowed):
                return [VectorHits([], []) for _ in queries]
            selector = faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed))
            inner = self._index if isinstance(self._index, faiss.IndexIVF) else self._index.index
            params = _search_parameters(inner, selector)
            scores, ids = self._index.search(queries, min(k, len(allowed), self.ntotal), params=params)
        out = []
        for row_ids, row_scores in zip(ids, scores, strict=True):
            keep = row_ids >= 0
            out.append(VectorHits(row_ids[keep].tolist(), row_scores[keep].tolist()))
        return out

    # Persistence: one file, a JSON header line then the serialised index, replaced atomically.
    def save(self, path: Path, home: Path | None = None) -> None:
        """Save atomically (temp file + rename, fsynced); a full disk raises StorageFull and leaves
        the old file and no temp file."""
        from indexer.disk import atomic_write

        header = {
            "format": FORMAT_VERSION,
            "dim": self.dim,
            "factory": self.factory,
            "effective_factory": self.effective_factory,
            "applied_seq": self.applied_seq,
        }
        if self.floats is not None:  # first: a crash between the two leaves it stale, and so rebuilt
            self.floats.save(floats_path(path), self.applied_seq, home)
        payload = faiss.serialize_index(self._index)
        # The temp file has a name of its own: several processes (serve workers, the CLI) may save at once.
        atomic_write(path, [json.dumps(header).encode() + b"\n", payload.tobytes()], home=home or path.parent,
                     what=f"the vector index {path.name}", fsync=True)

    @classmethod
    def load(cls, path: Path, device: DeviceChoice = CPU) -> "VectorIndex":
        data = path.read_bytes()
        newline = data.index(b"\n")
        header = json.loads(data[:newline])
        if header.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path} has format {header.get('format')}, expected {FORMAT_VERSION}")
        index = cls(header["dim"], header["factory"], device)
        index._index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8, offset=newline + 1))
        index.effective_factory = header["effective_factory"]
        index.applied_seq = header["applied_seq"]
        index.floats = None
        try:
            floats, seq = FloatVectors.load(floats_path(path), index.dim)
            if seq == index.applied_seq:
                index.floats = floats
        except (OSError, ValueError):
            pass  # missing or unreadable: rebuilt by the owner
        return index


# --- the float vectors beside an index ------------------------------------------------------------------
FLOATS_FORMAT = 1
FLOATS_SUFFIX = ".vectors"
FLOATS_HEADER = 4096  # bytes: a JSON line padded with spaces, then the ids (int64), then the rows
FLOAT_DTYPE = np.float32  # exact: the rescored scores equal the catalog's cosines (float16 would halve the file)


class FloatVectors:
    """The float vectors of one index, for the exact rescoring of approximate candidates and the
    near-duplicate fold, without a catalog read per query. On disk beside the FAISS file
    (`indexes/<space>.vectors`): a header, the ids sorted ascending (int64), then one row per id
    (float32), memory-mapped on load, so a server touches only the rows it reads and the page cache
    is shared by its workers. Changes since the file was written are kept in memory (`_extra`, `_dead`)
    until the index is saved; the file carries the index's applied sequence number, and a missing,
    unreadable or stale file is rebuilt from the catalog by the owner (indexer/collection.py)."""

    def __init__(self, dim: int, ids: np.ndarray, rows: np.ndarray):
        self.dim = dim
        self._ids = ids  # sorted ascending
        self._rows = rows
        self._dead = np.zeros(len(ids), dtype=bool)
        self._extra: dict[int, np.ndarray] = {}

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray) -> "FloatVectors":
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=FLOAT_DTYPE).reshape(-1, dim)
        order = np.argsort(ids, kind="stable")
        if len(order) and not np.all(np.diff(ids[order]) > 0):  # the last of a repeated id wins
            _, last = np.unique(ids[order][::-1], return_index=True)
            order = order[::-1][last]
        return cls(dim, ids[order], np.ascontiguousarray(vectors[order]))

    def __len__(self) -> int:
        return int(len(self._ids) - self._dead.sum() + len(self._extra))

    def ids(self) -> np.ndarray:
        base = self._ids[~self._dead]
        extra = np.fromiter(self._extra, dtype=np.int64, count=len(self._extra))
        return np.union1d(base, extra)

    def _positions(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in the file, a mask of the ids found alive there)."""
        if not len(self._ids):
            return np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)
        pos = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
        return pos, (self._ids[pos] == ids) & ~self._dead[pos]

    def get(self, ids: np.ndarray | list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(found ids ascending, their float32 rows), like `Catalog.vectors`."""
        wanted = np.unique(np.asarray(ids, dtype=np.int64))
        extra = dict(self._extra)  # a snapshot: a replay on another thread may change it meanwhile (small:
                                   # the changes since the last save, every `vector_save_every`)
        if extra:
            in_extra = np.fromiter((int(i) in extra for i in wanted), dtype=bool, count=len(wanted))
        else:
            in_extra = np.zeros(len(wanted), bool)
        pos, alive = self._positions(wanted)
        alive &= ~in_extra
        keep = alive | in_extra
        found = wanted[keep]
        if not len(found):
            return found, np.zeros((0, self.dim), np.float32)
        rows = np.empty((len(found), self.dim), dtype=np.float32)
        from_file = alive[keep]
        rows[from_file] = self._rows[pos[alive]]
        for r in np.flatnonzero(~from_file):
            rows[r] = extra[int(found[r])]
        return found, rows

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace rows (a replay may add what a rebuilt file holds already)."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        vectors = np.asarray(vectors, dtype=FLOAT_DTYPE).reshape(len(ids), self.dim)
        self.remove(ids)
        # In place (a copy per replayed entry would be quadratic between saves); a reader on another thread
        # looks ids up one at a time, which the GIL keeps whole.
        self._extra.update({int(i): v.copy() for i, v in zip(ids, vectors, strict=True)})

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        pos, alive = self._positions(ids)
        if alive.any():
            self._dead[pos[alive]] = True
        if self._extra:
            for i in ids.tolist():
                self._extra.pop(i, None)

    def save(self, path: Path, applied_seq: int, home: Path | None = None) -> None:
        """Write the merged rows atomically, then map the new file."""
        from indexer.disk import atomic_write

        ids = self.ids()
        header = json.dumps({"format": FLOATS_FORMAT, "dim": self.dim, "count": int(len(ids)),
                             "dtype": np.dtype(FLOAT_DTYPE).name, "applied_seq": applied_seq}).encode()
        if len(header) >= FLOATS_HEADER:
            raise ValueError("the header of the float vectors does not fit")

        def chunks():  # noqa: ANN202 - bytes, a slice at a time (a million rows need not be copied at once)
            yield header + b" " * (FLOATS_HEADER - len(header) - 1) + b"\n"
            yield ids.astype("<i8").tobytes()
            for start in range(0, len(ids), 65536):
                yield np.ascontiguousarray(self.get(ids[start : start + 65536])[1], dtype=FLOAT_DTYPE).tobytes()

        atomic_write(path, chunks(), home=home or path.parent, what=f"the float vectors {path.name}", fsync=True)
        # Map what was just written. Another process (a serve worker, the CLI) may have replaced the file
        # since: then its rows are not ours, and the merged rows stay in memory until the next save.
        try:
            loaded, seq = FloatVectors.load(path, self.dim)
        except (OSError, ValueError):
            loaded, seq = None, None
        if loaded is not None and seq == applied_seq and np.array_equal(loaded._ids, ids):
            self._ids, self._rows = loaded._ids, loaded._rows
        else:
            self._ids, self._rows = ids, self.get(ids)[1]
        self._dead, self._extra = np.zeros(len(self._ids), dtype=bool), {}

    @classmethod
    def load(cls, path: Path, dim: int) -> tuple["FloatVectors", int]:
        """(the file memory-mapped, its applied sequence number); ValueError when unreadable or not `dim`.
        The header, the size and the mapping all come from one open file: another process may rename a
        new file over `path` at any moment, and a second `open` could see that one."""
        with open(path, "rb") as fh:
            head = fh.read(FLOATS_HEADER)
            try:
                header = json.loads(head)
            except ValueError:
                raise ValueError(f"{path} has no readable header") from None
            if header.get("format") != FLOATS_FORMAT or header.get("dim") != dim or header.get("dtype") != np.dtype(FLOAT_DTYPE).name:
                raise ValueError(f"{path} holds other vectors ({header})")
            count = int(header["count"])
            expected = FLOATS_HEADER + count * 8 + count * dim * np.dtype(FLOAT_DTYPE).itemsize
            if os.fstat(fh.fileno()).st_size != expected:
                raise ValueError(f"{path} is cut short or too long")
            if not count:
                return cls(dim, np.zeros(0, np.int64), np.zeros((0, dim), FLOAT_DTYPE)), int(header["applied_seq"])
            # np.memmap of an open file maps that file (its inode), whatever `path` names by now.
            ids = np.memmap(fh, dtype="<i8", mode="r", offset=FLOATS_HEADER, shape=(count,))
            rows = np.memmap(fh, dtype=FLOAT_DTYPE, mode="r", offset=FLOATS_HEADER + count * 8, shape=(count, dim))
        return cls(dim, np.asarray(ids), rows), int(header["applied_seq"])


def floats_path(index_path: Path) -> Path:
    """Where the float vectors of the index saved at `index_path` live."""
    return index_path.with_suffix(FLOATS_SUFFIX)
