"""The window's system libraries are checked before Qt loads its platform plugin (which would abort)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import gui_requirements
from app.cli import main
from app.gui_requirements import GUI_LIBRARIES, PLATFORM_LIBRARIES, gui_requirements_problem, platforms_to_try

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only Linux needs system libraries for Qt")

MISSING = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}


def _present_except_icccm_and_keysyms(soname: str) -> bool:
    return soname not in MISSING


@pytest.fixture
def x11_desktop(monkeypatch: pytest.MonkeyPatch) -> None:
    """An X11 session with no Qt platform chosen (tests otherwise run Qt offscreen)."""
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")


@pytest.mark.usefixtures("x11_desktop")
@pytest.mark.parametrize("argv", [["gui"], [], ["gui", "some.raresight"]])
def test_missing_library_names_the_packages_and_exits_2(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(gui_requirements, "can_load", _present_except_icccm_and_keysyms)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in err
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1\n" in err
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms\n" in err


def test_the_check_runs_before_any_qt_import(tmp_path: Path) -> None:
    """In a fresh interpreter: the refusal happens with PySide6 never imported."""
    code = (
        "import sys\n"
        "from app import gui_requirements\n"
        "gui_requirements.can_load = lambda soname: soname != 'libxcb-cursor.so.0'\n"
        "from app.cli import main\n"
        "code = main(['gui'])\n"
        "print('qt-imported' if any(m.startswith('PySide6') for m in sys.modules) else 'no-qt', code)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "DISPLAY": ":0", "RARESIGHT_LOG_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.stdout.split() == ["no-qt", "2"], done.stderr
    assert "sudo apt-get install libxcb-cursor0" in done.stderr


@pytest.mark.usefixtures("x11_desktop")
def test_nothing_missing_is_no_problem() -> None:
    assert gui_requirements_problem(probe=lambda soname: True) is None


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"DISPLAY": ":0"}, ("xcb",)),
        ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, ("wayland", "xcb")),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, ()),
        ({"QT_QPA_PLATFORM": "minimal"}, ()),
        ({"QT_QPA_PLATFORM": "xcb"}, ("xcb",)),
        ({"QT_QPA_PLATFORM": "wayland;xcb"}, ("wayland", "xcb")),
        ({}, ()),
    ],
)
def test_platforms_qt_will_try(environ: dict[str, str], expected: tuple[str, ...]) -> None:
    assert platforms_to_try(environ) == expected


def test_offscreen_needs_no_display_libraries() -> None:
    assert gui_requirements_problem({"QT_QPA_PLATFORM": "offscreen"}, probe=lambda soname: False) is None


def test_wayland_session_is_fine_when_wayland_libraries_are_there() -> None:
    environ = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    assert gui_requirements_problem(environ, probe=lambda soname: soname not in MISSING) is None
    problem = gui_requirements_problem(environ, probe=lambda soname: "wayland" not in soname and soname not in MISSING)
    assert problem is not None and "libxcb-icccm4" in problem


def _needed(library: Path) -> set[str]:
    out = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True, check=True).stdout
    return {line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line}


RUNTIME = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libz.so.1", "libzstd.so.1", "ld-linux-x86-64.so.2"}


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf (binutils) is not installed")
def test_the_lists_are_what_the_installed_qt_plugins_link_against() -> None:
    """When PySide6 is upgraded and its plugins need another library, this fails and names it."""
    import PySide6  # only the package's location; no Qt module is loaded

    qt = Path(PySide6.__file__).parent / "Qt"
    plugins = qt / "plugins" / "platforms"
    gui = _needed(qt / "lib" / "libQt6Gui.so.6") | _needed(qt / "lib" / "libQt6DBus.so.6")
    xcb = _needed(plugins / "libqxcb.so") | _needed(qt / "lib" / "libQt6XcbQpa.so.6")
    wayland = _needed(plugins / "libqwayland.so") | _needed(qt / "lib" / "libQt6WaylandClient.so.6")

    def system(names: set[str]) -> set[str]:
        return {name for name in names if not name.startswith("libQt6") and not name.startswith("libicu")} - RUNTIME

    listed_gui = {lib.soname for lib in GUI_LIBRARIES}
    assert system(gui) <= listed_gui
    assert system(xcb) <= listed_gui | {lib.soname for lib in PLATFORM_LIBRARIES["xcb"]}
    assert system(wayland) <= listed_gui | {lib.soname for lib in PLATFORM_LIBRARIES["wayland"]}


def test_the_readme_lists_every_package_the_check_can_ask_for() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    lines = {line.split()[1]: line.split()[3:] for line in readme.splitlines() if line.strip().startswith("sudo ")}
    libraries = [*GUI_LIBRARIES, *PLATFORM_LIBRARIES["xcb"]]
    assert lines["apt-get"] == list(dict.fromkeys(lib.debian for lib in libraries))
    assert lines["dnf"] == list(dict.fromkeys(lib.fedora for lib in libraries))
