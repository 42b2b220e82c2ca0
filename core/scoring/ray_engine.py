"""Archive-scale scoring on Ray: the rows of ``raresight score``, written as Parquet shards in a folder.

    chunks = plan_chunks(paths, size=256)                  # input order, one shard per chunk
    with RaySession(address=None, workers=2) as session:   # a local Ray instance, or join a cluster
        for result in score_on_ray(session, project_path, model, chunks, out_dir, coverage=0.9):
            ...                                            # ChunkResult: rows written, unreadable files

A Ray Data pipeline over the chunks: each chunk goes to one actor of a fixed pool; the actor loaded
the project's adapted model once, from the project *file* (the path travels, never the model), and
scores the chunk with the calls the local path makes (``Embedder.embed`` reads and decodes the files
on its decode threads while the model runs, then ``_score_batch`` classifies), 32 images at a time
as ``score_images`` does, so the rows are the local engine's. The actor writes the chunk's rows to
``part-<hash>.parquet``, named by the chunk's sorted paths, through a hidden temporary file renamed
into place: a shard that exists is complete, and a rerun skips its chunk (resume).

Ray is an optional dependency (``pip install 'raresight[cluster]'``), imported only inside functions.
No file name is logged: unreadable files come back to the driver as values for the errors file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import resource
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import RareSightError
from core.privacy.paths import from_stored, to_stored
from core.scoring.output import OutputError, arrow_schema, errors_path, flat_columns, flatten, unflatten
from core.scoring.records import ScoreError, ScoreRow

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 256  # images per shard: large enough that Ray's per-task cost vanishes, small enough to resume cheaply
SCORE_BATCH = 32  # images per embed call, as core.scoring.pipeline.score_images
SHARD_PREFIX = "part-"
ERRORS_STEM = "_scores"  # DIR/_scores.errors.csv: a leading "_" keeps it out of pyarrow.dataset and pandas reads
LOCAL_OBJECT_STORE = 200 * 1024**2  # bytes: only chunk lists and summaries travel through it
INSTALL_HINT = "pip install 'raresight[cluster]'"


class RayUnavailable(RareSightError):
    """Ray is not installed here; the message says how to install it."""


class ClusterError(RareSightError):
    """Ray could not be started or joined, or a worker failed; the message says what to check."""


def import_ray() -> Any:
    """The ``ray`` module with Ray Data, or RayUnavailable naming the install command."""
    try:
        import ray
        import ray.data  # the [data] extra: pyarrow, pandas
    except ImportError as exc:
        raise RayUnavailable(f"--engine ray needs Ray, which is not installed here ({exc}); install it with: {INSTALL_HINT}") from exc
    return ray


@dataclass(frozen=True)
class Chunk:
    """Files scored together into one shard; ``shard`` is named by their sorted stored paths."""

    paths: tuple[str, ...]

    @property
    def shard(self) -> str:
        digest = hashlib.sha256("\n".join(sorted(to_stored(p) for p in self.paths)).encode()).hexdigest()
        return f"{SHARD_PREFIX}{digest[:24]}.parquet"


def plan_chunks(paths: Sequence[str], size: int = DEFAULT_CHUNK) -> list[Chunk]:
    """``paths`` in order, ``size`` at a time: the same paths and size give the same shards."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    return [Chunk(tuple(paths[start : start + size])) for start in range(0, len(paths), size)]


def errors_file(out_dir: Path) -> Path:
    """``DIR/_scores.errors.csv``: the unreadable files, in the local engine's format."""
    return errors_path(out_dir / ERRORS_STEM)


def prepare_output(out_dir: Path, classes: Sequence[str]) -> set[str]:
    """Make ``out_dir`` if needed; the paths of the rows in the complete shards already in it.

    Only complete shards exist under their names (they are renamed into place), so these images are
    done: a rerun scores the others, in new chunks, and an image is never in two shards. A shard of
    other columns (another project, other classes) is an OutputError: one folder holds one table.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: is a file; --engine ray writes a folder of Parquet shards, so give --out a folder")
    if not out_dir.parent.is_dir():
        raise OutputError(f"{out_dir}: the folder {out_dir.parent} does not exist; create it first, or choose another --out")
    try:
        out_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot be made ({exc.strerror}); choose another --out") from exc
    for stale in out_dir.glob(f".{SHARD_PREFIX}*.parquet.tmp"):  # what a crash mid-write left; one run per folder at a time
        stale.unlink(missing_ok=True)
    done: set[str] = set()
    for shard in sorted(out_dir.glob(f"{SHARD_PREFIX}*.parquet")):
        try:
            source = pq.ParquetFile(shard)
            if source.schema_arrow.names != flat_columns(classes):
                raise OutputError(f"{out_dir}: holds results with other columns (another project or other classes); choose another --out")
            done.update(from_stored(str(p)) for p in source.read(columns=["path"]).column("path").to_pylist())
        except (OSError, pa.ArrowException) as exc:
            raise OutputError(f"{shard}: is not a readable Parquet shard; remove it and run the same command again") from exc
    return done


def write_shard(out_dir: Path, name: str, rows: Sequence[ScoreRow], classes: Sequence[str], metadata: dict[str, str]) -> Path:
    """``rows`` to ``out_dir/name`` through a hidden temporary file, synced, then renamed into place."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(classes).with_metadata({k.encode(): v.encode() for k, v in metadata.items()})
    table = pa.Table.from_pylist([flatten(row, classes) for row in rows], schema=schema)
    target = out_dir / name
    temporary = out_dir / f".{name}.tmp"  # hidden: pyarrow.dataset, pandas and *.parquet globs skip it
    try:
        pq.write_table(table, temporary)
        with temporary.open("rb") as file:
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise OutputError(f"{target}: writing failed ({exc.strerror}); free some space and run the same command again") from exc
    return target


def read_shards(out_dir: Path, classes: Sequence[str]) -> list[ScoreRow]:
    """Every row of the shards in ``out_dir``, shard by shard in name order."""
    import pyarrow.parquet as pq

    rows: list[ScoreRow] = []
    for shard in sorted(out_dir.glob(f"{SHARD_PREFIX}*.parquet")):
        rows += [unflatten(flat, classes) for flat in pq.read_table(shard).to_pylist()]
    return rows


@dataclass(frozen=True)
class ChunkResult:
    """What one actor did with one chunk: rows written to ``shard``, unreadable files, its own peak memory."""

    shard: str
    rows: int
    errors: list[ScoreError]
    worker: int  # the actor's process id
    peak_rss_mb: float
    seconds: float


class ChunkScorer:
    """The Ray Data actor: loads the project's model once, then scores and writes one chunk per call.

    ``project`` is a path every worker must be able to open (a shared file system); the model is
    restored from it in the actor, so nothing but the path and plain values crosses the cluster.
    """

    def __init__(self, project: str, version: int, coverage: float, out_dir: str, threads: int, metadata: dict[str, str]) -> None:
        import torch

        import core.metatrain.backbone_file  # noqa: F401  (registers .rsbackbone files with load_backbone)
        from core.embedding import Embedder
        from core.scoring.pipeline import ScoringError, load_project_model
        from core.store import Project

        torch.set_num_threads(max(1, threads))
        with Project.open(project, readonly=True) as opened:
            self.model = load_project_model(opened)
        if self.model.version != version:
            raise ScoringError(
                f"{project}: model version {self.model.version} on this worker, {version} where the run started; "
                "the project was adapted during the run: run the same command again"
            )
        clf = self.model.classifier
        # no embedding cache: on a cluster it would fill every node's disk, and a rerun skips whole shards
        self.embedder = Embedder(clf.backbone, flip=clf._config.flip, cache=None)
        self.coverage, self.out_dir, self.metadata = coverage, Path(out_dir), metadata

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        """``batch``: a pyarrow table of chunks ("shard", "paths" stored); one summary row per chunk."""
        out: dict[str, list[Any]] = {name: [] for name in ("shard", "rows", "error_paths", "error_messages", "worker", "rss", "seconds")}
        for shard, stored in zip(batch.column("shard").to_pylist(), batch.column("paths").to_pylist(), strict=True):
            start = time.perf_counter()
            rows, errors = self.score([from_stored(p) for p in stored])
            if rows:  # no shard for a chunk of unreadable files: they are tried again next run, as locally
                write_shard(self.out_dir, shard, rows, self.model.classes, self.metadata)
            out["shard"].append(shard)
            out["rows"].append(len(rows))
            out["error_paths"].append([to_stored(e.path) for e in errors])
            out["error_messages"].append([e.error for e in errors])
            out["worker"].append(os.getpid())
            out["rss"].append(peak_rss_mb())
            out["seconds"].append(time.perf_counter() - start)
        return out

    def score(self, paths: Sequence[str]) -> tuple[list[ScoreRow], list[ScoreError]]:
        """The loop of ``score_images`` (same batches, same calls), without its disk cache."""
        from core.scoring.pipeline import _score_batch

        clf = self.model.classifier
        rows: list[ScoreRow] = []
        errors: list[ScoreError] = []
        for start in range(0, len(paths), SCORE_BATCH):
            batch = list(paths[start : start + SCORE_BATCH])
            emb = self.embedder.embed(batch, activations=clf.adapted_)
            scored = _score_batch(self.model, batch, emb, self.coverage)
            for index, path in enumerate(batch):
                if index in scored:
                    rows.append(scored[index])
                else:
                    errors.append(ScoreError(path, emb.errors.get(index, f"{path}: could not be scored")))
        return rows, errors


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak) / (1024**2 if os.uname().sysname == "Darwin" else 1024)


@dataclass
class RaySession:
    """A Ray connection for one run: joins ``address``, or starts a local instance (shut down on exit).

    ``workers``: actors in the pool (None: one per CPU Ray reports); each asks for an equal share of
    the CPUs, so the pool always fits. ``start_seconds`` is how long starting or joining took.
    """

    address: str | None = None
    workers: int | None = None
    local_cpus: int | None = None
    start_seconds: float = 0.0
    cpus: float = 0.0
    ray: Any = field(default=None, repr=False)

    def __enter__(self) -> RaySession:
        ray = import_ray()
        start = time.perf_counter()
        try:
            if self.address is None:
                # on loopback only; its token authentication (Ray's default) is kept, its notice about it is not printed
                logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
                ray.init(
                    address="local",  # a new instance, even where `ray start` left one running
                    num_cpus=self.local_cpus or os.cpu_count() or 1,
                    include_dashboard=False,
                    log_to_driver=False,
                    object_store_memory=LOCAL_OBJECT_STORE,
                    configure_logging=False,
                    _node_ip_address="127.0.0.1",
                )
            else:
                ray.init(address=self.address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
            raise ClusterError(f"{where} could not be started or joined ({exc}); check the address and that Ray runs there") from exc
        self.ray = ray
        self.start_seconds = time.perf_counter() - start
        self.cpus = float(ray.cluster_resources().get("CPU", 0.0))
        if self.cpus <= 0:
            ray.shutdown()
            raise ClusterError(f"the Ray cluster at {self.address} reports no CPUs; add worker nodes, or check its resources")
        return self

    def __exit__(self, *exc: object) -> None:
        self.ray.shutdown()  # a local instance stops; on a cluster only this job's actors end

    @property
    def pool_size(self) -> int:
        return self.workers or max(1, int(self.cpus))

    @property
    def cpus_per_worker(self) -> float:
        """An equal share of the CPUs: whole CPUs from 1 up (Ray takes no fractions above 1), else a fraction."""
        share = self.cpus / self.pool_size
        return float(math.floor(share)) if share >= 1 else math.floor(share * 10_000) / 10_000


def score_on_ray(
    session: RaySession,
    project: Path,
    version: int,
    chunks: Sequence[Chunk],
    out_dir: Path,
    *,
    coverage: float,
    metadata: dict[str, str] | None = None,
) -> Iterator[ChunkResult]:
    """Score ``chunks`` in the session's actor pool; one ChunkResult per shard written, as they finish."""
    if not chunks:
        return
    ray = session.ray
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the command draws its own, on stderr
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # keep its warnings (e.g. too few CPUs), not its chatter
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    items = [{"shard": chunk.shard, "paths": [to_stored(p) for p in chunk.paths]} for chunk in chunks]
    settings = {
        "project": str(project.resolve()),
        "version": version,
        "coverage": coverage,
        "out_dir": str(out_dir.resolve()),
        "threads": int(session.cpus_per_worker),
        "metadata": metadata or {},
    }
    dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        _bound_scorer(settings),
        batch_size=1,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=min(session.pool_size, len(items)), max_tasks_in_flight_per_actor=1),
        num_cpus=session.cpus_per_worker,
    )
    try:
        for row in dataset.iter_rows():
            errors = [ScoreError(from_stored(p), m) for p, m in zip(row["error_paths"], row["error_messages"], strict=True)]
            yield ChunkResult(str(row["shard"]), int(row["rows"]), errors, int(row["worker"]), float(row["rss"]), float(row["seconds"]))
    except ray.exceptions.RayError as exc:
        raise ClusterError(_worker_failure(exc, project)) from exc


def _bound_scorer(settings: dict[str, Any]) -> type[ChunkScorer]:
    """ChunkScorer with its settings inside the class (sent by value), not as constructor arguments, which
    Ray would keep in the object store and warn about for actors it may restart."""

    class BoundChunkScorer(ChunkScorer):
        def __init__(self) -> None:
            super().__init__(**settings)

    return BoundChunkScorer


def _worker_failure(exc: Exception, project: Path) -> str:
    """A RareSightError a worker raised, as its own message; anything else with what to check."""
    cause = getattr(exc, "cause", None)
    while cause is not None and not isinstance(cause, RareSightError):
        cause = getattr(cause, "cause", None) or cause.__cause__
    if isinstance(cause, RareSightError):
        return f"a Ray worker stopped: {cause}"
    return (
        f"a Ray worker failed ({type(exc).__name__}); check that {project} and the images are reachable at the same "
        "paths from every worker and that raresight is installed there (docs/cluster.md); the Ray logs hold the details"
    )


def audit_metadata(head: Any) -> dict[str, str]:
    """Shard schema metadata: the project's audit head, as a local Parquet output records it."""
    from core.scoring.pipeline import AUDIT_HEAD_KEY, audit_head_dict

    return {} if head is None else {AUDIT_HEAD_KEY: json.dumps(audit_head_dict(head))}
