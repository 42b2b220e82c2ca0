"""Crash safety of the project file: SIGKILL a writer at random moments, reopen, check nothing is lost.

A child process opens (or creates) a project and loops forever over an import-and-label run: it
imports the images not yet in the project in small batches, then labels random images with random
classes, undoes and redoes steps, and saves model states and predictions. After each commit it prints
one JSON line saying what it committed, and flushes. The parent kills the child with SIGKILL at a random
moment (usually while it is writing, sometimes while it starts or opens the file; a byte in a shared
memory mapping tells whether the kill came between BEGIN and the end of COMMIT), reads everything
the child reported, reopens the project as the application would (SQLite recovers the WAL) and checks:

- every committed change the child reported is there, with the values it reported;
- nothing is half-written: PRAGMA integrity_check and foreign_key_check are clean, and every
  labelling step has all of its label rows (``Project.verify`` checks both);
- ``Project.verify`` finds nothing at all (audit chain, labels against audit rows, model hashes, files);
- with ``copy_alone`` (the default), all of the above holds too for the ``.raresight`` file copied
  alone (no ``-wal``) right after the kill, before anything reopens the original: the file must be
  complete on its own after every commit. Only a kill inside a write may leave that copy damaged
  (the checkpoint was copying pages into the file), and then opening or verifying it must say so.

Usage::

    .venv/bin/python bench/crash_store.py --kills 200 --files 300 --out bench/results/crash_store.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import mmap
import os
import random
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_json import git_provenance, write_json  # noqa: E402

from core.errors import ProjectError  # noqa: E402
from core.store import ModelState, PredictionRecord, Project, db, encode_safetensors  # noqa: E402

CLASSES = ("sarcoidosis", "histiocytosis", "normal", "other")


def make_images(folder: Path, count: int, seed: int) -> list[Path]:
    """``count`` small PNGs with distinct content."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        path = folder / f"img_{index:05d}.png"
        if not path.exists():
            Image.fromarray(rng.integers(0, 256, (24, 24), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


# -- the child: writes until it is killed --------------------------------------------------------


def _say(tag: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"t": tag, **fields}) + "\n")
    sys.stdout.flush()


def _trace_transactions(flag_path: Path) -> mmap.mmap:
    """Keep one byte of a shared file at 1 (2 for an import) while a write transaction is open (BEGIN to COMMIT).

    The child sets it to 3 while it decodes files for an import, and 0 otherwise.
    The byte lives in a shared memory mapping, so the parent reads what it was at the moment of the kill.
    """
    handle = flag_path.open("r+b")
    flag = mmap.mmap(handle.fileno(), 1)
    original = db.Database.write

    @contextlib.contextmanager
    def traced(self: db.Database, doing: str) -> Iterator[sqlite3.Connection]:
        before = flag[0]
        flag[0] = 2 if "imported image" in doing else 1
        try:
            with original(self, doing) as conn:
                yield conn
        finally:
            flag[0] = before

    db.Database.write = traced  # type: ignore[method-assign]
    return flag


def child(project_path: Path, folder: Path, seed: int) -> None:
    """Import the images not yet in the project a few at a time, between labelling steps, undo, redo
    and model saves, forever."""
    rng = random.Random(seed)
    flag = _trace_transactions(project_path.parent / "in_transaction.flag")
    project = Project.create(project_path, actor="crash") if not project_path.exists() else Project.open(project_path, actor="crash")
    _say("ready")
    known = {Path(r.path).name for r in project.images()}
    todo = sorted(p for p in folder.iterdir() if p.name not in known)
    rng.shuffle(todo)
    ids = [r.id for r in project.images() if r.id is not None]
    while True:
        roll = rng.random()
        if todo and (roll < 0.15 or len(ids) < 8):
            batch, todo = todo[:4], todo[4:]
            flag[0] = 3  # decoding files for the import, outside any transaction
            report = project.add_images(batch, class_name=rng.choice(CLASSES), batch_size=4)
            flag[0] = 0
            records = [project.image(i) for i in report.added]
            ids += report.added
            _say("images", images=[[r.id, r.content_hash] for r in records if r is not None])
            continue
        if roll < 0.70:
            step = project.label(rng.sample(ids, min(len(ids), rng.randint(1, 6))), rng.choice((*CLASSES, None)))
        elif roll < 0.82:
            step = project.undo()
        elif roll < 0.92:
            step = project.redo()
        else:
            _save_model(project, rng, ids)
            continue
        if step is not None:
            _say("step", step=step.id, kind=step.kind, n=step.n_labels, labels=_step_labels(project, step.id))


def _step_labels(project: Project, step_id: int) -> list[list[Any]]:
    # Read back through a second query: what the child reports is what was committed.
    conn = sqlite3.connect(f"file:{project.path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT l.image_id, c.name FROM labels l LEFT JOIN classes c ON c.id = l.class_id WHERE l.step_id = ? ORDER BY l.id", (step_id,)
        ).fetchall()
    finally:
        conn.close()
    return [list(r) for r in rows]


def _save_model(project: Project, rng: random.Random, ids: list[int]) -> None:
    gen = np.random.default_rng(rng.randrange(1 << 30))
    prototypes = gen.standard_normal((len(CLASSES), 16)).astype(np.float32)
    weights = encode_safetensors({"head.weight": gen.standard_normal((4, 16)).astype(np.float32)})
    state = ModelState("tiny-test", "0" * 64, prototypes, CLASSES, temperature=1.5, adapted_weights=weights, settings={"steps": 3})
    version = project.save_model_state(state)
    _say("model", version=version, prototypes_sum=float(prototypes.sum()))
    chosen = rng.sample(ids, min(len(ids), 20))
    records = [PredictionRecord(i, {c: 0.25 for c in CLASSES}, (CLASSES[0],), CLASSES[0], 0.25) for i in chosen]
    project.add_predictions(version, records)
    _say("predictions", version=version, n=len(records))


# -- the parent: kills, reopens, checks -------------------------------------------------------------


class Reader(threading.Thread):
    """Collects the child's JSON lines as they arrive (and the rest after the kill)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[dict[str, Any]] = []
        self.ready = threading.Event()

    def run(self) -> None:
        for raw in self.stream:
            try:
                item = json.loads(raw)
            except json.JSONDecodeError:
                continue  # a line cut by the kill is not a report
            self.lines.append(item)
            if item.get("t") == "ready":
                self.ready.set()


def wal_tail(project_path: Path) -> tuple[int, int]:
    """(committed frames, frames after the last commit) in the -wal file the killed child left.

    Frames after the last commit frame belong to a transaction that was being written when the kill
    came: SQLite must discard them on reopening. Only frames of the WAL's current salt are counted.
    """
    wal = Path(f"{project_path}-wal")
    data = wal.read_bytes() if wal.exists() else b""
    if len(data) < 32 or struct.unpack(">I", data[:4])[0] not in (0x377F0682, 0x377F0683):
        return 0, 0
    page_size, _, salt1, salt2 = struct.unpack(">IIII", data[8:24])
    committed = pending = 0
    offset = 32
    while offset + 24 + page_size <= len(data):
        _, db_size, s1, s2 = struct.unpack(">IIII", data[offset : offset + 16])
        if (s1, s2) != (salt1, salt2):
            break
        pending += 1
        if db_size:
            committed, pending = committed + pending, 0
        offset += 24 + page_size
    return committed, pending


def check(project_path: Path, reported: dict[str, dict[Any, Any]]) -> list[str]:
    """Everything wrong after reopening: lost reported changes, half-written data, verify findings."""
    problems: list[str] = []
    with Project.open(project_path, actor="checker") as project:
        images = {r.id: r.content_hash for r in project.images()}
        for image_id, content_hash in reported["images"].items():
            if images.get(image_id) != content_hash:
                problems.append(f"reported image {image_id} is missing or changed")
        conn = sqlite3.connect(f"file:{project_path}?mode=ro", uri=True)
        try:
            for step_id, (kind, labels) in reported["steps"].items():
                rows = conn.execute(
                    "SELECT s.kind, l.image_id, c.name FROM steps s JOIN labels l ON l.step_id = s.id "
                    "LEFT JOIN classes c ON c.id = l.class_id WHERE s.id = ? ORDER BY l.id",
                    (step_id,),
                ).fetchall()
                if [[r[1], r[2]] for r in rows] != labels or any(r[0] != kind for r in rows):
                    problems.append(f"reported step {step_id} is missing or differs")
        finally:
            conn.close()
        for version, prototypes_sum in reported["models"].items():
            state = project.model_state(version)
            if state is None or abs(float(state.prototypes.sum()) - prototypes_sum) > 1e-3:
                problems.append(f"reported model version {version} is missing or differs")
        problems += [str(f) for f in project.verify()]
    return problems


def _collect(lines: list[dict[str, Any]], reported: dict[str, dict[Any, Any]]) -> int:
    count = 0
    for item in lines:
        if item["t"] == "images":
            reported["images"].update({int(i): h for i, h in item["images"]})
            count += len(item["images"])
        elif item["t"] == "step":
            reported["steps"][int(item["step"])] = (item["kind"], item["labels"])
            count += 1
        elif item["t"] == "model":
            reported["models"][int(item["version"])] = item["prototypes_sum"]
            count += 1
    return count


@dataclass
class Tally:
    """What the kills hit, and what the checks found."""

    reported: dict[str, dict[Any, Any]] = field(default_factory=lambda: {"images": {}, "steps": {}, "models": {}})
    phases: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PHASES, 0))
    commits: int = 0
    commit_being_written: int = 0
    copies_alone_damaged_in_a_write: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)


PHASES = (
    "while starting or opening",
    "inside an import transaction",
    "inside a label/undo/model transaction",
    "while decoding files to import",
    "between transactions",
)


def kill_once(
    script_args: list[str], flag_path: Path, rng: random.Random, max_delay: float
) -> tuple[list[dict[str, Any]], str, int | None]:
    """Start the child, SIGKILL it at a random moment; returns (its reports, phase hit, exit status if it died first)."""
    flag_path.write_bytes(b"\0")
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", *script_args], stdout=subprocess.PIPE, text=True)
    reader = Reader(proc.stdout)
    reader.start()
    # One kill in eight lands while the child starts or opens the file; the rest while it works.
    if rng.random() < 0.125:
        time.sleep(rng.uniform(0.0, 0.6))
    else:
        reader.ready.wait(timeout=30)
        time.sleep(rng.uniform(0.0, max_delay))
    died_first = proc.poll()
    if died_first is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join(timeout=10)
    flag = flag_path.read_bytes()[:1]
    ready = any(item.get("t") == "ready" for item in reader.lines)
    phase = PHASES[0] if not ready and flag == b"\0" else {b"\2": PHASES[1], b"\1": PHASES[2], b"\3": PHASES[3]}.get(flag, PHASES[4])
    return reader.lines, phase, died_first


def check_copy_alone(project_path: Path, folder: Path, tally: Tally, in_write: bool) -> list[str]:
    """Check the project file copied alone (as a user mailing "the project" would), before anything reopens it.

    A kill inside a write may land while the checkpoint copies pages into the file: the file alone is
    then half old, half new, and only its -wal makes it whole. That copy may be damaged, never silently:
    opening or verifying it must say so.
    """
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / project_path.name
    shutil.copyfile(project_path, copy)
    try:
        problems = check(copy, tally.reported)
    except ProjectError as exc:
        problems = [f"refused: {exc}"]
    finally:
        shutil.rmtree(folder)
    said_so = any(not p.startswith("reported ") for p in problems)
    if in_write and problems and said_so:
        tally.copies_alone_damaged_in_a_write += 1
        return []
    return [f"copied alone: {p}" for p in problems]


def run(
    kills: int = 200, files: int = 300, workdir: Path | None = None, seed: int = 0, max_delay: float = 0.5, copy_alone: bool = True
) -> dict[str, Any]:
    """Kill the child ``kills`` times, checking the file copied alone and then the reopened project after each.

    Returns figures and every problem found.
    """
    root = Path(workdir or tempfile.mkdtemp(prefix="crash_store_"))
    make_images(root / "images", files, seed)
    project_path = root / "crash.raresight"
    rng = random.Random(seed)
    tally = Tally()
    started = time.perf_counter()
    for attempt in range(kills):
        args = [str(project_path), str(root / "images"), str(seed * 100_000 + attempt)]
        lines, phase, died_first = kill_once(args, root / "in_transaction.flag", rng, max_delay)
        tally.phases[phase] += 1
        tally.commit_being_written += wal_tail(project_path)[1] > 0
        tally.commits += _collect(lines, tally.reported)
        problems = [f"the child stopped by itself (exit status {died_first})"] if died_first is not None else []
        if copy_alone and project_path.exists():
            problems += check_copy_alone(project_path, root / "alone", tally, in_write=phase in PHASES[1:3])
        problems += check(project_path, tally.reported) if project_path.exists() else []
        if problems:
            tally.failures.append({"kill": attempt + 1, "problems": problems[:10]})
    with Project.open(project_path, readonly=True) as project:
        info = project.info().to_dict()
    return {
        "kills": kills,
        "file_copied_alone_checked": copy_alone,
        "copies_alone_damaged_by_a_kill_inside_a_write_and_reported_so": tally.copies_alone_damaged_in_a_write,
        "kills_by_moment": tally.phases,
        "kills_while_a_commit_was_being_written_to_the_wal": tally.commit_being_written,
        "reported_commits_checked": tally.commits,
        "images_reported": len(tally.reported["images"]),
        "steps_reported": len(tally.reported["steps"]),
        "model_versions_reported": len(tally.reported["models"]),
        "final_project": {k: info[k] for k in ("images", "labelled_images", "classes", "model_version", "audit_entries")},
        "failures": tally.failures,
        "seconds": round(time.perf_counter() - started, 1),
        "project_file": str(project_path),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-delay", type=float, default=0.5, help="longest wait (s) between the child opening the file and the kill")
    parser.add_argument("--workdir", type=Path, help="where to put the images and the project (default: a new temporary folder)")
    parser.add_argument("--out", type=Path, help="write the JSON result here too")
    parser.add_argument("--no-copy-alone", action="store_true", help="skip checking the project file copied alone after each kill")
    parser.add_argument("--child", nargs=3, metavar=("PROJECT", "FOLDER", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), int(args.child[2]))
        return 0
    # The audit anchors of these throw-away projects go to a temporary folder, not the user's own.
    os.environ.setdefault("RARESIGHT_DATA_DIR", tempfile.mkdtemp(prefix="crash_store_data_"))
    provenance = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "git": git_provenance(REPO)}
    result = run(args.kills, args.files, args.workdir, args.seed, args.max_delay, copy_alone=not args.no_copy_alone)
    print(write_json({**provenance, **result}, args.out, indent=1))
    return 0 if not result["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
