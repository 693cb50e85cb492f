"""Settings, read from MEDIASEARCH_* environment variables."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.device import DeviceChoice

EncoderChoice = Literal["auto", "clip", "bundled"]
RefreshChoice = Literal["true", "false", "wait_for"]
EmbeddedLexicalChoice = Literal["tantivy", "fts5"]


class Settings(BaseModel):
    home: Path = Field(default=Path(".mediasearch"), description="Folder holding every store.")
    # Where originals, thumbnails and derived files go (media/, thumbs/, derived/, paths relative to it as
    # the catalog stores them). Unset: the home, as in the embedded mode. In cluster mode every API node
    # points it at one shared file system (docs/deploy.md "Shared media root").
    media_root: Path | None = None
    encoder: EncoderChoice = "auto"
    clip_model: str = "ViT-B-32"
    # An open_clip pretrained tag, or the path of a local checkpoint file.
    clip_pretrained: str = "laion2b_s34b_b79k"
    # faiss.index_factory string for the vector indexes (metric: inner product), or "auto": exact Flat
    # under 20,000 vectors, then IVF...,SQ8 sized to the collection (indexer/stores/vectors.py).
    faiss_factory: str = "auto"
    # Lists an IVF index probes per search; 0: its own default (auto's: max(16, lists/64); a hand-written IVF
    # factory's: lists/16). 10M vectors on a GPU: IVF16384,SQ8 with 128 (docs/benchmarks.md, "GPU").
    faiss_nprobe: int = Field(default=0, ge=0)
    # Where torch models and FAISS run: auto (cuda when torch sees a GPU), cpu or cuda (indexer/device.py).
    device: DeviceChoice = "auto"
    max_upload_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 60_000_000
    max_text_chars: int = 1_000_000
    thumbnail_size: int = 256
    # Save the vector indexes after this many writes; the rest is replayed from SQLite.
    vector_save_every: int = 200
    # The embedded lexical store, used when no OpenSearch URL is set: tantivy (<home>/lexical/tantivy/, fed
    # from the catalog's outbox) or SQLite FTS5 (inside the catalog). See docs/architecture.md.
    embedded_lexical: EmbeddedLexicalChoice = "tantivy"
    # The catalog: unset, the embedded SQLite file <home>/catalog.sqlite3; a postgresql://user@host:port/db URL
    # selects a PostgreSQL catalog shared by API nodes (cluster mode, issue 16; docs/architecture.md "Catalog
    # back ends"). With PostgreSQL the lexical store is tantivy or OpenSearch (there is no FTS5).
    database_url: str | None = None
    # OpenSearch as the lexical store (else the embedded one): comma-separated URLs.
    opensearch_url: str | None = None
    opensearch_user: str | None = None
    opensearch_password: SecretStr | None = None
    opensearch_api_key: SecretStr | None = None
    opensearch_ca: Path | None = Field(default=None, description="CA file that signed the cluster's TLS certificates.")
    # Names the alias <prefix>-assets and its indexes <prefix>-assets-v<N>: one prefix per collection.
    opensearch_prefix: str = "mediasearch"
    opensearch_shards: int = Field(default=1, ge=1)
    # None: one replica when the cluster has a second node, none on a single node (auto_expand_replicas 0-1).
    opensearch_replicas: int | None = Field(default=None, ge=0)
    # After each write: "true" makes it searchable at once, "false" within the refresh interval (1 s).
    opensearch_refresh: RefreshChoice = "true"
    # Media ingest (indexer/media/): image annotators to run,
    # comma-separated (labels, clip_tags, ocr, faces, colours, exif, sensitive; or all / none).
    annotators: str = "labels"
    annotator_workers: int = Field(default=2, ge=1, le=16)
    clip_vocabulary: Path | None = Field(default=None, description="Tags for CLIP zero-shot labels, one a line.")
    max_media_bytes: int = 1024 * 1024 * 1024  # videos and audio files
    max_video_seconds: float = Field(default=3600.0, gt=0)  # videos and audio
    speech_window_seconds: float = Field(default=6.0, gt=0)
    # Adapters (indexer/pipeline/adapters/, `mediasearch train-adapter`): learn from private assets' text too
    # only when this is true; `status` suggests a re-train after this many new captioned assets.
    adapter_train_private: bool = False
    # The feed's cold-start picker (recommender/feed.py) stays until a user without posts liked this many
    # items, from at least this many of the collection's groups.
    feed_picker_likes: int = Field(default=3, ge=1)
    feed_picker_groups: int = Field(default=2, ge=1)
    adapter_retrain_after: int = Field(default=200, ge=1)
    # Hostile input (indexer/fetch.py, indexer/roots.py, api/deadline.py). URL ingest refuses loopback,
    # private, link-local and metadata addresses unless a host or CIDR here allows them (comma-separated).
    url_allow: str = ""
    url_timeout: float = Field(default=10.0, gt=0)  # seconds to connect, and between two reads
    url_deadline: float = Field(default=60.0, gt=0)  # seconds for the whole download, redirects included
    url_max_redirects: int = Field(default=5, ge=0, le=20)
    # Folders that ingest by server-side path may read (colon- or comma-separated). Unset: the CLI reads
    # under the folders and manifests it is given and the current directory; the API reads no paths.
    ingest_roots: str | None = None
    # Per-request deadlines of the API, in seconds: creating assets, and everything else.
    ingest_timeout: float = Field(default=300.0, gt=0)
    request_timeout: float = Field(default=30.0, gt=0)
    # Request bodies (api/limits.py), checked while they stream in, before anything parses them: the
    # size of bodies on endpoints that take no media (asset creation and the picture endpoints follow
    # max_media_bytes and max_upload_bytes), JSON nesting, and the longest wait for the next body bytes.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_json_depth: int = Field(default=64, ge=2, le=10_000)
    body_read_timeout: float = Field(default=15.0, gt=0)
    # Failed API key attempts per client address: after this many within the window (seconds), requests
    # carrying a key get 429 until the oldest failure leaves the window.
    key_failures: int = Field(default=10, ge=1)
    key_failure_window: float = Field(default=300.0, gt=0)
    # Requests without an API key: None (unset) lets them in only while no key was ever made (a local,
    # single-user install); True serves them as read-only, public-only visitors (a public demo); False
    # refuses them.
    anonymous: bool | None = None
    # `mediasearch serve` logs: one JSON object a line (json) or plain text (api/ops.py).
    log_format: Literal["json", "text"] = "text"
    # GET /ready answers 503 while the home's disk has less free space than this (0: never); writes
    # themselves go on until the disk is really full, then answer 507 (indexer/disk.py).
    min_free_bytes: int = Field(default=64 * 1024 * 1024, ge=0)

    @property
    def opensearch_hosts(self) -> list[str]:
        return [h.strip() for h in (self.opensearch_url or "").split(",") if h.strip()]

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Settings from MEDIASEARCH_<FIELD> environment variables (empty ones ignored), with `overrides`
        (those not None) taking precedence. A plain `Settings(...)` reads no environment."""
        return _FromEnvironment(**{k: v for k, v in overrides.items() if v is not None})


class _FromEnvironment(Settings, BaseSettings):
    """pydantic-settings reads each field from MEDIASEARCH_<FIELD NAME>, e.g. MEDIASEARCH_HOME."""

    model_config = SettingsConfigDict(env_prefix="MEDIASEARCH_", env_ignore_empty=True, extra="ignore")
