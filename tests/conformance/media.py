"""Tiny binary payloads for the fixture: a one-pixel PNG and a short silent WAV, built in code.

Building them here (instead of pasting base64 blobs) keeps the bytes explainable: both are the
smallest well-formed files of their kind that a client can decode.
"""

from __future__ import annotations

import base64
import struct
import zlib

PNG_MIME_TYPE = "image/png"
WAV_MIME_TYPE = "audio/wav"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RED_PIXEL_RGB = b"\xff\x00\x00"
_WAV_SAMPLE_RATE = 8000
_WAV_SILENT_SAMPLES = 80  # 10 ms of silence


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    checksum = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", checksum)


def red_pixel_png() -> bytes:
    """A 1x1 red PNG (8-bit RGB)."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # width, height, depth, RGB, deflate, filter, no interlace
    scanline = b"\x00" + _RED_PIXEL_RGB  # filter byte "none", then the pixel
    return (
        _PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(scanline))
        + _png_chunk(b"IEND", b"")
    )


def silent_wav() -> bytes:
    """A mono 16-bit PCM WAV holding a few milliseconds of silence."""
    channels, sample_bytes = 1, 2
    samples = b"\x00\x00" * _WAV_SILENT_SAMPLES
    byte_rate = _WAV_SAMPLE_RATE * channels * sample_bytes
    fmt = struct.pack("<HHIIHH", 1, channels, _WAV_SAMPLE_RATE, byte_rate, channels * sample_bytes, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def as_base64(data: bytes) -> str:
    """Base64 text, as MCP carries binary content."""
    return base64.b64encode(data).decode("ascii")


PNG_BASE64 = as_base64(red_pixel_png())
WAV_BASE64 = as_base64(silent_wav())
