"""Fuzz the image readers: mutated files through ``load_image`` and through ``raresight scan -r``.

Sources are small files bundled inside pydicom (native, deflated, RLE, JPEG, JPEG-LS, JPEG 2000)
and PNG, JPEG, TIFF, BMP and GIF files made here, plus the crafted files of issue 17
(``tests/core/imaging/hostile.py``). File ``i`` is mutated by a generator seeded with (seed, i),
so a run is reproducible whatever the worker scheduling: byte flips (mostly in the header), cuts,
deleted and inserted spans, DICOM header fields (Rows, Columns, NumberOfFrames, BitsAllocated ...)
and codec frame header fields (JPEG SOF, JPEG 2000 SIZ, RLE segment table, PNG IHDR, BMP, TIFF).

Each worker process runs under a 2 GiB address-space cap (RLIMIT_AS): an allocation past it fails
as MemoryError, which ``load_image`` reports as "not enough memory"; the run counts those as cap
hits (must be 0), and the peak RSS of every worker. Verdicts: ok, ImageReadError, anything else
(must be 0), over the per-file time limit, and messages that quote an object repr, hold an empty
reason, do not name the file, run past 600 characters or quote a patient or staff identifier of the
source files. Then ``raresight scan -r`` reads the same folders (two processes,
same cap) and must agree with ``load_image`` on every file, with no traceback.

    .venv/bin/python bench/fuzz_imaging.py --out bench/results/fuzz-imaging.json
    .venv/bin/python bench/fuzz_imaging.py --files 500          # a short run
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_json import git_provenance, write_json  # noqa: E402

from core.errors import ImageReadError  # noqa: E402
from core.imaging import load_image  # noqa: E402
from tests.core.imaging.hostile import PYDICOM_FILES, crafted, pixel_offset  # noqa: E402

CAP_BYTES = 2 << 30
TIME_LIMIT_S = 10.0  # a file slower than this counts as over the limit
HARD_LIMIT_S = 60.0  # and is stopped here
BATCH = 50
DICOM_SOURCES = (
    "CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
    "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm", "JPEG2000.dcm", "JPEG-lossy.dcm", "JPGExtended.dcm",
    "SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_small_odd_jpeg.dcm", "SC_rgb_rle.dcm", "SC_rgb_rle_16bit.dcm", "SC_rgb_small_odd.dcm",
    "rtdose_rle_1frame.dcm", "rtdose_1frame.dcm", "image_dfl.dcm", "693_J2KI.dcm", "ExplVR_LitEndNoMeta.dcm",
    "SC_jpeg_no_color_transform.dcm", "JPEGLSNearLossless_08.dcm", "examples_palette.dcm", "liver_1frame.dcm",
)  # fmt: skip
DICOM_FIELDS = {
    "Rows": "US", "Columns": "US", "NumberOfFrames": "IS", "BitsAllocated": "US", "BitsStored": "US", "HighBit": "US",
    "SamplesPerPixel": "US", "PixelRepresentation": "US", "PlanarConfiguration": "US", "PhotometricInterpretation": "CS",
}  # fmt: skip
U16 = (0, 1, 2, 3, 7, 8, 12, 15, 16, 17, 24, 32, 64, 255, 256, 4096, 8192, 16384, 32767, 32768, 65500, 65535)
U32 = (*U16, 65536, 100_000, 1 << 20, 60000, (1 << 31) - 1, (1 << 32) - 1)
PHOTOMETRIC = ("MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "XYZ", "")


def raster_sources() -> list[tuple[str, bytes]]:
    """Small PNG, JPEG, TIFF, BMP and GIF files, grey and colour, 8 and 16 bit."""
    rng = np.random.default_rng(0)
    grey = (np.add.outer(np.arange(48), np.arange(64)) * 2).astype(np.uint8)
    rgb = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    grey16 = (grey.astype(np.uint16) * 250).astype(np.uint16)
    made = []
    for name, array, fmt, options in (
        ("grey.png", grey, "PNG", {}),
        ("rgb.png", rgb, "PNG", {}),
        ("grey16.png", grey16, "PNG", {}),
        ("rgb.jpg", rgb, "JPEG", {"quality": 90}),
        ("grey_progressive.jpg", grey, "JPEG", {"progressive": True}),
        ("grey16.tif", grey16, "TIFF", {}),
        ("rgb_lzw.tif", rgb, "TIFF", {"compression": "tiff_lzw"}),
        ("rgb.bmp", rgb, "BMP", {}),
        ("grey.gif", grey, "GIF", {}),
    ):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format=fmt, **options)
        made.append((name, buffer.getvalue()))
    return made


def sources() -> list[tuple[str, bytes]]:
    dicom = [(name, (PYDICOM_FILES / name).read_bytes()) for name in DICOM_SOURCES if (PYDICOM_FILES / name).is_file()]
    return dicom + raster_sources()


# -- mutations: each takes (rng, data) and returns the mutated bytes ---------------------------------


def flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    head = min(len(out), 2048)
    for _ in range(rng.choice((1, 1, 2, 4, 8, 16, 32))):
        at = rng.randrange(head) if rng.random() < 0.6 else rng.randrange(len(out))
        out[at] = out[at] ^ (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(256)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(1, min(len(data), 4096))] if rng.random() < 0.4 else data[: rng.randrange(1, len(data))]


def delete(rng: random.Random, data: bytes) -> bytes:
    at, span = rng.randrange(len(data)), rng.choice((1, 2, 3, 4, 16, 200, 1000))
    return data[:at] + data[at + span :]


def insert(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + bytes(rng.randrange(256) for _ in range(rng.choice((1, 2, 4, 64, 512)))) + data[at:]


def _value(rng: random.Random, table: tuple[int, ...], original: int) -> int:
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(table)
    if roll < 0.8:
        return max(original + rng.choice((-1, 1, 2, -2)), 0)
    return rng.randrange(max(table) + 1)


def dicom_field(rng: random.Random, data: bytes) -> bytes:
    """One or two pixel-description elements set to an interesting value; re-saved by pydicom."""
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    for keyword in rng.sample(sorted(DICOM_FIELDS), rng.choice((1, 1, 2))):
        vr = DICOM_FIELDS[keyword]
        if vr == "CS":
            value: object = rng.choice(PHOTOMETRIC)
        elif vr == "IS":
            value = str(rng.choice((0, 1, 2, 3, 10, 1000, 2**31 - 1, -1, 65536)))
        else:
            value = _value(rng, U16, int(ds.get(keyword, 0) or 0))
        setattr(ds, keyword, value)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=False)
    return buffer.getvalue()


def _patch(data: bytes, at: int, fmt: str, value: int) -> bytes:
    size = struct.calcsize(fmt)
    if at < 0 or at + size > len(data):
        return data
    return data[:at] + struct.pack(fmt, value) + data[at + size :]


def codec_field(rng: random.Random, data: bytes) -> bytes:
    """A field of the codec's own header: JPEG SOF, J2K SIZ, RLE table, PNG IHDR, BMP, TIFF first IFD."""
    start = pixel_offset(data) if b"\xe0\x7f\x10\x00" in data else 0
    sof = next((at for at in (data.find(bytes((0xFF, m)), start) for m in (0xC0, 0xC1, 0xC2, 0xC3, 0xF7)) if at >= 0), -1)
    if (siz := data.find(b"\xff\x4f\xff\x51", start)) >= 0:
        at, fmt, table = rng.choice(((siz + 8, ">I", U32), (siz + 12, ">I", U32), (siz + 24, ">I", U32), (siz + 28, ">I", U32),
                                     (siz + 16, ">I", U32), (siz + 40, ">H", U16), (siz + 42, ">B", (0, 7, 15, 37, 255))))  # fmt: skip
    elif data.startswith(b"\x89PNG"):
        at, fmt, table = rng.choice(
            ((16, ">I", U32), (20, ">I", U32), (24, ">B", (1, 2, 4, 8, 16, 0, 255)), (25, ">B", (0, 2, 3, 4, 6, 7)))
        )
        patched = _patch(data, at, fmt, _value(rng, table, 0))
        return patched if rng.random() < 0.3 else _patch(patched, 29, ">I", zlib.crc32(patched[12:29]))
    elif data.startswith(b"BM"):
        at, fmt, table = rng.choice(((18, "<i", U32), (22, "<i", U32), (28, "<H", (0, 1, 4, 8, 16, 24, 32, 64))))
    elif data[:4] in (b"II*\x00", b"MM\x00*"):
        at, fmt, table = rng.randrange(8, min(len(data), 200)) & ~1, "<H" if data[:2] == b"II" else ">H", U16
    elif sof >= 0:
        at, fmt, table = rng.choice(
            ((sof + 5, ">H", U16), (sof + 7, ">H", U16), (sof + 9, ">B", (0, 1, 3, 4, 255)), (sof + 4, ">B", (0, 8, 12, 16)))
        )
    elif (rle := data.find(b"\xfe\xff\x00\xe0", start + 16)) >= 0 and b"1.2.840.10008.1.2.5" in data[:1024]:
        at, fmt, table = rle + 8 + 4 * rng.randrange(16), "<I", U32  # the RLE header after the first item
    else:
        return dicom_field(rng, data) if start else flip(rng, data)
    return _patch(data, at, fmt, _value(rng, table, 0))


MUTATIONS = {"flip": flip, "truncate": truncate, "delete": delete, "insert": insert, "dicom_field": dicom_field, "codec_field": codec_field}
WEIGHTS = {"flip": 30, "truncate": 10, "delete": 8, "insert": 5, "dicom_field": 22, "codec_field": 25}


def mutated(seed: int, index: int, pool: list[tuple[str, bytes]]) -> tuple[str, str, bytes]:
    """(source name, mutation name, bytes) of file ``index``: the same for the same seed, always."""
    rng = random.Random(f"{seed}:{index}")
    name, data = rng.choice(pool)
    kinds = [k for k in MUTATIONS if k != "dicom_field" or name.endswith(".dcm")]
    kind = rng.choices(kinds, weights=[WEIGHTS[k] for k in kinds])[0]
    try:
        out = MUTATIONS[kind](rng, data)
    except Exception:  # noqa: BLE001 - pydicom refused to re-save a value: fall back to byte flips
        kind, out = "flip", flip(rng, data)
    return name, kind, out


# -- workers -----------------------------------------------------------------------------------------

_POOL: list[tuple[str, bytes]] = []


class OverTime(SystemExit):
    """Raised by the alarm; a SystemExit so that load_image's boundary lets it through."""


def _on_alarm(signum: int, frame: object) -> None:
    raise OverTime


def init_worker(folder: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP_BYTES, CAP_BYTES))
    log = os.open(Path(folder).parent / f"worker-{os.getpid()}.stderr", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 2)  # Rust decoders print their panics to stderr; counted at the end
    signal.signal(signal.SIGALRM, _on_alarm)
    os.environ["RUST_BACKTRACE"] = "0"  # one line per caught panic, not a backtrace
    _POOL.extend(sources())
    _IDENTIFIERS.update(identifiers(_POOL))


BAD_MESSAGE = re.compile(r"object at 0x|\s\(\s*\)|\(\w+:\s*\)|:\s*\)")  # a repr, " ()", "(pylibjpeg:)", ": )"


IDENTIFYING = ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "ReferringPhysicianName", "OperatorsName")
_IDENTIFIERS: set[str] = set()


def identifiers(pool: list[tuple[str, bytes]]) -> set[str]:
    """The patient and staff identifiers in the DICOM sources: none may appear in a message."""
    found = set()
    for name, data in pool:
        if name.endswith(".dcm"):
            ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True)
            found.update(str(ds.get(keyword, "")).strip() for keyword in IDENTIFYING)
    return {value for value in found if len(value) >= 4 and any(c.isalpha() for c in value)}  # not "----", "99000"


def message_problem(message: str, path: str) -> str | None:
    if path not in message:
        return "file not named"
    if BAD_MESSAGE.search(message):
        return "object repr or empty reason"
    if len(message) > len(path) + 600:
        return "message too long"
    if any(value in message for value in _IDENTIFIERS):
        return "identifier in message"
    return None


def write_file(seed: int, index: int, folder: str) -> tuple[str, str, Path]:
    """(source, mutation, path) of mutated file ``index``, written under ``folder``."""
    source, kind, data = mutated(seed, index, _POOL)
    pick = random.Random(index)
    suffix = Path(source).suffix if pick.random() > 0.05 else pick.choice((".dcm", ".png", ".jpg"))  # a few misnamed
    path = Path(folder) / f"{index // 1000:03d}" / f"{index:06d}_{kind}{suffix}"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return source, kind, path


def run_batch(args: tuple[int, list[tuple[int, str]], str]) -> list[dict[str, Any]]:
    seed, items, folder = args
    results = []
    for index, crafted_path in items:
        try:
            made = write_file(seed, index, folder) if not crafted_path else (Path(crafted_path).name, "crafted", Path(crafted_path))
            source, kind, path = made
        except MemoryError:  # memory a previous file left allocated: counted as a cap hit
            results.append({**_died(index), "verdict": "cap_hit_between_files"})
            continue
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, HARD_LIMIT_S)
        problem = None
        try:
            load_image(path)
            verdict = "ok"
        except ImageReadError as exc:
            verdict = "cap_hit" if "not enough memory" in str(exc) else "image_read_error"
            problem = message_problem(str(exc), str(path))
        except OverTime:
            verdict = "stopped_at_hard_limit"
        except BaseException as exc:  # counting whatever escapes is the point of this run
            if isinstance(exc, KeyboardInterrupt):
                raise
            verdict = f"other:{type(exc).__module__}.{type(exc).__name__}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        results.append({"index": index, "path": str(path), "source": source, "kind": kind, "verdict": verdict, "seconds": elapsed,
                        "peak_mb": after / 1024, "raised_peak_mb": (after - before) / 1024, "message_problem": problem})  # fmt: skip
    return results


def _died(index: int) -> dict[str, Any]:
    return {"index": index, "path": "", "source": "", "kind": "", "verdict": "worker_died", "seconds": 0.0, "peak_mb": 0.0,
            "raised_peak_mb": 0.0, "message_problem": None}  # fmt: skip


def load_pass(seed: int, n_files: int, folder: Path, crafted_files: list[Path]) -> list[dict[str, Any]]:
    items = [(i, str(p)) for i, p in enumerate(crafted_files)] + [(i, "") for i in range(len(crafted_files), n_files)]
    batches = [(seed, items[i : i + BATCH], str(folder)) for i in range(0, len(items), BATCH)]
    results: list[dict[str, Any]] = []
    while batches:
        completed = 0
        with ProcessPoolExecutor(2, initializer=init_worker, initargs=(str(folder),)) as pool:
            try:
                for batch in pool.map(run_batch, batches):
                    results.extend(batch)
                    completed += 1
                    print(f"\r{len(results)} / {len(items)} files", end="", file=sys.stderr, flush=True)
                batches = []
            except BrokenProcessPool:  # a decoder killed its process (or the other one's): count the batch, go on
                results.extend(_died(index) for index, _ in batches[completed][1])
                batches = batches[completed + 1 :]
    print(file=sys.stderr)
    return results


def _cap_child() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP_BYTES, CAP_BYTES))


def scan_pass(folder: Path, crafted_dir: Path, loads: list[dict[str, Any]]) -> dict[str, Any]:
    """``raresight scan -r -q --json`` over the folders, in two processes; compared with ``load_image``."""
    folders = sorted(p for p in folder.iterdir() if p.is_dir())
    halves = [[crafted_dir, *folders[0::2]], folders[1::2]]
    raresight = Path(sys.executable).parent / "raresight"
    start = time.perf_counter()
    runs = []
    for k, paths in enumerate(halves):
        out = folder.parent / f"scan-{k}.json"
        log = (folder.parent / f"scan-{k}.stdout").open("w")
        err = (folder.parent / f"scan-{k}.stderr").open("w")
        command = [str(raresight), "scan", "-r", "-q", "--json", str(out), *map(str, paths)]
        env = {**os.environ, "RUST_BACKTRACE": "0"}
        runs.append((subprocess.Popen(command, stdout=log, stderr=err, preexec_fn=_cap_child, env=env), out, log, err))
    codes, peak_kb = [], 0
    for process, _, log, err in runs:
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS, not the load workers'
        codes.append(os.waitstatus_to_exitcode(status))
        peak_kb = max(peak_kb, usage.ru_maxrss)
        log.close()
        err.close()
    seconds = time.perf_counter() - start
    rows = [row for _, out, _, _ in runs for row in (json.loads(out.read_text()) if out.exists() else [])]
    _IDENTIFIERS.update(identifiers(sources()))
    stderr = "".join((folder.parent / f"scan-{k}.stderr").read_text(errors="replace") for k in range(2))
    by_path = {r["path"]: r["verdict"] == "ok" for r in loads if r["path"]}
    disagree = [row["path"] for row in rows if row["path"] in by_path and by_path[row["path"]] != row["ok"]]
    return {
        "files": len(rows),
        "ok": sum(row["ok"] for row in rows),
        "not_readable": sum(not row["ok"] for row in rows),
        "exit_codes": codes,
        "tracebacks": stderr.count("Traceback"),
        "decoder_panics_printed_to_stderr": stderr.count("panicked at"),
        "disagreements_with_load_image": len(disagree),
        "disagreement_examples": disagree[:5],
        "rows_with_bad_message": sum(1 for row in rows if not row["ok"] and message_problem(row["error"] or "", row["path"])),
        "seconds": round(seconds, 1),
        "peak_rss_mb_largest_process": round(peak_kb / 1024, 1),
        "address_space_cap_mb": CAP_BYTES >> 20,
    }


def summarize(results: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    def count(rows: list[dict[str, Any]]) -> dict[str, int]:
        verdicts: dict[str, int] = {}
        for row in rows:
            verdicts[row["verdict"]] = verdicts.get(row["verdict"], 0) + 1
        return dict(sorted(verdicts.items()))

    times = sorted(row["seconds"] for row in results)
    other = [row for row in results if row["verdict"] not in ("ok", "image_read_error")]
    return {
        "files": len(results),
        "ok": sum(row["verdict"] == "ok" for row in results),
        "image_read_error": sum(row["verdict"] == "image_read_error" for row in results),
        "anything_else": len(other),
        "anything_else_examples": [{k: row[k] for k in ("path", "source", "kind", "verdict")} for row in other[:10]],
        "cap_hits": sum(row["verdict"].startswith("cap_hit") for row in results),
        "worker_deaths": sum(row["verdict"] == "worker_died" for row in results),
        "over_time_limit": sum(row["seconds"] > TIME_LIMIT_S for row in results),
        "slowest": [
            {k: round(row[k], 2) if k == "seconds" else row[k] for k in ("path", "source", "kind", "verdict", "seconds", "raised_peak_mb")}
            for row in sorted(results, key=lambda row: -row["seconds"])[:5]
        ],
        "time_limit_s": TIME_LIMIT_S,
        "messages_with_problems": sum(row["message_problem"] is not None for row in results),
        "message_problem_examples": [(row["path"], row["message_problem"]) for row in results if row["message_problem"]][:5],
        "by_mutation": {kind: count([r for r in results if r["kind"] == kind]) for kind in sorted({r["kind"] for r in results})},
        "by_source": {name: count([r for r in results if r["source"] == name]) for name in sorted({r["source"] for r in results})},
        "seconds_per_file": {"median": statistics.median(times), "p99": times[int(0.99 * (len(times) - 1))], "max": times[-1]},
        "peak_rss_mb": round(max(row["peak_mb"] for row in results), 1),
        "largest_peak_raisers": sorted(
            ({k: row[k] for k in ("path", "source", "kind", "verdict", "raised_peak_mb")} for row in results if row["raised_peak_mb"] > 50),
            key=lambda row: -row["raised_peak_mb"],
        )[:5],
        "address_space_cap_mb": CAP_BYTES >> 20,
        "seconds": round(seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20000, help="mutated files, the crafted ones included (default 20000)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--workdir", type=Path, help="where the files go (default: a temporary folder, removed after)")
    parser.add_argument("--out", type=Path, help="write the JSON report here too")
    args = parser.parse_args()
    root = Path(args.workdir or tempfile.mkdtemp(prefix="fuzz_imaging_"))
    folder, crafted_dir = root / "files", root / "crafted"
    for path in (folder, crafted_dir):
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
    crafted_files = sorted(crafted(crafted_dir).values())
    start = time.perf_counter()
    results = load_pass(args.seed, args.files, folder, crafted_files)
    load = summarize(results, time.perf_counter() - start)
    panics = sum(p.read_text(errors="replace").count("panicked at") for p in root.glob("worker-*.stderr"))
    load["decoder_panics_caught"] = panics
    scan = scan_pass(folder, crafted_dir, results)
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git": git_provenance(REPO),
        "seed": args.seed,
        "workers": 2,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": {"pydicom": pydicom.__version__, "Pillow": Image.__version__},
        "load_image": load,
        "scan": scan,
        "passed": load["anything_else"] == 0 and load["cap_hits"] == 0 and scan["tracebacks"] == 0
        and scan["disagreements_with_load_image"] == 0 and load["files"] >= 20000,
    }  # fmt: skip
    print(write_json(report, args.out, indent=1))
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
