"""The PDF generators shipped with the app (see `plugins.Generator`):

- ``overlay_generator`` draws the learner's name, the title, the date, the issuer, the signatories and
  a QR code of the verification URL over page 1 of a template PDF asset;
- ``plain_generator`` draws a complete A4-landscape certificate with reportlab, no template needed.

Options (both generators; coordinates in PDF points from the bottom-left corner of the page as seen;
every key is optional except ``template``, which the overlay generator needs; the defaults shown are
the overlay's on an A4-landscape template, and follow the template's page size)::

    {
      "template": "cert-a4",             # overlay only: slug of a PDF asset
      "fallback_fonts": ["amiri"],       # tried, in order, for characters the field's font lacks
      "accent_color": "#1f3a5f",         # plain only: border, heading and rules
      "fields": {
        "learner_name": {"x": 421, "y": 310, "size": 32, "color": "#1a1a1a", "font": "builtin:sans-bold",
                         "align": "center", "max_width": 680, "text": "{value}"},
        "title": {...}, "issuer": {...},                  # the same keys
        "issued_on": {..., "format": "%d %B %Y"},         # plus a strftime format
        "signatories": {"x": 421, "y": 100, "size": 10, "spacing": 190, "color": "#1a1a1a",
                        "font": "builtin:sans-bold", "detail_font": "builtin:sans", "align": "center",
                        "max_width": 180},
        "qr": {"x": 711, "y": 40, "size": 90},           # the square includes a 4-module white margin
        "heading": {..., "text": "Certificate of Completion"},  # plain only, also "preamble", "statement"
        "issuer": false                                   # false leaves a field out
      }
    }

A font is an asset slug (a TrueType font) or a built-in: ``builtin:sans`` and ``builtin:sans-bold``
(DejaVu Sans: Latin, Greek, Cyrillic, Hebrew, Arabic) and ``builtin:cjk`` (WenQuanYi Micro Hei: Han,
kana, Hangul). Each character is drawn with the first font of [the field's font, fallback fonts,
DejaVu Sans (bold when the field's font is ``builtin:sans-bold``), WenQuanYi Micro Hei] that has a
glyph for it, so a name renders whatever its script. Arabic is shaped (arabic-reshaper) and all
right-to-left text put in visual order (python-bidi) before drawing, since reportlab does neither.

Each template PDF is parsed once per process (keyed by slug and content hash, the hash computed once
per bytes object the asset source hands out) and imported as form XObjects drawn under the credential
on a single reportlab canvas, so no PDF is parsed or merged per rendering; each font is registered
with reportlab once per process. ``bench/pdf_render_bench.py``
measures the rate this gives.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import re
import struct
import threading
import unicodedata
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

import arabic_reshaper  # type: ignore[import-untyped]  # no type information shipped
import segno
from arabic_reshaper.ligatures import LIGATURES  # type: ignore[import-untyped]
from bidi import get_display  # type: ignore[import-untyped]  # the Rust-backed 0.6 API, untyped
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, IndirectObject, NameObject, StreamObject
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import PDFObject, PDFObjectReference, xObjectName
from reportlab.pdfbase.pdfdoc import format as pdf_format
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

from .exceptions import PdfCredentialsErrorCode
from .plugins import AssetSource, CredentialContext, PluginError, Signatory, checks_options

BUILTIN_SANS = "builtin:sans"
BUILTIN_SANS_BOLD = "builtin:sans-bold"
BUILTIN_CJK = "builtin:cjk"
BUILTIN_FONTS = (BUILTIN_SANS, BUILTIN_SANS_BOLD, BUILTIN_CJK)
DEFAULT_DATE_FORMAT = "%d %B %Y"  # "29 November 2026" (month names from the C locale: English)
PAGE_SIZE = landscape(A4)  # the plain generator's page: 841.9 x 595.3 pt

_FONTS_DIR = Path(__file__).resolve().parent / "fonts"
_TEMPLATE_CACHE_SIZE = 16
_DIGEST_CACHE_SIZE = 8  # asset bytes objects whose hash is kept (with the bytes: a few MiB at most)
_QR_MASK = 0  # see _draw_qr
_QR_QUIET_ZONE = 4  # modules of white around the symbol, as the standard asks
_DARK_RUN = re.compile(b"\x01+")  # a run of dark modules in a row of segno's matrix

Align = Literal["left", "center", "right"]


# --- options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextStyle:
    x: float
    y: float
    size: float
    font: str = BUILTIN_SANS
    color: str = "#1a1a1a"
    align: Align = "center"
    max_width: float = math.inf  # wider text is drawn smaller, to fit
    text: str = "{value}"  # what is printed; "{value}" is replaced by the field's value
    format: str = DEFAULT_DATE_FORMAT  # issued_on only


@dataclass(frozen=True)
class SignatoriesStyle:
    x: float  # where the row of signatories is anchored (its centre for align=center)
    y: float  # baseline of the name line; title and organization lines follow below
    size: float
    spacing: float  # horizontal distance between two signatories
    font: str = BUILTIN_SANS_BOLD  # the name line
    detail_font: str = BUILTIN_SANS  # the title and organization lines
    color: str = "#1a1a1a"
    align: Align = "center"
    max_width: float = math.inf  # of each line


@dataclass(frozen=True)
class QrStyle:
    x: float
    y: float
    size: float  # side of the square, white margin included


Style = TextStyle | SignatoriesStyle | QrStyle
Layout = Mapping[str, Style | None]  # field name -> style; None: the field is switched off

_TEXT_KEYS = frozenset({"x", "y", "size", "color", "font", "align", "max_width", "text"})
_FIELD_KEYS: dict[str, frozenset[str]] = {
    "learner_name": _TEXT_KEYS,
    "title": _TEXT_KEYS,
    "issued_on": _TEXT_KEYS | {"format"},
    "issuer": _TEXT_KEYS,
    "signatories": frozenset({"x", "y", "size", "color", "font", "detail_font", "align", "spacing", "max_width"}),
    "qr": frozenset({"x", "y", "size"}),
}
# Fixed wording of the plain certificate, printed through the same text fields (so it can be moved,
# restyled, translated or left out).
_PLAIN_STATIC_FIELDS = ("heading", "preamble", "statement")
_PLAIN_FIELD_KEYS = _FIELD_KEYS | dict.fromkeys(_PLAIN_STATIC_FIELDS, _TEXT_KEYS)
_VALUE_FIELDS = ("learner_name", "title", "issued_on", "issuer")

_POSITIVE_KEYS = frozenset({"size", "max_width", "spacing"})
_NUMBER_KEYS = _POSITIVE_KEYS | {"x", "y"}
_FONT_KEYS = frozenset({"font", "detail_font"})
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_ALIGNS = ("left", "center", "right")


@dataclass(frozen=True)
class _Options:
    template: str
    fallback_fonts: tuple[str, ...]
    accent_color: str
    fields: Mapping[str, Mapping[str, Any] | None]  # validated overrides; None: switched off


def _bad(path: str, problem: str) -> PluginError:
    return PluginError(f"{path} {problem}", code=PdfCredentialsErrorCode.BAD_OPTIONS, field="options")


def _parse_options(options: Mapping[str, Any], *, overlay: bool) -> _Options:
    """The options checked and normalised; raises PluginError naming the first bad option."""
    if not isinstance(options, Mapping):
        raise _bad("options", f"must be an object, not {type(options).__name__}")
    allowed = {"fields", "fallback_fonts"} | ({"template"} if overlay else {"accent_color"})
    for key in options:
        if key not in allowed:
            raise _bad(f"options.{key}", f"is not an option of this generator (expected one of {sorted(allowed)})")

    template = options.get("template", "")
    if overlay and (not isinstance(template, str) or not template):
        raise _bad("options.template", "must name the template PDF asset (its slug)")

    fallback = options.get("fallback_fonts", [])
    if not isinstance(fallback, list):
        raise _bad("options.fallback_fonts", "must be a list of font names (asset slugs or builtin:...)")
    for font in fallback:
        _check_font("options.fallback_fonts", font)

    accent = _color("options.accent_color", options.get("accent_color", "#1f3a5f"))

    known = _FIELD_KEYS if overlay else _PLAIN_FIELD_KEYS
    raw_fields = options.get("fields", {})
    if not isinstance(raw_fields, Mapping):
        raise _bad("options.fields", "must be an object of field name -> settings")
    fields: dict[str, Mapping[str, Any] | None] = {}
    for name, settings in raw_fields.items():
        path = f"options.fields.{name}"
        if name not in known:
            raise _bad(path, f"is not a field (expected one of {sorted(known)})")
        if settings is False:
            fields[name] = None
            continue
        if not isinstance(settings, Mapping):
            raise _bad(path, "must be an object of settings, or false to leave the field out")
        fields[name] = _parse_field(path, name, settings, known[name])
    return _Options(template=template, fallback_fonts=tuple(fallback), accent_color=accent, fields=fields)


def _parse_field(path: str, name: str, settings: Mapping[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for key, value in settings.items():
        key_path = f"{path}.{key}"
        if key not in keys:
            raise _bad(key_path, f"is not a setting of this field (expected one of {sorted(keys)})")
        if key in _NUMBER_KEYS:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise _bad(key_path, f"must be a number (PDF points), not {value!r}")
            if key in _POSITIVE_KEYS and value <= 0:
                raise _bad(key_path, f"must be greater than 0, not {value!r}")
            value = float(value)
        elif key == "color":
            value = _color(key_path, value)
        elif key in _FONT_KEYS:
            _check_font(key_path, value)
        elif key == "align":
            if value not in _ALIGNS:
                raise _bad(key_path, f"must be one of {list(_ALIGNS)}, not {value!r}")
        elif key == "text":
            if not isinstance(value, str):
                raise _bad(key_path, f"must be a string, not {value!r}")
            if name not in _PLAIN_STATIC_FIELDS and "{value}" not in value:
                raise _bad(key_path, "must contain {value}, where the field's value is printed")
        elif key == "format":
            if not isinstance(value, str) or not value:
                raise _bad(key_path, "must be a strftime format such as '%d %B %Y' or '%Y-%m-%d'")
        parsed[key] = value
    return parsed


def _check_font(path: str, value: Any) -> None:
    if not isinstance(value, str) or not value or (value.startswith("builtin:") and value not in BUILTIN_FONTS):
        raise _bad(path, f"must name a font: an asset slug or one of {list(BUILTIN_FONTS)}, not {value!r}")


def _color(path: str, value: Any) -> str:
    """The colour as #rrggbb (reportlab's HexColor reads "#c00" as 0x000c00, not as #cc0000)."""
    if not isinstance(value, str) or not _COLOR.fullmatch(value):
        raise _bad(path, f"must be a colour like '#1a1a1a' or '#333', not {value!r}")
    return value if len(value) == 7 else "#" + "".join(digit * 2 for digit in value[1:])


def validate_overlay_options(options: dict[str, Any]) -> None:
    """Raise PluginError (field "options") naming the first option the overlay generator refuses."""
    _parse_options(options, overlay=True)


def validate_plain_options(options: dict[str, Any]) -> None:
    """Raise PluginError (field "options") naming the first option the plain generator refuses."""
    _parse_options(options, overlay=False)


def _layout(
    defaults: Mapping[str, Style], overrides: Mapping[str, Mapping[str, Any] | None]
) -> dict[str, Style | None]:
    layout: dict[str, Style | None] = dict(defaults)
    for name, settings in overrides.items():
        layout[name] = None if settings is None else dataclasses.replace(defaults[name], **settings)
    return layout


def overlay_defaults(width: float, height: float) -> dict[str, Style]:
    """Where the overlay generator draws each field when the options do not say: centred in the
    middle band of the page, signatories along the bottom, the QR code in the bottom-right corner
    (figures given for A4 landscape, 842 x 595 pt)."""
    centre = width / 2
    return {
        "learner_name": TextStyle(
            x=centre, y=height * 0.52, size=32, font=BUILTIN_SANS_BOLD, max_width=width - 160
        ),  # y 310
        "title": TextStyle(x=centre, y=height * 0.42, size=20, max_width=width - 160),  # y 250
        "issued_on": TextStyle(x=centre, y=height * 0.34, size=12, color="#444444"),  # y 202
        "issuer": TextStyle(x=centre, y=height * 0.30, size=12, color="#444444", max_width=width - 160),  # y 179
        "signatories": SignatoriesStyle(x=centre, y=100, size=10, spacing=190, max_width=180),
        "qr": QrStyle(x=width - 131, y=40, size=90),
    }


def plain_defaults(width: float, height: float, accent: str) -> dict[str, Style]:
    """The plain certificate's layout (A4 landscape)."""
    centre = width / 2
    return {
        "heading": TextStyle(
            x=centre, y=height - 115, size=34, font=BUILTIN_SANS_BOLD, color=accent, text="Certificate of Completion"
        ),
        "preamble": TextStyle(x=centre, y=height * 0.62, size=14, color="#444444", text="This is to certify that"),
        "learner_name": TextStyle(x=centre, y=height * 0.52, size=34, font=BUILTIN_SANS_BOLD, max_width=width - 160),
        "statement": TextStyle(x=centre, y=height * 0.445, size=14, color="#444444", text="has successfully completed"),
        "title": TextStyle(x=centre, y=height * 0.37, size=22, font=BUILTIN_SANS_BOLD, max_width=width - 160),
        "issued_on": TextStyle(x=centre, y=height * 0.29, size=12, color="#444444", text="Issued on {value}"),
        "issuer": TextStyle(x=centre, y=height * 0.255, size=12, color="#444444", max_width=width - 160),
        "signatories": SignatoriesStyle(x=centre, y=85, size=10, spacing=190, max_width=170),
        "qr": QrStyle(x=width - 131, y=40, size=90),
    }


# --- assets ----------------------------------------------------------------------------------


def _read_asset(assets: AssetSource, slug: str, *, option: str) -> bytes:
    try:
        return assets.read(slug)
    except PluginError as error:
        raise PluginError(
            f"{option} names the asset {slug!r}, which cannot be read: {error.message}",
            code=error.code,
            field="options",
        ) from error


_digests_lock = threading.Lock()
# id(bytes) -> (those bytes, their sha256): holding the bytes keeps their id from being reused.
_digests: OrderedDict[int, tuple[bytes, str]] = OrderedDict()


def _digest(data: bytes) -> str:
    """The sha256 of an asset's bytes, computed once per bytes object: an AssetStore hands out the same
    object for every PDF of a chunk, and hashing a template costs ~0.3 ms per rendering otherwise."""
    with _digests_lock:
        known = _digests.get(id(data))
        if known is not None and known[0] is data:
            _digests.move_to_end(id(data))
            return known[1]
    digest = hashlib.sha256(data).hexdigest()
    with _digests_lock:
        _digests[id(data)] = (data, digest)
        while len(_digests) > _DIGEST_CACHE_SIZE:
            _digests.popitem(last=False)
    return digest


# --- fonts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Font:
    name: str  # as registered with reportlab
    glyphs: Mapping[int, int]  # code point -> glyph id, to choose a font per character


_fonts_lock = threading.Lock()
_fonts: dict[str, _Font] = {}  # builtin name, or "sha256:<hex>" of an asset font's bytes


def _load_builtin(name: str) -> TTFont:
    if name == BUILTIN_SANS:
        return TTFont("Credentials-DejaVuSans", str(_FONTS_DIR / "DejaVuSans.ttf"))
    if name == BUILTIN_SANS_BOLD:
        return TTFont("Credentials-DejaVuSans-Bold", str(_FONTS_DIR / "DejaVuSans-Bold.ttf"))
    # WenQuanYi Micro Hei from its PyPI package (see fonts/README.md); TrueType outlines, which
    # reportlab can embed, unlike the CFF outlines of Noto Sans CJK.
    ttc = resources.files("paperang_p2_fonts_cjk").joinpath("fonts", "wqy-microhei.ttc")
    return TTFont("Credentials-WenQuanYiMicroHei", str(ttc), subfontIndex=0)


def _registered(key: str, load: Callable[[], TTFont]) -> _Font:
    """The font registered under `key`, loading and registering it with reportlab on first use."""
    font = _fonts.get(key)
    if font is not None:
        return font
    with _fonts_lock:
        font = _fonts.get(key)
        if font is None:
            ttf = load()
            pdfmetrics.registerFont(ttf)
            font = _Font(name=ttf.fontName, glyphs=ttf.face.charToGlyph)
            _fonts[key] = font
    return font


def _builtin_font(name: str) -> _Font:
    return _registered(name, lambda: _load_builtin(name))


class _Fonts:
    """The fonts of one rendering: resolves font names (each asset read once) and splits text into
    runs of one font each."""

    def __init__(self, assets: AssetSource, fallback: tuple[str, ...]) -> None:
        self._assets = assets
        self._fallback = fallback
        self._resolved: dict[str, _Font] = {}
        for name in fallback:  # now, so that a bad one fails every rendering, not only some names'
            self.get(name, option="options.fallback_fonts")

    def get(self, name: str, *, option: str) -> _Font:
        font = self._resolved.get(name)
        if font is None:
            font = _builtin_font(name) if name in BUILTIN_FONTS else self._asset_font(name, option=option)
            self._resolved[name] = font
        return font

    def _asset_font(self, slug: str, *, option: str) -> _Font:
        data = _read_asset(self._assets, slug, option=option)
        digest = _digest(data)

        def load() -> TTFont:
            try:
                return TTFont(f"Credentials-asset-{slug}-{digest[:12]}", io.BytesIO(data))
            except (TTFError, struct.error) as error:  # not a font, truncated, or PostScript (CFF) outlines
                raise _bad(option, f"names the asset {slug!r}, which is not a usable TrueType font: {error}") from error

        return _registered(f"sha256:{digest}", load)

    def chain(self, primary: str, *, option: str) -> Iterator[_Font]:
        """The fonts to try for a character, in order; each resolved only when reached."""
        last_resort = BUILTIN_SANS_BOLD if primary == BUILTIN_SANS_BOLD else BUILTIN_SANS
        seen: set[str] = set()
        for index, name in enumerate((primary, *self._fallback, last_resort, BUILTIN_CJK)):
            if name not in seen:
                seen.add(name)
                yield self.get(name, option=option if index == 0 else "options.fallback_fonts")

    def runs(self, text: str, primary: str, *, option: str) -> list[tuple[_Font, str]]:
        """`text` (already in visual order) as runs of characters drawn with one font each."""
        fonts: list[_Font] = []  # the chain resolved so far
        chain = self.chain(primary, option=option)
        chosen: list[_Font | None] = []
        for char in text:
            if char.isspace():
                chosen.append(None)  # takes its neighbour's font, so a space does not split a run
                continue
            code = ord(char)
            font = next((font for font in fonts if code in font.glyphs), None)
            while font is None:
                candidate = next(chain, None)
                if candidate is None:
                    font = fonts[0]  # no font has it: the primary font's missing-glyph box
                    break
                fonts.append(candidate)
                if code in candidate.glyphs:
                    font = candidate
            chosen.append(font)
        if not fonts:
            fonts.append(next(chain))
        runs: list[tuple[_Font, str]] = []
        current = next((font for font in chosen if font is not None), fonts[0])
        for char, font in zip(text, chosen, strict=True):
            font = font or current
            if runs and runs[-1][0] is font:
                runs[-1] = (font, runs[-1][1] + char)
            else:
                runs.append((font, char))
            current = font
        return runs


# --- text ------------------------------------------------------------------------------------

_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_ARABIC = re.compile("[\u0600-\u08ff\ufb50-\ufdff\ufe70-\ufefc]")


@cache
def _reshaper() -> arabic_reshaper.ArabicReshaper:
    # Only the ligatures DejaVu Sans has glyphs for (e.g. lam-alef, not the "Allah" word ligature), so
    # the last-resort font can draw whatever the reshaper produces.
    covered = _builtin_font(BUILTIN_SANS).glyphs.keys() & _builtin_font(BUILTIN_SANS_BOLD).glyphs.keys()
    configuration = {name: all(ord(form) in covered for form in forms if form) for name, (_match, forms) in LIGATURES}
    return arabic_reshaper.ArabicReshaper(configuration=configuration)


def visual_text(text: str) -> str:
    """`text` as it is drawn left to right: NFC-normalised, Arabic letters in their joined forms,
    right-to-left runs in visual order, invisible format characters removed."""
    text = unicodedata.normalize("NFC", text)
    if _RTL.search(text):
        if _ARABIC.search(text):
            text = _reshaper().reshape(text)
        text = str(get_display(text))
    return "".join(char for char in text if unicodedata.category(char) != "Cf")


def _draw_text(canvas: Canvas, fonts: _Fonts, text: str, style: TextStyle, *, x: float, y: float, option: str) -> None:
    runs = fonts.runs(visual_text(text), style.font, option=f"{option}.font")
    size = style.size
    widths = [pdfmetrics.stringWidth(run, font.name, size) for font, run in runs]
    total = sum(widths)
    if total > style.max_width:  # shrink a long name to fit rather than run off the page
        scale = style.max_width / total
        size, total, widths = size * scale, style.max_width, [width * scale for width in widths]
    if style.align == "center":
        x -= total / 2
    elif style.align == "right":
        x -= total
    canvas.setFillColor(HexColor(style.color))
    for (font, run), width in zip(runs, widths, strict=True):
        canvas.setFont(font.name, size)
        canvas.drawString(x, y, run)
        x += width


# --- drawing ---------------------------------------------------------------------------------


def _field_value(context: CredentialContext, name: str, style: TextStyle) -> str:
    if name == "learner_name":
        return context.learner_name
    if name == "title":
        return context.title
    if name == "issued_on":
        return context.issued_on.strftime(style.format)
    if name == "issuer":
        return context.issuer
    return ""


def _draw_fields(canvas: Canvas, context: CredentialContext, layout: Layout, fonts: _Fonts, *, rules: str = "") -> None:
    for name, style in layout.items():
        option = f"options.fields.{name}"
        if isinstance(style, TextStyle):
            if name in _VALUE_FIELDS:
                value = _field_value(context, name, style)
                if not value:
                    continue
                text = style.text.replace("{value}", value)
            else:
                text = style.text
            if text:
                _draw_text(canvas, fonts, text, style, x=style.x, y=style.y, option=option)
        elif isinstance(style, SignatoriesStyle):
            _draw_signatories(canvas, context.signatories, style, fonts, rules=rules, option=option)
        elif isinstance(style, QrStyle):
            _draw_qr(canvas, context.verification_url, style)


def _draw_signatories(
    canvas: Canvas,
    signatories: tuple[Signatory, ...],
    style: SignatoriesStyle,
    fonts: _Fonts,
    *,
    rules: str,
    option: str,
) -> None:
    count = len(signatories)
    detail = dataclasses.replace(_as_text(style, style.detail_font), size=style.size * 0.9)
    name_style = _as_text(style, style.font)
    for index, signatory in enumerate(signatories):
        if style.align == "center":
            x = style.x + (index - (count - 1) / 2) * style.spacing
        elif style.align == "left":
            x = style.x + index * style.spacing
        else:
            x = style.x - (count - 1 - index) * style.spacing
        if rules:  # the plain certificate's signature line above each name
            width = min(style.max_width, style.spacing - 20)
            left = {"center": x - width / 2, "left": x, "right": x - width}[style.align]
            canvas.setStrokeColor(HexColor(rules))
            canvas.setLineWidth(0.6)
            canvas.line(left, style.y + style.size * 1.6, left + width, style.y + style.size * 1.6)
        y = style.y
        for text, line_style in (
            (signatory.name, name_style),
            (signatory.title, detail),
            (signatory.organization, detail),
        ):
            if text:
                _draw_text(canvas, fonts, text, line_style, x=x, y=y, option=option)
                y -= line_style.size * 1.35


def _as_text(style: SignatoriesStyle, font: str) -> TextStyle:
    return TextStyle(
        x=style.x,
        y=style.y,
        size=style.size,
        font=font,
        color=style.color,
        align=style.align,
        max_width=style.max_width,
    )


def _draw_qr(canvas: Canvas, url: str, style: QrStyle) -> None:
    # Vector paths written as PDF operators, not an image and not reportlab's QR widget (which draws
    # each module as its own path: INFRA-NOTES §5, 220-270 ms per PDF): a white square for the symbol
    # and its quiet zone, then one rectangle per horizontal run of dark modules, all filled by a single
    # `f`, so renderers show no seams between rows. Drawing takes about 0.2 ms (segno's encoding
    # another 0.8); the PNG image this replaced took ~1.3 ms to save and for reportlab to embed.
    # The mask is fixed: choosing it by the standard's penalty rules (segno's default) costs ~3 ms per
    # PDF, and any of the eight masks is a valid QR code that scanners read from its format
    # information. The tests decode many PDFs' codes (random verification URLs) to keep that true.
    code = segno.make(url, error="m", micro=False, mask=_QR_MASK)
    modules = len(code.matrix)
    side = modules + 2 * _QR_QUIET_ZONE
    scale = style.size / side
    ops = [
        f"q {fp_str(scale, 0, 0, scale, style.x, style.y)} cm 1 g 0 0 {side} {side} re f 0 g",
    ]
    for row, line in enumerate(code.matrix):
        y = side - _QR_QUIET_ZONE - 1 - row  # the matrix's first row is the symbol's top
        ops.extend(
            f"{_QR_QUIET_ZONE + run.start()} {y} {run.end() - run.start()} 1 re" for run in _DARK_RUN.finditer(line)
        )
    ops.append("f Q")
    canvas.addLiteral("\n".join(ops))


def _new_canvas(context: CredentialContext, size: tuple[float, float]) -> tuple[Canvas, io.BytesIO]:
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=size, pageCompression=1)
    canvas.setTitle(f"{context.title} - {context.learner_name}")
    return canvas, out


# --- templates -------------------------------------------------------------------------------
#
# A template's pages are imported once per process into reportlab objects: each page becomes a form
# XObject, and every PDF object it needs (fonts, images, ...) is kept as bytes pypdf serialised, with
# only the references between them left to resolve. Each rendering registers these objects in its
# reportlab document, draws page 1's form and the credential over it on one canvas, and writes the
# file: no PDF is parsed or merged per rendering. (Merging a reportlab overlay into the template
# with pypdf instead parses the overlay's fonts back and rewrites the whole file, about a third of
# the time of a rendering.) What is not carried over: annotations (links) and document-level parts
# of the template (outlines, form fields, tags).


class _RawObject(PDFObject):
    """A PDF value already serialised, written as it is."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def format(self, document: Any) -> bytes:
        return self.data


class _Dictionary(PDFObject):
    def __init__(self, items: list[tuple[bytes, Any]]) -> None:
        self.items = items  # (serialised key, value: bytes, reference or another container)

    def format(self, document: Any) -> bytes:
        return b"<<" + b"".join(key + b" " + pdf_format(value, document) + b"\n" for key, value in self.items) + b">>"


class _Array(PDFObject):
    def __init__(self, values: list[Any]) -> None:
        self.values = values

    def format(self, document: Any) -> bytes:
        return b"[" + b" ".join(pdf_format(value, document) for value in self.values) + b"]"


class _Stream(PDFObject):
    __RefOnly__ = 1  # a stream is always an indirect object

    def __init__(self, dictionary: _Dictionary, data: bytes) -> None:
        self.dictionary = dictionary
        self.data = data  # as stored: still encoded with the dictionary's /Filter

    def format(self, document: Any) -> bytes:
        dictionary = _Dictionary([*self.dictionary.items, (b"/Length", str(len(self.data)).encode())])
        return dictionary.format(document) + b"\nstream\n" + self.data + b"\nendstream"


class _Registered(PDFObject):
    """A fresh handle on a shared imported object for one document: reportlab marks each object it
    registers with its name in that document, so the shared object itself is never registered."""

    def __init__(self, target: PDFObject) -> None:
        self.target = target

    def format(self, document: Any) -> bytes:
        return cast(bytes, pdf_format(self.target, document, toplevel=1))


@dataclass(frozen=True)
class _TemplatePage:
    form: str  # the form XObject's name, as given to canvas.doForm
    left: float  # the crop box, in the page's user space
    bottom: float
    width: float
    height: float


@dataclass(frozen=True)
class _Template:
    objects: tuple[tuple[str, PDFObject], ...]  # document-wide name -> imported object
    pages: tuple[_TemplatePage, ...]

    def draw_page(self, canvas: Canvas, index: int) -> None:
        """Register the template's objects in the canvas's document (on page 1), then draw a page."""
        if index == 0:
            document = canvas._doc  # type: ignore[attr-defined]  # its PDFDocument: no public accessor
            for name, target in self.objects:
                document.Reference(_Registered(target), name)
        page = self.pages[index]
        canvas.saveState()
        canvas.translate(-page.left, -page.bottom)
        canvas.doForm(page.form)
        canvas.restoreState()


class _Importer:
    """Turns pypdf objects into reportlab ones, each indirect object once, named under `prefix`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.names: dict[tuple[int, int], str] = {}
        self.objects: list[tuple[str, PDFObject]] = []

    def reference(self, indirect: IndirectObject) -> PDFObjectReference:
        key = (indirect.idnum, indirect.generation)
        name = self.names.get(key)
        if name is None:  # named before it is converted, so that cycles end
            name = self.names[key] = f"{self.prefix}.{len(self.names)}"
            self.add(name, indirect.get_object())
        return PDFObjectReference(name)

    def add(self, name: str, obj: Any) -> None:
        if isinstance(obj, StreamObject):
            items = [(key, value) for key, value in obj.items() if key != "/Length"]
            converted: PDFObject = _Stream(self.dictionary(items), obj._data)  # the stored bytes, no re-encoding
        else:
            value = self.value(obj)
            converted = value if isinstance(value, PDFObject) else _RawObject(value)
        self.objects.append((name, converted))

    def dictionary(self, items: list[tuple[Any, Any]]) -> _Dictionary:
        return _Dictionary([(_serialised(NameObject(key)), self.value(value)) for key, value in items])

    def value(self, obj: Any) -> Any:
        if isinstance(obj, IndirectObject):
            return self.reference(obj)
        if isinstance(obj, StreamObject):
            raise PyPdfError("a stream that is not an indirect object")
        if isinstance(obj, DictionaryObject):
            return self.dictionary(list(obj.items()))
        if isinstance(obj, ArrayObject):
            return _Array([self.value(item) for item in obj])
        return _serialised(obj)


def _serialised(obj: Any) -> bytes:
    out = io.BytesIO()
    obj.write_to_stream(out)
    return out.getvalue()


_templates_lock = threading.Lock()
_templates: OrderedDict[tuple[str, str], _Template] = OrderedDict()  # (slug, sha256) -> imported, LRU


def _template(slug: str, assets: AssetSource) -> _Template:
    data = _read_asset(assets, slug, option="options.template")
    key = (slug, _digest(data))
    with _templates_lock:
        template = _templates.get(key)
        if template is not None:
            _templates.move_to_end(key)
            return template
    template = _import_template(slug, data, prefix=f"Template.{key[1][:16]}")
    with _templates_lock:
        _templates[key] = template
        while len(_templates) > _TEMPLATE_CACHE_SIZE:
            _templates.popitem(last=False)
    return template


def _import_template(slug: str, data: bytes, *, prefix: str) -> _Template:
    def refuse(problem: str) -> PluginError:
        return _bad("options.template", f"names the asset {slug!r}, which {problem}")

    importer = _Importer(prefix)
    pages: list[_TemplatePage] = []
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise refuse("is an encrypted PDF")
        if not reader.pages:
            raise refuse("is a PDF without pages")
        if any(page.rotation % 360 for page in reader.pages):
            # Positions are given as the page is seen: turn /Rotate'd pages into upright ones.
            writer = PdfWriter(clone_from=reader)
            for page in writer.pages:
                page.transfer_rotation_to_content()
            upright = io.BytesIO()
            writer.write(upright)
            reader = PdfReader(upright)
        for number, page in enumerate(reader.pages, start=1):
            box = page.cropbox
            media = page.mediabox
            contents = page.get_contents()
            items: list[tuple[Any, Any]] = [
                ("/Type", NameObject("/XObject")),
                ("/Subtype", NameObject("/Form")),
                ("/BBox", ArrayObject([FloatObject(float(value)) for value in media])),
                ("/Resources", _inherited(page, "/Resources")),
                ("/Filter", NameObject("/FlateDecode")),
            ]
            if "/Group" in page:  # a transparency group stays one
                items.append(("/Group", page["/Group"]))
            form = f"{prefix}.page{number}"
            importer.objects.append(
                (
                    xObjectName(form),
                    _Stream(
                        importer.dictionary(items),
                        zlib.compress(contents.get_data() if contents is not None else b""),
                    ),
                )
            )
            pages.append(_TemplatePage(form, float(box.left), float(box.bottom), float(box.width), float(box.height)))
    except (PyPdfError, ValueError, TypeError, AttributeError, KeyError, IndexError) as error:
        # pypdf raises the built-in errors too on damaged files; the cause stays chained for debugging.
        raise refuse(f"is not a PDF pypdf can read: {type(error).__name__}: {error}") from error
    return _Template(objects=tuple(importer.objects), pages=tuple(pages))


def _inherited(page: DictionaryObject, key: str) -> Any:
    """A page attribute, from the page or the nearest /Pages node above it (PDF 32000 7.7.3.4)."""
    node: DictionaryObject | None = page
    while node is not None:
        if key in node:
            return node[key]
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    return DictionaryObject()


# --- the generators --------------------------------------------------------------------------


@checks_options(validate_overlay_options)
def overlay_generator(context: CredentialContext, options: Mapping[str, Any], assets: AssetSource) -> bytes:
    """The template PDF asset with the credential drawn over its page 1; its other pages as they are."""
    parsed = _parse_options(options, overlay=True)
    template = _template(parsed.template, assets)
    first = template.pages[0]
    layout = _layout(overlay_defaults(first.width, first.height), parsed.fields)
    fonts = _Fonts(assets, parsed.fallback_fonts)
    canvas, out = _new_canvas(context, (first.width, first.height))
    for index, page in enumerate(template.pages):
        canvas.setPageSize((page.width, page.height))
        template.draw_page(canvas, index)
        if index == 0:
            _draw_fields(canvas, context, layout, fonts)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


@checks_options(validate_plain_options)
def plain_generator(context: CredentialContext, options: Mapping[str, Any], assets: AssetSource) -> bytes:
    """A one-page A4-landscape certificate: border, heading, the credential's fields and the QR code."""
    parsed = _parse_options(options, overlay=False)
    layout = _layout(plain_defaults(*PAGE_SIZE, parsed.accent_color), parsed.fields)
    fonts = _Fonts(assets, parsed.fallback_fonts)
    canvas, out = _new_canvas(context, PAGE_SIZE)
    width, height = PAGE_SIZE
    canvas.setStrokeColor(HexColor(parsed.accent_color))  # a double border
    canvas.setLineWidth(3)
    canvas.rect(18, 18, width - 36, height - 36)
    canvas.setLineWidth(0.8)
    canvas.rect(27, 27, width - 54, height - 54)
    _draw_fields(canvas, context, layout, fonts, rules=parsed.accent_color)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
