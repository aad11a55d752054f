"""The PDF generators, checked on the PDFs they write: parsed back with pypdf (text, fonts, positions),
rendered with PDFium (QR decoded with zxing-cpp, ink where the text is) and saved as PNGs in
var/test-artifacts/pdf_credentials/ for a person to look at. No database: assets come from memory."""

from __future__ import annotations

import datetime
import io
import random
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from apps.pdf_credentials import generators, plugins
from apps.pdf_credentials.exceptions import PdfCredentialsErrorCode
from apps.pdf_credentials.generators import overlay_generator, plain_generator
from apps.pdf_credentials.plugins import CredentialContext, PluginError, Signatory

FONTS = Path(__file__).resolve().parents[1] / "fonts"
ARTIFACTS = Path(__file__).resolve().parents[3] / "var" / "test-artifacts" / "pdf_credentials"
OVERLAY = "apps.pdf_credentials.generators.overlay_generator"
PLAIN = "apps.pdf_credentials.generators.plain_generator"
WIDTH, HEIGHT = landscape(A4)

CJK_FONT = "WenQuanYiMicroHei-0"  # reportlab appends the member's index to a .ttc font's name
NAMES = {  # name, the /BaseFont it is drawn in (the field's default font is builtin:sans-bold)
    "latin": ("Zoë Müller-Łukasiewicz", "DejaVuSans-Bold"),
    "cyrillic": ("Иван Петров", "DejaVuSans-Bold"),
    "chinese": ("王小明", CJK_FONT),
    "japanese": ("山田太郎", CJK_FONT),
    "arabic": ("محمد علي", "DejaVuSans-Bold"),
}


# --- helpers -----------------------------------------------------------------------------------


@dataclass
class MemoryAssets:
    """An AssetSource over a dict, as the real one over the asset table: unknown slug -> PluginError."""

    files: dict[str, bytes]

    def read(self, slug: str) -> bytes:
        try:
            return self.files[slug]
        except KeyError:
            raise PluginError(f"No asset {slug!r}.", code=PdfCredentialsErrorCode.UNKNOWN_ASSET, field="slug") from None


def make_template(
    heading: str = "Certificate of Achievement", *, pagesize: tuple[float, float] = (WIDTH, HEIGHT)
) -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=pagesize)
    width, height = pagesize
    canvas.setLineWidth(4)
    canvas.rect(20, 20, width - 40, height - 40)
    canvas.setFont("Helvetica-Bold", 36)
    canvas.drawCentredString(width / 2, height - 100, heading)
    canvas.showPage()
    canvas.setFont("Helvetica", 12)
    canvas.drawString(72, 72, "Terms and conditions (page 2)")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def make_context(name: str = "Jane Doe", **changes: Any) -> CredentialContext:
    verification_uuid = uuid.UUID("0b6f6f8e-5a52-4d2c-9f3e-0e1c2d3b4a59")
    context = CredentialContext(
        learner_name=name,
        title="Introduction to Computer Science",
        issued_on=datetime.date(2026, 11, 29),
        issuer="Example University",
        verification_url=f"https://credentials.example.com/verify/{verification_uuid}/",
        verification_uuid=verification_uuid,
        signatories=(
            Signatory(name="Ada Lovelace", title="Dean of Engineering", organization="Example University"),
            Signatory(name="Alan Turing", title="Course Instructor"),
        ),
    )
    return replace(context, **changes)


@dataclass(frozen=True)
class Run:
    text: str
    font: str  # /BaseFont without the subset tag
    size: float
    x: float
    y: float


def text_runs(pdf: bytes) -> list[Run]:
    """Each text-showing operation on page 1 (inside form XObjects too), with its font and position."""
    runs: list[Run] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip():
            base_font = str(font["/BaseFont"]).lstrip("/").split("+")[-1] if font else ""
            x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
            y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
            runs.append(Run(text.strip(), base_font, size, x, y))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return runs


def fonts_of(runs: list[Run], text: str) -> set[str]:
    """The fonts of the runs that make up `text` (a line may be several runs, one per font)."""
    return {run.font for run in runs if run.text and run.text in text}


def render(pdf: bytes, *, scale: float = 2.0) -> Image.Image:
    document = pdfium.PdfDocument(pdf)
    try:
        return document[0].render(scale=scale).to_pil().copy()
    finally:
        document.close()


def pdfium_text(pdf: bytes, needle: str) -> tuple[str, list[float]]:
    """Page 1's text as PDFium (Chrome's PDF engine) reads it, and the left edge of each character
    of the first occurrence of `needle` in it."""
    document = pdfium.PdfDocument(pdf)
    try:
        text_page = document[0].get_textpage()
        text = text_page.get_text_range()
        start = text.index(needle)
        return text, [text_page.get_charbox(index)[0] for index in range(start, start + len(needle))]
    finally:
        document.close()


def save_artifact(name: str, pdf: bytes) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    render(pdf, scale=1.5).save(path)
    return path


def decode_qr(image: Image.Image) -> list[str]:
    return [
        barcode.text for barcode in zxingcpp.read_barcodes(image) if barcode.format == zxingcpp.BarcodeFormat.QRCode
    ]


def ink_between(image: Image.Image, *, scale: float, y_low: float, y_high: float) -> int:
    """Dark pixels in a horizontal band of the page given in PDF points from the bottom."""
    top, bottom = int((HEIGHT - y_high) * scale), int((HEIGHT - y_low) * scale)
    band = image.convert("L").crop((0, top, image.width, bottom))
    return sum(band.histogram()[:128])


def glyphs_of(font_file: str) -> set[int]:
    return set(TTFont("probe", str(FONTS / font_file)).face.charToGlyph)


@pytest.fixture(scope="module")
def assets() -> MemoryAssets:
    return MemoryAssets(
        files={
            "cert-a4": make_template(),
            # a font asset that differs from the default of the title (DejaVu Sans, regular)
            "brand-bold": (FONTS / "DejaVuSans-Bold.ttf").read_bytes(),
            "not-a-font": b"%PDF-1.4 not a font",
            "truncated-font": (FONTS / "DejaVuSans.ttf").read_bytes()[:200_000],
            "not-a-pdf": b"GIF89a",
        }
    )


# --- overlay: what is printed ------------------------------------------------------------------


@pytest.mark.parametrize("script", list(NAMES))
def test_overlay_prints_every_field_in_each_script(script: str, assets: MemoryAssets) -> None:
    # given
    name, name_font = NAMES[script]
    context = make_context(name)

    # when
    pdf = overlay_generator(context, {"template": "cert-a4"}, assets)

    # then
    save_artifact(f"overlay-{script}", pdf)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2  # the template's other pages are kept
    assert [float(v) for v in reader.pages[0].mediabox] == pytest.approx([0, 0, WIDTH, HEIGHT])
    runs = text_runs(pdf)
    texts = [run.text for run in runs]
    assert "Certificate of Achievement" in texts  # the template's own text is still there
    for expected in (
        "Introduction to Computer Science",
        "29 November 2026",
        "Example University",
        "Ada Lovelace",
        "Dean of Engineering",
        "Alan Turing",
        "Course Instructor",
    ):
        assert expected in texts
    assert texts.count("Example University") == 2  # issuer and the first signatory's organization
    assert fonts_of(runs, "Introduction to Computer Science") == {"DejaVuSans"}
    assert fonts_of(runs, "Ada Lovelace") == {"DejaVuSans-Bold"}

    (name_run,) = [run for run in runs if run.size == 32]
    assert name_run.font == name_font
    if script == "arabic":
        # Drawn as joined letters: presentation forms (U+FE70..U+FEFF; initial, medial and final
        # forms, e.g. U+FEE3 MEEM INITIAL), which compatibility normalisation maps back to the name.
        # (pypdf puts right-to-left text back into logical order when it extracts it.)
        assert all("\ufe70" <= char <= "\ufeff" for char in name_run.text.replace(" ", ""))
        assert "\ufee3" in name_run.text
        assert unicodedata.normalize("NFKC", name_run.text) == name
        # The font named in /BaseFont has a glyph for each of them (no missing-glyph boxes).
        assert {ord(char) for char in name_run.text} <= glyphs_of("DejaVuSans-Bold.ttf")
        # PDFium reads the name back, and its first letter is drawn rightmost: right to left.
        _text, lefts = pdfium_text(pdf, name)
        assert lefts == sorted(lefts, reverse=True)
    else:
        assert name_run.text == name
        _text, lefts = pdfium_text(pdf, name)
        assert lefts == sorted(lefts)
    assert name_run.y == pytest.approx(HEIGHT * 0.52)


def test_overlay_qr_code_links_to_the_verification_page_and_is_vector_paths(assets: MemoryAssets) -> None:
    # given
    context = make_context("Иван Петров")

    # when
    pdf = overlay_generator(context, {"template": "cert-a4"}, assets)

    # then
    assert decode_qr(render(pdf)) == [context.verification_url]
    # no image: the template's page is the only XObject; the code is rectangles filled at once
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    xobjects = [xobject.get_object() for xobject in page["/Resources"]["/XObject"].values()]
    assert [str(xobject["/Subtype"]) for xobject in xobjects] == ["/Form"]
    content = page.get_contents().get_data()
    assert b" re\nf Q" in content


def test_the_qr_code_sits_in_a_white_square_where_the_options_put_it(assets: MemoryAssets) -> None:
    # given: the code moved over the template's border (a 4 pt line 20 pt from the page's edges)
    options = {"template": "cert-a4", "fields": {"qr": {"x": 0, "y": 0, "size": 120}}}
    scale = 2.0

    def pixel(x: float, y: float) -> int:  # PDF points from the bottom-left corner
        return int(image.getpixel((int(x * scale), image.height - 1 - int(y * scale))))

    # when
    image = render(overlay_generator(make_context(), options, assets), scale=scale).convert("L")

    # then: the border is hidden in the square's quiet zone (its 4 white modules, ~10 pt here) and
    # drawn on either side of the square; the square's corners are white
    assert pixel(5, 20) == 255
    assert pixel(130, 20) < 64
    assert pixel(1, 1) == pixel(119, 119) == pixel(1, 119) == pixel(119, 1) == 255
    assert decode_qr(image) == [make_context().verification_url]


def test_qr_codes_of_a_fixed_mask_decode_whatever_the_url() -> None:
    # given: 50 verification URLs with random uuids, on hosts of different lengths (so several QR
    # versions), each drawn with the one fixed mask instead of the standard's best one
    rng = random.Random(7)
    hosts = [
        "https://c.ex.io",
        "https://credentials.example.com",
        "https://credentials.a-rather-long-university-name.example.edu/learning",
    ]
    assets = MemoryAssets(files={"cert": make_template()})
    for index in range(50):
        verification_uuid = uuid.UUID(int=rng.getrandbits(128), version=4)
        url = f"{hosts[index % len(hosts)]}/credentials/verify/{verification_uuid}/"
        context = make_context(verification_url=url, verification_uuid=verification_uuid)

        # when
        if index % 2:
            pdf = overlay_generator(context, {"template": "cert"}, assets)
        else:
            pdf = plain_generator(context, {}, assets)

        # then: read at 72 dpi as well as at 144 (90 pt: about 1.5 and 3 pixels per module)
        assert decode_qr(render(pdf, scale=1.0)) == [url], url
        assert decode_qr(render(pdf, scale=2.0)) == [url], url


def test_overlay_inks_the_name_in_every_script(assets: MemoryAssets) -> None:
    # given: only the learner's name, so any ink in its band is the name
    off = dict.fromkeys(["title", "issued_on", "issuer", "signatories", "qr"], False)
    scale = 1.0

    for script, (name, _font) in NAMES.items():
        # when
        pdf = overlay_generator(make_context(name), {"template": "cert-a4", "fields": off}, assets)

        # then
        assert ink_between(render(pdf, scale=scale), scale=scale, y_low=290, y_high=350) > 300, script


def test_overlay_options_move_restyle_reformat_and_switch_off_fields(assets: MemoryAssets) -> None:
    # given
    options = {
        "template": "cert-a4",
        "fields": {
            "learner_name": {"x": 100, "y": 400, "size": 28, "align": "left", "color": "#c00"},
            "title": {"font": "brand-bold", "text": "for completing {value}"},
            "issued_on": {"format": "%Y-%m-%d", "text": "Issued {value}", "align": "right", "x": 700},
            "issuer": False,
            "signatories": False,
            "qr": {"x": 40, "y": 40, "size": 120},
        },
    }

    # when
    pdf = overlay_generator(make_context("Jane Doe"), options, assets)

    # then
    save_artifact("overlay-options", pdf)
    runs = {run.text: run for run in text_runs(pdf)}
    assert runs["Jane Doe"].x == pytest.approx(100)
    assert runs["Jane Doe"].y == pytest.approx(400)
    assert runs["Jane Doe"].size == 28
    assert runs["for completing Introduction to Computer Science"].font == "DejaVuSans-Bold"  # the asset font
    issued = runs["Issued 2026-11-29"]
    assert issued.x < 700  # right-aligned: the text ends at x=700
    assert "Example University" not in runs
    assert "Ada Lovelace" not in runs
    content = PdfReader(io.BytesIO(pdf)).pages[0].get_contents().get_data()
    assert b"\n.8 0 0 rg\n" in content  # #c00 as the fill colour, red 0.8
    assert decode_qr(render(pdf)) == [make_context().verification_url]


def test_overlay_uses_the_fallback_fonts_only_for_characters_the_field_font_lacks(assets: MemoryAssets) -> None:
    # given: a name in two scripts
    context = make_context("山田太郎 (Taro Yamada)")

    # when
    pdf = overlay_generator(context, {"template": "cert-a4"}, assets)

    # then
    name_runs = [run for run in text_runs(pdf) if run.size == 32]
    assert [(run.text, run.font) for run in name_runs] == [
        ("山田太郎", CJK_FONT),
        ("(Taro Yamada)", "DejaVuSans-Bold"),
    ]


def test_a_character_no_font_has_is_drawn_as_a_missing_glyph_not_an_error(assets: MemoryAssets) -> None:
    # given: U+1F9EC (DNA), in none of the built-in fonts
    context = make_context("Jane \U0001f9ec Doe")

    # when
    pdf = overlay_generator(context, {"template": "cert-a4"}, assets)

    # then
    name_runs = [run for run in text_runs(pdf) if run.size == 32]
    assert [run.font for run in name_runs] == ["DejaVuSans-Bold"]
    assert name_runs[0].text.startswith("Jane")


def test_overlay_shrinks_a_long_name_to_its_max_width(assets: MemoryAssets) -> None:
    # given
    long_name = "Maria Guadalupe Fernández de la Cruz y Sánchez-Villalobos Montenegro"

    # when
    pdf = overlay_generator(
        make_context(long_name), {"template": "cert-a4", "fields": {"learner_name": {"max_width": 400}}}, assets
    )

    # then
    (run,) = [run for run in text_runs(pdf) if run.text == long_name]
    assert run.size < 32
    assert run.x == pytest.approx(WIDTH / 2 - 200, abs=1)


def test_overlay_follows_a_changed_template_under_the_same_slug() -> None:
    # given
    assets = MemoryAssets(files={"cert": make_template("Version One")})
    first = overlay_generator(make_context(), {"template": "cert"}, assets)

    # when: the operator uploads a new file for the same asset
    assets.files["cert"] = make_template("Version Two")
    second = overlay_generator(make_context(), {"template": "cert"}, assets)

    # then
    assert "Version One" in [run.text for run in text_runs(first)]
    assert "Version Two" in [run.text for run in text_runs(second)]


def test_overlay_keeps_a_template_s_embedded_fonts_images_and_later_pages() -> None:
    # given: a template with its own embedded TrueType font (Cyrillic heading), a raster logo and a
    # second page
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(WIDTH, HEIGHT))
    pdfmetrics.registerFont(TTFont("TemplateHeading", str(FONTS / "DejaVuSans.ttf")))
    canvas.setFont("TemplateHeading", 30)
    canvas.drawCentredString(WIDTH / 2, HEIGHT - 90, "Удостоверение слушателя")
    canvas.drawImage(ImageReader(Image.new("RGB", (60, 60), (200, 30, 30))), 40, HEIGHT - 110, 60, 60)
    canvas.showPage()
    canvas.setFont("Helvetica", 12)
    canvas.drawString(72, 72, "Terms and conditions")
    canvas.showPage()
    canvas.save()
    assets = MemoryAssets(files={"rich": out.getvalue()})

    # when
    pdf = overlay_generator(make_context("王小明"), {"template": "rich"}, assets)

    # then
    save_artifact("overlay-rich-template", pdf)
    runs = text_runs(pdf)
    assert ("Удостоверение слушателя", "DejaVuSans") in [(run.text, run.font) for run in runs]
    assert ("王小明", CJK_FONT) in [(run.text, run.font) for run in runs]
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.pages[1].extract_text().strip() == "Terms and conditions"
    image = render(pdf, scale=1.0)
    assert image.getpixel((70, 80))[:3] == (200, 30, 30)  # the logo, 40 pt from the left, near the top


def test_a_template_is_parsed_once_per_content(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a spy on the PDF parser the generators use
    parsed: list[int] = []

    class CountingReader(PdfReader):
        def __init__(self, stream: Any, *args: Any, **kwargs: Any) -> None:
            parsed.append(1)
            super().__init__(stream, *args, **kwargs)

    monkeypatch.setattr(generators, "PdfReader", CountingReader)
    assets = MemoryAssets(files={"cert": make_template("Parsed once")})

    # when
    for name in ("Jane Doe", "Иван Петров", "王小明"):
        overlay_generator(make_context(name), {"template": "cert"}, assets)
    assets.files["cert"] = make_template("Parsed again")
    overlay_generator(make_context(), {"template": "cert"}, assets)

    # then
    assert len(parsed) == 2


def test_a_template_is_hashed_once_per_bytes_object_it_comes_as(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a spy on the hash the template cache is keyed by
    hashed: list[int] = []
    real_sha256 = generators.hashlib.sha256

    def sha256(data: bytes) -> Any:
        hashed.append(len(data))
        return real_sha256(data)

    monkeypatch.setattr(generators.hashlib, "sha256", sha256)
    template = make_template("Hashed once")
    assets = MemoryAssets(files={"cert": template})

    # when: three PDFs from the same bytes (as one AssetStore gives them), then one from an equal copy
    # (the next chunk's AssetStore), then one from changed bytes
    for name in ("Jane Doe", "Иван Петров", "王小明"):
        overlay_generator(make_context(name), {"template": "cert"}, assets)
    assets.files["cert"] = bytes(bytearray(template))
    overlay_generator(make_context(), {"template": "cert"}, assets)
    assets.files["cert"] = make_template("Changed")
    changed = overlay_generator(make_context(), {"template": "cert"}, assets)

    # then
    assert hashed == [len(template), len(template), len(assets.files["cert"])]
    assert "Changed" in [run.text for run in text_runs(changed)]


def test_overlay_positions_are_those_of_the_page_as_seen_on_a_rotated_template() -> None:
    # given: a portrait page shown as landscape through /Rotate 90
    portrait = PdfReader(io.BytesIO(make_template(pagesize=(HEIGHT, WIDTH))))
    writer = PdfWriter(clone_from=portrait)
    writer.pages[0].rotate(90)
    rotated = io.BytesIO()
    writer.write(rotated)
    assets = MemoryAssets(files={"rotated": rotated.getvalue()})

    # when
    pdf = overlay_generator(make_context("Jane Doe"), {"template": "rotated"}, assets)

    # then: the name is upright, centred on the landscape page the learner sees
    save_artifact("overlay-rotated-template", pdf)
    image = render(pdf, scale=1.0)
    assert image.width > image.height
    assert ink_between(image, scale=1.0, y_low=300, y_high=340) > 300
    assert decode_qr(render(pdf)) == [make_context().verification_url]


# --- plain ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("script", ["latin", "chinese", "arabic"])
def test_plain_certificate_prints_every_field_and_the_qr_code(script: str) -> None:
    # given: no assets at all
    name, name_font = NAMES[script]
    context = make_context(name)

    # when
    pdf = plain_generator(context, {}, MemoryAssets(files={}))

    # then
    save_artifact(f"plain-{script}", pdf)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    assert [float(v) for v in reader.pages[0].mediabox] == pytest.approx([0, 0, WIDTH, HEIGHT])
    runs = text_runs(pdf)
    texts = [run.text for run in runs]
    for expected in (
        "Certificate of Completion",
        "This is to certify that",
        "has successfully completed",
        "Introduction to Computer Science",
        "Issued on 29 November 2026",
        "Example University",
        "Ada Lovelace",
        "Alan Turing",
    ):
        assert expected in texts
    (name_run,) = [run for run in runs if run.size == 34 and run.text not in ("Certificate of Completion",)]
    assert name_run.font == name_font
    assert decode_qr(render(pdf)) == [context.verification_url]


def test_plain_certificate_wording_can_be_changed_or_left_out(assets: MemoryAssets) -> None:
    # given
    options = {
        "accent_color": "#7a1f1f",
        "fields": {"heading": {"text": "Сертификат"}, "preamble": False, "statement": {"text": "a terminé"}},
    }

    # when
    pdf = plain_generator(make_context("Jane Doe"), options, assets)

    # then
    texts = [run.text for run in text_runs(pdf)]
    assert "Сертификат" in texts
    assert "a terminé" in texts
    assert "This is to certify that" not in texts


# --- options and assets ------------------------------------------------------------------------

BAD_OVERLAY_OPTIONS = [
    ({}, "options.template"),
    ({"template": ""}, "options.template"),
    ({"template": "cert-a4", "colour": "#000"}, "options.colour"),
    ({"template": "cert-a4", "fields": []}, "options.fields"),
    ({"template": "cert-a4", "fields": {"nickname": {}}}, "options.fields.nickname"),
    ({"template": "cert-a4", "fields": {"heading": {}}}, "options.fields.heading"),  # plain only
    ({"template": "cert-a4", "fields": {"title": True}}, "options.fields.title"),
    ({"template": "cert-a4", "fields": {"title": {"colour": "#000"}}}, "options.fields.title.colour"),
    ({"template": "cert-a4", "fields": {"title": {"color": "blue"}}}, "options.fields.title.color"),
    ({"template": "cert-a4", "fields": {"title": {"color": "#12345"}}}, "options.fields.title.color"),
    ({"template": "cert-a4", "fields": {"learner_name": {"x": "297"}}}, "options.fields.learner_name.x"),
    ({"template": "cert-a4", "fields": {"learner_name": {"y": None}}}, "options.fields.learner_name.y"),
    ({"template": "cert-a4", "fields": {"learner_name": {"y": True}}}, "options.fields.learner_name.y"),
    ({"template": "cert-a4", "fields": {"learner_name": {"size": 0}}}, "options.fields.learner_name.size"),
    ({"template": "cert-a4", "fields": {"learner_name": {"align": "middle"}}}, "options.fields.learner_name.align"),
    ({"template": "cert-a4", "fields": {"learner_name": {"font": ""}}}, "options.fields.learner_name.font"),
    (
        {"template": "cert-a4", "fields": {"learner_name": {"font": "builtin:serif"}}},
        "options.fields.learner_name.font",
    ),
    ({"template": "cert-a4", "fields": {"title": {"text": "no placeholder"}}}, "options.fields.title.text"),
    ({"template": "cert-a4", "fields": {"issued_on": {"format": 5}}}, "options.fields.issued_on.format"),
    ({"template": "cert-a4", "fields": {"qr": {"x": 1, "color": "#000"}}}, "options.fields.qr.color"),
    ({"template": "cert-a4", "fields": {"signatories": {"spacing": -10}}}, "options.fields.signatories.spacing"),
    ({"template": "cert-a4", "fallback_fonts": "amiri"}, "options.fallback_fonts"),
]


@pytest.mark.parametrize(("options", "named"), BAD_OVERLAY_OPTIONS, ids=[named for _, named in BAD_OVERLAY_OPTIONS])
def test_overlay_options_are_refused_naming_the_option(options: dict[str, Any], named: str) -> None:
    # when
    with pytest.raises(PluginError) as refused:
        plugins.validate(OVERLAY, options, kind="generator")

    # then
    assert refused.value.code == PdfCredentialsErrorCode.BAD_OPTIONS
    assert refused.value.field == "options"
    assert refused.value.message.startswith(f"{named} ")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"template": "cert-a4"}, "options.template"),
        ({"accent_color": "navy"}, "options.accent_color"),
        ({"fields": {"preamble": {"size": "big"}}}, "options.fields.preamble.size"),
    ],
)
def test_plain_options_are_refused_naming_the_option(options: dict[str, Any], named: str) -> None:
    with pytest.raises(PluginError) as refused:
        plugins.validate(PLAIN, options, kind="generator")

    assert refused.value.code == PdfCredentialsErrorCode.BAD_OPTIONS
    assert refused.value.message.startswith(f"{named} ")


def test_good_options_pass_validation() -> None:
    plugins.validate(
        OVERLAY,
        {
            "template": "cert-a4",
            "fallback_fonts": ["amiri", "builtin:cjk"],
            "fields": {
                "learner_name": {"x": 297, "y": 420.5, "size": 32, "color": "#1a1a1a", "font": "brand-bold"},
                "issued_on": {"format": "%Y-%m-%d"},
                "signatories": {"x": 100, "y": 90, "size": 9, "spacing": 200, "align": "left"},
                "qr": {"x": 40, "y": 40, "size": 90},
                "issuer": False,
            },
        },
        kind="generator",
    )
    plugins.validate(PLAIN, {"accent_color": "#333", "fields": {"heading": {"text": "Diploma"}}}, kind="generator")


@pytest.mark.parametrize(
    ("generator", "options", "slug"),
    [
        (overlay_generator, {"template": "missing-template"}, "missing-template"),
        (overlay_generator, {"template": "cert-a4", "fields": {"title": {"font": "missing-font"}}}, "missing-font"),
        (plain_generator, {"fallback_fonts": ["missing-fallback"]}, "missing-fallback"),
    ],
)
def test_missing_assets_are_reported_by_slug(
    generator: Callable[..., bytes], options: dict[str, Any], slug: str, assets: MemoryAssets
) -> None:
    # given: a name every built-in font covers: fallback fonts are checked all the same
    context = make_context("Jane Doe")

    # when
    with pytest.raises(PluginError) as refused:
        generator(context, options, assets)

    # then
    assert refused.value.code == PdfCredentialsErrorCode.UNKNOWN_ASSET
    assert refused.value.field == "options"
    assert repr(slug) in refused.value.message


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"template": "not-a-pdf"}, "options.template"),
        ({"template": "cert-a4", "fields": {"title": {"font": "not-a-font"}}}, "options.fields.title.font"),
        ({"template": "cert-a4", "fields": {"title": {"font": "truncated-font"}}}, "options.fields.title.font"),
        ({"template": "cert-a4", "fallback_fonts": ["not-a-font"]}, "options.fallback_fonts"),
    ],
)
def test_unusable_assets_are_refused_naming_the_option(
    options: dict[str, Any], named: str, assets: MemoryAssets
) -> None:
    with pytest.raises(PluginError) as refused:
        overlay_generator(make_context(), options, assets)

    assert refused.value.code == PdfCredentialsErrorCode.BAD_OPTIONS
    assert refused.value.message.startswith(f"{named} ")
