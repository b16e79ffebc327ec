"""Fonts that cover what models say: CJK metadata, Arabic or Cyrillic names, where the system has them.

Qt draws a character its font lacks from another font only where the platform's
font database falls back by itself; with the offscreen platform and on some
desktops it does not, and a PaddleOCR model's Chinese metadata came out as empty
boxes. :func:`install_fallbacks` asks Qt's font database which installed families
write each script the default font does not, and registers them as substitutes of
the families the viewer uses, so every text (panel, boxes, exports) falls back to
them. :func:`missing_glyphs` counts the characters a font would draw as boxes.
"""

from __future__ import annotations

from PyQt6.QtGui import QFont, QFontDatabase, QFontInfo, QGuiApplication, QTextLayout

WS = QFontDatabase.WritingSystem
# Scripts model files are written in, besides Latin, in the order their fallbacks are tried.
SCRIPTS = (
    WS.SimplifiedChinese,
    WS.TraditionalChinese,
    WS.Japanese,
    WS.Korean,
    WS.Cyrillic,
    WS.Greek,
    WS.Arabic,
    WS.Hebrew,
    WS.Thai,
    WS.Devanagari,
    WS.Vietnamese,
)
# Families known to cover a script well, preferred where installed (sans-serif, as the viewer's text).
PREFERRED = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK KR",
    "Noto Sans CJK TC",
    "Source Han Sans SC",
    "Source Han Sans",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans",
    "Malgun Gothic",
    "Noto Sans",
    "DejaVu Sans",
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Thai",
    "Noto Sans Devanagari",
)
GENERIC = ("Sans Serif", "sans-serif", "Helvetica", "Arial", "DejaVu Sans", "Monospace", "DejaVu Sans Mono")


def fallback_families(base: str) -> list[str]:
    """Installed families to draw what ``base`` cannot: one or more per script it lacks, preferred ones first."""
    covered = set(QFontDatabase.writingSystems(base))
    chosen: list[str] = []
    for script in SCRIPTS:
        if script in covered:
            continue
        writing = QFontDatabase.families(script)
        if not writing:
            continue
        ranked = [f for f in PREFERRED if f in writing] + [f for f in writing if f not in PREFERRED and not f.startswith("@")]
        for family in ranked[:2]:
            if family not in chosen and family != base:
                chosen.append(family)
    return chosen


def install_fallbacks() -> list[str]:
    """Register fallback families for the application's font and the generic families; returns them.

    A generic name ("Sans Serif") is resolved through its substitutes, so the family it
    stands for now (DejaVu Sans, say) goes first: the fallbacks add scripts, they do not
    change how Latin text looks.
    """
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        return []
    base = QFontInfo(QFont()).family()  # the real family behind the default font
    fallbacks = fallback_families(base)
    if not fallbacks:
        return []
    for family in dict.fromkeys((QFont().family(), base, *GENERIC)):
        known = QFont.substitutes(family)
        real = QFontInfo(QFont(family)).family()
        first = [] if family == real or real in known else [real]
        QFont.insertSubstitutions(family, [f for f in (*first, *fallbacks) if f not in known and f != family])
    return fallbacks


def missing_glyphs(text: str, font: QFont | None = None) -> int:
    """How many characters of ``text`` would be drawn as empty boxes (no installed font has them)."""
    layout = QTextLayout(text, font if font is not None else QFont())
    layout.beginLayout()
    line = layout.createLine()
    if line.isValid():
        line.setLineWidth(1e6)
    layout.endLayout()
    missing = 0
    for run in layout.glyphRuns():
        missing += sum(1 for g in run.glyphIndexes() if g == 0)
    return missing
