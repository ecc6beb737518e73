"""QR codes of short URLs, as SVG or PNG (segno)."""

from __future__ import annotations

import io

from mainspring.shortener.schemas import QrErrorLevel, QrFormat

MEDIA_TYPES = {QrFormat.SVG: "image/svg+xml", QrFormat.PNG: "image/png"}


def render(url: str, fmt: QrFormat, *, scale: int, border: int, error: QrErrorLevel) -> bytes:
    """``url`` as a QR code: ``scale`` pixels per module, a quiet zone of ``border`` modules,
    the error-correction level ``error`` (L 7 %, M 15 %, Q 25 %, H 30 % of the code may be
    damaged or covered)."""
    import segno  # loaded by the first QR code, not at start (tests/core/test_startup.py)

    code = segno.make_qr(url, error=error.value.lower(), boost_error=False)
    out = io.BytesIO()
    if fmt is QrFormat.SVG:
        code.save(out, kind="svg", scale=scale, border=border, xmldecl=False, title=url)
    else:
        code.save(out, kind="png", scale=scale, border=border)
    return out.getvalue()
