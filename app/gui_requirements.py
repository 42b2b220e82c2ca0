"""Before Qt loads its platform plugin: are the system libraries it links against installed?

The PySide6 wheel bundles Qt but not the X11/Wayland client libraries its platform plugins link
against. When one is missing, Qt prints a misleading hint (it names only libxcb-cursor0) and aborts
the process. Here each library is opened by its exact name, as the dynamic loader will open it for
Qt, and the packages that provide the missing ones are named for Debian/Ubuntu and Fedora.

The lists are the plugins' own ``NEEDED`` entries (``readelf -d`` on PySide6's
``plugins/platforms/libqxcb.so``, ``lib/libQt6XcbQpa.so.6``, ``plugins/platforms/libqwayland.so``
and ``lib/libQt6Gui.so.6``), less the C/C++ runtime; ``tests/app/test_gui_requirements.py`` checks
them against the installed wheel. No Qt is imported here.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SystemLibrary:
    soname: str  # the name the dynamic loader looks for
    debian: str  # the Debian/Ubuntu package that provides it
    fedora: str  # the Fedora package that provides it


def _lib(soname: str, debian: str, fedora: str) -> SystemLibrary:
    return SystemLibrary(soname, debian, fedora)


# What Qt's GUI module itself needs, whichever platform plugin is used.
GUI_LIBRARIES = (
    _lib("libGL.so.1", "libgl1", "libglvnd-glx"),
    _lib("libEGL.so.1", "libegl1", "libglvnd-egl"),
    _lib("libfontconfig.so.1", "libfontconfig1", "fontconfig"),
    _lib("libfreetype.so.6", "libfreetype6", "freetype"),
    _lib("libglib-2.0.so.0", "libglib2.0-0", "glib2"),
    _lib("libgthread-2.0.so.0", "libglib2.0-0", "glib2"),
    _lib("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    _lib("libX11.so.6", "libx11-6", "libX11"),
    _lib("libdbus-1.so.3", "libdbus-1-3", "dbus-libs"),
)

PLATFORM_LIBRARIES: dict[str, tuple[SystemLibrary, ...]] = {
    "xcb": (
        _lib("libxcb.so.1", "libxcb1", "libxcb"),
        _lib("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
        _lib("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
        _lib("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
        _lib("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
        _lib("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
        _lib("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
        _lib("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
        _lib("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
        _lib("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
        _lib("libxcb-render.so.0", "libxcb-render0", "libxcb"),
        _lib("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
        _lib("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
        _lib("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
        _lib("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
        _lib("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    ),
    "wayland": (
        _lib("libwayland-client.so.0", "libwayland-client0", "libwayland-client"),
        _lib("libwayland-cursor.so.0", "libwayland-cursor0", "libwayland-cursor"),
    ),
}

Probe = Callable[[str], bool]


def can_load(soname: str) -> bool:
    """Whether the dynamic loader finds ``soname`` (the same search Qt's plugin load will do)."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def platforms_to_try(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The platform plugins Qt will try here, in order; empty when none needs system libraries.

    QT_QPA_PLATFORM decides when set ("offscreen", "minimal", ... need no display libraries);
    otherwise a Wayland session tries Wayland first and falls back to X11 (xcb).
    """
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        names = [part.split(":")[0].strip() for part in chosen.split(";")]
        platforms = ["wayland" if name.startswith("wayland") else name for name in names]
        if not all(name in PLATFORM_LIBRARIES for name in platforms):
            return ()
        return tuple(platforms)
    platforms = []
    if environ.get("WAYLAND_DISPLAY"):
        platforms.append("wayland")
    if environ.get("DISPLAY"):
        platforms.append("xcb")
    return tuple(platforms)


def missing_libraries(platform: str, probe: Probe | None = None) -> list[SystemLibrary]:
    """The libraries Qt's ``platform`` plugin needs that ``probe`` (default :func:`can_load`) cannot load."""
    probe = probe or can_load
    return [lib for lib in (*GUI_LIBRARIES, *PLATFORM_LIBRARIES[platform]) if not probe(lib.soname)]


def install_advice(missing: Sequence[SystemLibrary]) -> str:
    """Two command lines that install what provides ``missing``."""
    debian = " ".join(dict.fromkeys(lib.debian for lib in missing))
    fedora = " ".join(dict.fromkeys(lib.fedora for lib in missing))
    return f"  Debian/Ubuntu:  sudo apt-get install {debian}\n  Fedora:         sudo dnf install {fedora}"


def gui_requirements_problem(environ: Mapping[str, str] | None = None, probe: Probe | None = None) -> str | None:
    """None when the window can open here as far as system libraries go, else what to install.

    Only Linux needs this: the macOS and Windows wheels bring everything Qt needs.
    """
    if not sys.platform.startswith("linux"):
        return None
    platforms = platforms_to_try(os.environ if environ is None else environ)
    missing = {platform: missing_libraries(platform, probe) for platform in platforms}
    if not platforms or any(not libs for libs in missing.values()):
        return None
    # X11 (xcb) is what Qt falls back to and what most desktops provide, so advise for it when tried.
    platform = "xcb" if "xcb" in missing else platforms[0]
    libs = missing[platform]
    return (
        f"the window cannot open: Qt's {platform} platform plugin needs system libraries that are not installed "
        f"({', '.join(lib.soname for lib in libs)}).\n"
        f"Install them, then run the command again:\n{install_advice(libs)}\n"
        "Every command except 'gui' and the window at the end of 'demo' works without them (raresight --help)."
    )
