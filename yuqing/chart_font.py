"""The CJK font the report's charts are drawn with, found once per process.

matplotlib's own DejaVu Sans has no Chinese glyphs: Chinese labels would come out as empty boxes.
The project depends on `noto-cjk-sans-otc` (the Noto Sans CJK collection, SIL Open Font License
1.1), so a fresh install has a font to register with matplotlib's font_manager. Should that package
be missing, a CJK family the system has is used (matplotlib scans the system's font folders);
with none at all, `cjk_family()` is None and the charts keep ASCII labels (said once in the log).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

log = logging.getLogger(__name__)

SHIPPED = "Noto Sans CJK SC"  # the Simplified Chinese face of the shipped collection
# Common Simplified Chinese sans families, best first: Linux packages, then Windows and macOS ones.
SYSTEM_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "SimHei",
    "Droid Sans Fallback",
)


def pick_family(available: Iterable[str]) -> str | None:
    """The first of SYSTEM_FAMILIES among the available family names."""
    names = set(available)
    return next((f for f in SYSTEM_FAMILIES if f in names), None)


def _register_shipped() -> str | None:
    try:
        from noto_cjk_sans_otc import FONT_PATH
    except ImportError:
        return None
    from matplotlib import font_manager

    try:
        font_manager.fontManager.addfont(str(FONT_PATH))  # registers every face of the collection
    except (OSError, RuntimeError) as exc:
        log.warning("could not load the shipped CJK font %s: %s", FONT_PATH, exc)
        return None
    # matplotlib >= 3.10 registers every face of a collection; older ones only the first (the
    # Japanese face, which has the same Chinese characters in slightly different forms).
    faces = {f.name for f in font_manager.fontManager.ttflist if f.fname == str(FONT_PATH)}
    return SHIPPED if SHIPPED in faces else min(faces, default=None)


@lru_cache(maxsize=1)
def cjk_family() -> str | None:
    """The font family to draw Chinese chart labels with, or None when this machine has none."""
    family = _register_shipped()
    if family is None:
        from matplotlib import font_manager

        family = pick_family(f.name for f in font_manager.fontManager.ttflist)
    if family is None:
        log.warning("no CJK font found (install noto-cjk-sans-otc or fonts-noto-cjk): report charts are labelled in English")
    else:
        log.debug("report charts use the font family %s", family)
    return family


def rc_params(family: str | None) -> dict[RcKeyType, Any]:
    """matplotlib settings for drawing with `family` (DejaVu Sans fills any glyph it lacks)."""
    if family is None:
        return {}
    return {"font.family": "sans-serif", "font.sans-serif": [family, "DejaVu Sans"], "axes.unicode_minus": False}
