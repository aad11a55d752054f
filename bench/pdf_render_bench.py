"""Benchmark the PDF generators (apps/pdf_credentials/generators.py) in one process: no database,
no storage, just rendering.

What it does, in order:

1. Builds a template PDF with reportlab: A4 landscape, a border, a heading in Helvetica, an ornament
   of 400 vector curves and a 600 x 400 RGB noise image (so the template is not trivially small:
   about 700 KiB), or reads ``--template FILE``.
2. For each case below renders ``--count`` PDFs (500 by default) in this process, learner names
   cycling through Latin, Cyrillic, CJK and Arabic and a fresh verification URL (so a fresh QR code)
   for each, and times every call:

   - overlay: template + name + title + date + QR (the aim: >= 50 PDFs/s per process);
   - overlay, every field: also the issuer and two signatories;
   - overlay without the QR code (what the QR code costs);
   - plain: the plain generator with every field and the QR code.

3. Prints a markdown table: PDFs/s (steady state, after the first PDF, which loads fonts and parses
   the template), the first PDF's ms, p50/p95 ms, output size, and the process's RSS before the
   case, after 100 PDFs and at the end (flat memory means the last two match), plus the peak RSS.

Usage, from the project root::

    .venv/bin/python bench/pdf_render_bench.py
    .venv/bin/python bench/pdf_render_bench.py --count 2000 --template /path/to/template.pdf

The exit status is 1 when the first case renders fewer than 50 PDFs/s (``--no-target`` turns that
off). This is a script, not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import datetime
import io
import math
import os
import random
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
TARGET_PER_SECOND = 50
NAMES = ["Jane Doe", "Иван Петров", "王小明", "محمد علي"]


@dataclass(frozen=True)
class Case:
    label: str
    generator: str  # "overlay" or "plain"
    options: Mapping[str, Any]
    signatories: bool


@dataclass(frozen=True)
class Result:
    case: Case
    per_second: float
    first_ms: float
    p50_ms: float
    p95_ms: float
    size_kb: float
    rss_before_mb: float
    rss_after_100_mb: float
    rss_end_mb: float


class MemoryAssets:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def read(self, slug: str) -> bytes:
        return self.files[slug]


def make_template(*, with_image: bool = True) -> bytes:
    """An A4-landscape template: a border, a heading, 400 vector curves and (`with_image`) a 600 x 400
    photo-like background image."""
    from PIL import Image
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    width, height = landscape(A4)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(width, height))
    if with_image:
        # a light, photo-like (incompressible) background image, as designers' templates often have
        noise = random.Random(0).randbytes(600 * 400 * 3)
        image = Image.frombytes("RGB", (600, 400), bytes(200 + value % 56 for value in noise))
        canvas.drawImage(ImageReader(image), 60, 60, width - 120, height - 120)
    # an ornament of vector curves
    canvas.setStrokeColorRGB(0.6, 0.5, 0.2)
    canvas.setLineWidth(0.3)
    for index in range(400):
        angle = index * math.tau / 400
        canvas.bezier(
            width / 2,
            height - 60,
            width / 2 + 300 * math.cos(angle),
            height - 60 + 40 * math.sin(angle),
            width / 2 - 300 * math.sin(angle),
            40 + 20 * math.cos(angle),
            width / 2,
            40,
        )
    canvas.setLineWidth(4)
    canvas.rect(20, 20, width - 40, height - 40)
    canvas.setFont("Helvetica-Bold", 36)
    canvas.drawCentredString(width / 2, height - 100, "Certificate of Achievement")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def run_case(case: Case, *, count: int, assets: MemoryAssets, generators: Mapping[str, Callable[..., bytes]]) -> Result:
    from apps.pdf_credentials.plugins import CredentialContext, Signatory

    generate = generators[case.generator]
    signatories = (
        (Signatory("Ada Lovelace", "Dean of Engineering", "Example University"), Signatory("Иван Петров", "Ректор"))
        if case.signatories
        else ()
    )
    timings: list[float] = []
    size = 0
    rss_before = rss_mb()
    rss_after_100 = rss_before
    for index in range(count):
        verification_uuid = uuid.uuid4()
        context = CredentialContext(
            learner_name=NAMES[index % len(NAMES)],
            title="Introduction to Computer Science",
            issued_on=datetime.date(2026, 11, 29),
            issuer="Example University",
            verification_url=f"https://credentials.example.com/verify/{verification_uuid}/",
            verification_uuid=verification_uuid,
            signatories=signatories,
        )
        started = time.perf_counter()
        pdf = generate(context, case.options, assets)
        timings.append(time.perf_counter() - started)
        size += len(pdf)
        if index == 99:
            rss_after_100 = rss_mb()
    steady = timings[1:] or timings
    cut = statistics.quantiles(timings, n=20)
    return Result(
        case=case,
        per_second=len(steady) / sum(steady),
        first_ms=timings[0] * 1000,
        p50_ms=statistics.median(timings) * 1000,
        p95_ms=cut[18] * 1000,
        size_kb=size / count / 1024,
        rss_before_mb=rss_before,
        rss_after_100_mb=rss_after_100,
        rss_end_mb=rss_mb(),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500, help="PDFs per case (default 500)")
    parser.add_argument("--template", type=Path, help="a template PDF to use instead of the generated one")
    parser.add_argument("--no-target", action="store_true", help="exit 0 even below 50 PDFs/s")
    args = parser.parse_args()
    if args.count < 100:
        parser.error("--count must be at least 100 (RSS is sampled after 100 PDFs)")

    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "credentials_service.settings.test")
    import django

    django.setup()
    from apps.pdf_credentials.generators import overlay_generator, plain_generator

    template = args.template.read_bytes() if args.template else make_template()
    assets = MemoryAssets({"template": template})
    minimal = {"issuer": False, "signatories": False}
    cases = [
        Case("overlay: name + title + date + QR", "overlay", {"template": "template", "fields": minimal}, False),
        Case("overlay: every field (+ issuer, 2 signatories)", "overlay", {"template": "template"}, True),
        Case(
            "overlay: name + title + date, no QR",
            "overlay",
            {"template": "template", "fields": {**minimal, "qr": False}},
            False,
        ),
        Case("plain: every field + QR", "plain", {}, True),
    ]
    generators = {"overlay": overlay_generator, "plain": plain_generator}

    print(f"template: {len(template) / 1024:.0f} KiB; {args.count} PDFs per case; names: {', '.join(NAMES)}\n")
    results = [run_case(case, count=args.count, assets=assets, generators=generators) for case in cases]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    print("| case | PDFs/s | first PDF ms | p50 ms | p95 ms | KiB/PDF | RSS MiB before / after 100 / end |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for result in results:
        print(
            f"| {result.case.label} | {result.per_second:.0f} | {result.first_ms:.0f} | {result.p50_ms:.1f} "
            f"| {result.p95_ms:.1f} | {result.size_kb:.0f} | {result.rss_before_mb:.0f} / "
            f"{result.rss_after_100_mb:.0f} / {result.rss_end_mb:.0f} |"
        )
    print(f"\npeak RSS of the process: {peak_mb:.0f} MiB")
    growth = results[0].rss_end_mb - results[0].rss_after_100_mb
    print(f"RSS growth from PDF 100 to PDF {args.count} of the first case: {growth:+.1f} MiB")

    if results[0].per_second < TARGET_PER_SECOND and not args.no_target:
        print(f"below the target of {TARGET_PER_SECOND} PDFs/s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
