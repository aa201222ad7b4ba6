"""Blobs at rest: cut by FastCDC, each chunk zstd-compressed and stored once by its sha256.

A blob is the exact bytes whose sha256 names it; its rows are ``blob`` (size, upload
time), ``blob_chunk`` (its chunks in order) and ``chunk`` (deduplicated across blobs).
Every read reassembles and checks the sha256: a mismatch raises BlobCorrupt.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass

import zstandard
from fastcdc import fastcdc

MIN_CHUNK = 2 * 1024
AVG_CHUNK = 8 * 1024
MAX_CHUNK = 64 * 1024
LEVEL = 3
RAW, ZSTD = 0, 1


class BlobCorrupt(Exception):
    """The stored bytes of a blob do not hash to its name."""


@dataclass
class Chunk:
    sha256: bytes  # the digest of the raw bytes
    size: int
    codec: int
    data: bytes  # as stored (compressed when codec is ZSTD)


def cut(data: bytes | memoryview) -> list[Chunk]:
    """The chunks of ``data``, each compressed when that makes it smaller (CPU only: do it
    before the transaction)."""
    compressor = zstandard.ZstdCompressor(level=LEVEL)
    view = memoryview(data)
    chunks = []
    for c in fastcdc(view, min_size=MIN_CHUNK, avg_size=AVG_CHUNK, max_size=MAX_CHUNK, fat=False):
        raw = view[c.offset : c.offset + c.length]
        packed = compressor.compress(raw)
        keep = (ZSTD, packed) if len(packed) < len(raw) else (RAW, bytes(raw))
        chunks.append(Chunk(hashlib.sha256(raw).digest(), len(raw), *keep))
    return chunks


def has_blob(db: sqlite3.Connection, sha: str) -> bool:
    return db.execute("SELECT 1 FROM blob WHERE sha256 = ?", (sha,)).fetchone() is not None


def insert_blob(db: sqlite3.Connection, sha: str, size: int, chunks: list[Chunk]) -> bool:
    """Store a blob from its chunks (in the caller's transaction), then read it back and
    check it. Returns False when it was stored already."""
    if has_blob(db, sha):
        return False
    db.execute(
        "INSERT INTO blob (sha256, size, created) VALUES (?, ?, ?)", (sha, size, time.time())
    )
    for seq, chunk in enumerate(chunks):
        row = db.execute("SELECT id FROM chunk WHERE sha256 = ?", (chunk.sha256,)).fetchone()
        if row is None:
            row = db.execute(
                "INSERT INTO chunk (sha256, size, codec, data) VALUES (?, ?, ?, ?) RETURNING id",
                (chunk.sha256, chunk.size, chunk.codec, chunk.data),
            ).fetchone()
        db.execute(
            "INSERT INTO blob_chunk (blob, seq, chunk_id) VALUES (?, ?, ?)", (sha, seq, row[0])
        )
    read_blob(db, sha)  # raises BlobCorrupt (and the caller rolls back)
    return True


def read_blob(db: sqlite3.Connection, sha: str) -> bytes | None:
    """The exact bytes of a blob, reassembled and checked; None when there is none."""
    row = db.execute("SELECT size FROM blob WHERE sha256 = ?", (sha,)).fetchone()
    if row is None:
        return None
    decompressor = zstandard.ZstdDecompressor()
    parts = []
    for codec, size, data in db.execute(
        """SELECT c.codec, c.size, c.data FROM blob_chunk b JOIN chunk c ON c.id = b.chunk_id
           WHERE b.blob = ? ORDER BY b.seq""",
        (sha,),
    ):
        try:
            raw = decompressor.decompress(data, max_output_size=size) if codec == ZSTD else data
        except zstandard.ZstdError as e:
            raise BlobCorrupt(f"blob {sha}: a chunk does not decompress ({e})") from None
        parts.append(raw)
    data = b"".join(parts)
    if len(data) != row[0] or hashlib.sha256(data).hexdigest() != sha:
        raise BlobCorrupt(f"blob {sha}: the stored bytes do not hash to its name")
    return data


def delete_blob(db: sqlite3.Connection, sha: str) -> None:
    """Remove a blob and the chunks no other blob uses (in the caller's transaction)."""
    chunk_ids = [r[0] for r in db.execute("SELECT chunk_id FROM blob_chunk WHERE blob = ?", (sha,))]
    db.execute("DELETE FROM blob_chunk WHERE blob = ?", (sha,))
    db.execute("DELETE FROM blob WHERE sha256 = ?", (sha,))
    for chunk_id in set(chunk_ids):
        db.execute(
            """DELETE FROM chunk WHERE id = ?1
               AND NOT EXISTS (SELECT 1 FROM blob_chunk WHERE chunk_id = ?1)""",
            (chunk_id,),
        )
