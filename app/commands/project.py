"""``raresight project``: create a project file, import and label images, check and relink it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.commands.scan import no_files_message
from core.privacy.paths import path_for_display as shown  # any file name prints, with U+FFFD for bytes that are not UTF-8

if TYPE_CHECKING:  # the project commands load only the store; the model code loads for 'info' on a model
    from core.fewshot.estimate import AccuracyEstimate
    from core.store import ImportReport

EPILOG = """exit status:
  0  done; for verify: no findings
  1  done, but some files could not be read or matched no image (add, label), files already in
     the project under another class kept their label (add --class without --relabel), images are
     still missing (relink), or verify found problems (each listed on its own line)
  2  nothing done: no files found (add), or the project could not be opened, created or written
     (the message says why and what to do)"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "project",
        help="create, fill, label, check and relink a project file",
        description="A project is one .raresight file holding images (referenced by path), classes, labels, "
        "model versions, predictions and a tamper-evident audit log.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def add(name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
        sub = actions.add_parser(
            name, help=help_text, description=help_text, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        sub.add_argument("project", metavar="P", type=Path, help="the project file (.raresight)")
        sub.set_defaults(run=run)
        return sub

    add("create", "create a new, empty project file", run_create).add_argument("--user", help="who is working (default: login name)")
    sub = add("add", "import image files (referenced, not copied, unless --embed)", run_add)
    sub.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    sub.add_argument(
        "--class",
        dest="class_name",
        metavar="C",
        help="label the imported images as class C (default: unlabelled); a file the project already has under "
        "another class keeps that label unless --relabel",
    )
    sub.add_argument("--relabel", action="store_true", help="with --class: move files already labelled otherwise to class C")
    sub.add_argument(
        "--recursive", "-r", action="store_true", help="descend into subfolders (default: only the files directly in each folder)"
    )
    sub.add_argument(
        "--embed",
        action="store_true",
        help="store copies of the files in the project (portable, larger; default: referenced by path); DICOM copies are "
        "de-identified (DICOM PS3.15 basic profile: names, IDs, birth date, UIDs, free text removed or replaced; pixels unchanged)",
    )
    sub.add_argument(
        "--embed-identifiable",
        action="store_true",
        help="store copies as they are, patient names and dates included (implies --embed; only where the project may hold them)",
    )
    sub.add_argument("--user", help="who is working (default: login name)")
    sub = add("label", "label images of the project (given by their files) as one class", run_label)
    sub.add_argument("--class", dest="class_name", metavar="C", required=True, help="the class (added when new)")
    sub.add_argument("paths", nargs="+", metavar="PATH", help="image files already in the project (matched by path, else by content)")
    sub.add_argument("--note", default="", help="a note kept with the labels and in the audit log (default: none)")
    sub.add_argument("--user", help="who is working (default: login name)")
    add("undo", "undo the latest labelling step", run_undo).add_argument("--user", help="who is working (default: login name)")
    add("redo", "redo the labelling step undone last", run_redo).add_argument("--user", help="who is working (default: login name)")
    add("info", "counts: images, labelled images, images per class; model version and its expected accuracy", run_info).add_argument(
        "--json", action="store_true", help="print one JSON object"
    )
    sub = add("verify", "check the file, the audit chain, labels, model states and image files", run_verify)
    sub.add_argument("--quick", action="store_true", help="check image files by size only, without hashing them")
    sub.add_argument("--json", action="store_true", help="print the findings as a JSON list")
    sub = add("relink", "find moved image files again, by content, in FOLDER and its subfolders", run_relink)
    sub.add_argument("folder", metavar="FOLDER", type=Path, help="where the image files are now")
    sub.add_argument("--user", help="who is working (default: login name)")


def run_create(args: argparse.Namespace) -> int:
    from core.store import Project

    with Project.create(args.project, actor=args.user) as project:
        print(f"created {shown(project.path)}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    from core.store import Project

    if args.relabel and not args.class_name:
        print("raresight project add: --relabel needs --class C (the class to move the files to)", file=sys.stderr)
        return 2
    from core.store.images import IDENTIFIABLE

    embed = IDENTIFIABLE if args.embed_identifiable else args.embed
    with Project.open(args.project, actor=args.user) as project:
        report = project.add_images(args.paths, recursive=args.recursive, class_name=args.class_name, relabel=args.relabel, embed=embed)
    if not (report.added or report.duplicates or report.failed):
        print(f"raresight project add: {no_files_message(args.paths, args.recursive)}; nothing was added", file=sys.stderr)
        return 2
    for _, message in report.failed:
        print(f"FAIL  {shown(message)}")
    _print_label_conflicts(report)
    summary = f"added {len(report.added)} image(s), {len(report.duplicates)} already in the project, {len(report.failed)} could not be read"
    if args.class_name:
        summary += f"; {report.labelled} labelled as {args.class_name!r}"
        summary += f" ({len(report.relabelled)} relabelled)" if report.relabelled else ""
        summary += f"; {len(report.label_conflicts)} kept their other class" if report.label_conflicts else ""
    print(summary)
    return 1 if report.failed or report.label_conflicts else 0


def _print_label_conflicts(report: ImportReport) -> None:
    for change in report.relabelled:
        print(shown(f"RELABELLED  {change.path}: {change.current!r} -> {change.requested!r}"))
    for conflict in report.label_conflicts:
        print(
            shown(
                f"KEPT  {conflict.path}: already in the project as {conflict.current!r}, not relabelled {conflict.requested!r}; "
                "add --relabel to change its class"
            )
        )


def run_label(args: argparse.Namespace) -> int:
    from core.store import Project

    with Project.open(args.project, actor=args.user) as project:
        found, unknown = project.find_images(args.paths)
        for path in unknown:
            print(f"FAIL  {shown(path)}: not an image of this project; add it first with 'raresight project add'")
        ids = [image_id for ids in found.values() for image_id in ids]
        step = project.label(ids, args.class_name, note=args.note) if ids else None
    changed = 0 if step is None else step.n_labels
    print(f"labelled {changed} image(s) as {args.class_name!r} ({len(ids) - changed} already were); {len(unknown)} path(s) not found")
    return 1 if unknown else 0


def run_undo(args: argparse.Namespace) -> int:
    from core.store import Project

    with Project.open(args.project, actor=args.user) as project:
        step = project.undo()
    print("nothing to undo" if step is None else f"{step.description} ({step.n_labels} label(s))")
    return 0


def run_redo(args: argparse.Namespace) -> int:
    from core.store import Project

    with Project.open(args.project, actor=args.user) as project:
        step = project.redo()
    print("nothing to redo" if step is None else f"{step.description} ({step.n_labels} label(s))")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from core.fewshot.estimate import model_accuracy_estimate
    from core.scoring.pool_record import describe_pool, pool_used
    from core.store import Project

    with Project.open(args.project, readonly=True) as project:
        info = project.info()
        state = project.model_settings()  # not the arrays: info stays quick (no numpy)
        head = project.audit_head()
    estimate = None if state is None else model_accuracy_estimate(state[1])
    if args.json:
        model = None
        if state is not None:
            accuracy = None if estimate is None else estimate.to_dict()
            model = {"version": state[0], "accuracy_estimate": accuracy, "unlabelled_pool": pool_used(state[1])}
        audit_head = {"row": head.row_id, "hash": head.hash}
        print(json.dumps({**info.to_dict(), "model": model, "audit_head": audit_head}, indent=1))
        return 0
    print(f"project        {shown(info.path)} (schema {info.schema_version}, created {info.created_at})")
    print(f"images         {info.images} ({info.embedded_images} embedded)")
    print(f"labelled       {info.labelled_images}")
    for name, count in info.classes.items():
        print(f"  {name:<12} {count}")
    print(f"model version  {info.model_version if info.model_version is not None else '-'}")
    if state is not None:
        print(f"accuracy       {_accuracy_line(estimate)}")
        print(f"unlabelled     learned from {describe_pool(state[1])}")
    print(f"predictions    {info.predictions}")
    print(f"audit entries  {info.audit_entries}")
    print(f"audit head     row {head.row_id}, hash {head.hash}")
    return 0


def _accuracy_line(estimate: AccuracyEstimate | None) -> str:
    """The model's expected accuracy on new images, or how to get it."""
    from core.fewshot.estimate import NO_ESTIMATE_ADVICE, NO_ESTIMATE_REASON

    if estimate is None:
        return f"no estimate for new images: {NO_ESTIMATE_REASON}. {NO_ESTIMATE_ADVICE}"
    return (
        f"expected {estimate.accuracy:.0%} ({estimate.ci_low * 100:.0f}-{estimate.ci_high:.0%}) on new images, "
        f"from {estimate.images} unlabelled images"
    ).replace("%", " %")


def run_verify(args: argparse.Namespace) -> int:
    from core.store import Project

    with Project.open(args.project, readonly=True) as project:
        findings = project.verify(hash_files=not args.quick)
    if args.json:
        print(json.dumps([{"kind": f.kind, "message": f.message, "row_id": f.row_id} for f in findings], indent=1))
    else:
        for finding in findings:
            print(f"FAIL  {shown(str(finding))}")
        print(f"{shown(args.project)}: {'ok' if not findings else f'{len(findings)} problem(s)'}")
    return 1 if findings else 0


def run_relink(args: argparse.Namespace) -> int:
    from core.store import Project

    with Project.open(args.project, actor=args.user) as project:
        report = project.relink(args.folder)
    print(f"relinked {len(report.relinked)} image(s) ({report.files_scanned} file(s) looked at); {len(report.still_missing)} still missing")
    for image_id in report.still_missing:
        print(f"MISSING  image {image_id}")
    return 1 if report.still_missing else 0
