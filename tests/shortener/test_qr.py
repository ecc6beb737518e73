"""QR codes: decoded back (zxing-cpp) to the short URL, in PNG and in SVG."""

from __future__ import annotations

import re
import struct
import zlib

import httpx
import pytest
import zxingcpp

from tests.shortener.conftest import LINKS, shorten


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """A greyscale PNG (what segno writes) as 8-bit pixels: enough of PNG for these tests."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert colour == 0, colour
    assert depth in (1, 8), depth
    stride = (width * depth + 7) // 8
    raw, rows, previous = zlib.decompress(idat), [], bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):
            left = line[x - 1] if x else 0
            up, corner = previous[x], previous[x - 1] if x else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (
                    line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)
                ) & 0xFF
        rows.append(bytes(line))
        previous = line
    if depth == 8:
        return width, height, b"".join(rows)
    pixels = bytes(
        255 if row[x // 8] >> (7 - x % 8) & 1 else 0 for row in rows for x in range(width)
    )
    return width, height, pixels


def _svg_pixels(svg: str, zoom: int = 4) -> tuple[int, int, bytes]:
    """segno's SVG (one path of horizontal strokes, one module high) drawn into pixels."""
    size = re.search(r'width="(\d+)"', svg)
    scale = re.search(r"scale\((\d+)\)", svg)
    path = re.search(r' d="([^"]+)"', svg)
    assert size is not None
    assert path is not None
    modules = int(int(size.group(1)) / (float(scale.group(1)) if scale else 1.0))
    dark = [[False] * modules for _ in range(modules)]
    x = y = 0.0
    for command, a, b in re.findall(r"([MmHhVv])(-?[\d.]+)(?:\s+(-?[\d.]+))?", path.group(1)):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        elif command == "h":
            for column in range(int(x), int(x + float(a))):
                dark[int(y)][column] = True
            x += float(a)
    width = modules * zoom
    pixels = bytes(
        0 if dark[row // zoom][column // zoom] else 255
        for row in range(width)
        for column in range(width)
    )
    return width, width, pixels


def _decode(width: int, height: int, pixels: bytes) -> list[str]:
    image = memoryview(pixels).cast("B", shape=[height, width])
    return [result.text for result in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize("error", ["L", "M", "Q", "H"])
@pytest.mark.parametrize("scale", [2, 6])
async def test_png_qr_codes_decode_to_the_short_url(
    client: httpx.AsyncClient, error: str, scale: int
) -> None:
    link = await shorten(client)
    response = await client.get(
        f"{LINKS}/{link['code']}/qr", params={"format": "png", "scale": scale, "error": error}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    width, height, pixels = _png_pixels(response.content)
    assert width == height
    assert width % scale == 0
    assert _decode(width, height, pixels) == [link["short_url"]]


async def test_svg_qr_codes_decode_to_the_short_url(client: httpx.AsyncClient) -> None:
    link = await shorten(client, alias="qr-me")
    response = await client.get(f"{LINKS}/qr-me/qr", params={"format": "svg", "border": 2})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "<script" not in response.text
    assert _decode(*_svg_pixels(response.text)) == [link["short_url"]]


async def test_more_error_correction_means_a_bigger_code(client: httpx.AsyncClient) -> None:
    link = await shorten(client)
    sizes = []
    for error in ("L", "H"):
        png = await client.get(
            f"{LINKS}/{link['code']}/qr",
            params={"format": "png", "scale": 1, "border": 0, "error": error},
        )
        sizes.append(_png_pixels(png.content)[0])
    assert sizes[0] < sizes[1]


async def test_qr_codes_of_unknown_codes_and_bad_options(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{LINKS}/unknown1/qr")).status_code == 404
    link = await shorten(client)
    for params in ({"format": "gif"}, {"scale": 0}, {"scale": 41}, {"error": "X"}):
        response = await client.get(f"{LINKS}/{link['code']}/qr", params=params)
        assert response.status_code == 422, params
