#!/usr/bin/env python3
"""b2server: a local Backblaze B2 native-API server for cloudkeep's tests.

It follows docs/b2-native-api.md (the project's B2 fact sheet) closely, so that
a client bug shows up here rather than against the real service: tokens expire,
upload URLs serve one upload at a time, SHA-1s and Content-Length are checked,
file names and info headers are percent-decoded and validated, and every error
is B2's JSON document {"status", "code", "message"} with B2's HTTP status.

Usage:
  python3 tools/b2server/b2server.py --port PORT --data-dir DIR --key-id ID --key KEY
      [--bucket NAME[:allPublic|allPrivate] ...] [--token-lifetime SECONDS]
      [--upload-fail-rate 0.1] [--latency-ms N] [--port-file F]
      [--min-part-size BYTES] [--recommended-part-size BYTES] [--test-mode-rate 0.3]
      [--concurrent-upload-code auth_token_limit|bad_request] [--keep-upload-urls]
      [--strict-names] [--request-timeout SECONDS] [--seed N] [--verbose] [--log-file F]

  --port 0 picks a free port; it is written to --port-file (atomically) and
  printed as "b2server listening on http://127.0.0.1:PORT".  Data (file bytes as
  files, metadata in DIR/meta.sqlite3) survives a restart; tokens do not.
  SIGTERM / SIGINT stop it gracefully (requests in flight get up to 5 s).

Endpoints (apiUrl = downloadUrl = upload host = http://127.0.0.1:PORT):
  /b2api/v1..v4/b2_authorize_account            GET or POST, Basic auth
  /b2api/vN/<op>                                POST JSON; read-only ops also GET ?query
      b2_list_buckets b2_create_bucket b2_delete_bucket b2_get_upload_url
      b2_get_upload_part_url b2_start_large_file b2_finish_large_file
      b2_cancel_large_file b2_list_unfinished_large_files b2_list_parts
      b2_list_file_names b2_list_file_versions b2_hide_file b2_delete_file_version
      b2_get_file_info b2_get_download_authorization b2_download_file_by_id
  /b2api/vN/b2_upload_file/<bucketId>/<urlId>   POST raw bytes (upload token)
  /b2api/vN/b2_upload_part/<fileId>/<urlId>     POST raw bytes (part upload token)
  /file/<bucketName>/<percent-encoded name>     GET / HEAD, Range supported
Test endpoints (never counted, no auth):
  GET  /__test/health                 {"ok": true, "buckets": [...]}
  GET  /__test/stats[?bucket=NAME][&reset=1]   transaction counts (see Stats)
  POST /__test/stats/reset            zero the counters
  GET  /__test/config                 current fault switches
  POST /__test/config                 JSON, any of:
      upload_fail_rate (0..1), latency_ms, token_lifetime_s, expire_tokens_now,
      test_mode_rate, cap_exceeded, concurrent_upload_code, min_part_size,
      recommended_part_size, invalidate_upload_urls, strict_names,
      request_timeout_s (new connections), seed, reset_stats,
      fail_next: [{"op", "status", "code", "message", "count", "retry_after",
                   "bucket", "drop", "delay_ms"}], clear_faults
Header X-Bz-Test-Mode: fail_some_uploads | expire_some_account_authorization_tokens |
  force_cap_exceeded is honoured (the "some" modes hit a fraction test_mode_rate).

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import http.server
import json
import math
import mimetypes
import os
import random
import re
import secrets
import signal
import socket
import sqlite3
import sys
import threading
import time
import traceback
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Optional

# ---------------------------------------------------------------- limits (fact sheet)

API_VERSIONS = (1, 2, 3, 4)
MAX_NAME_BYTES = 1024
MAX_INFO_ITEMS = 10
MAX_INFO_KEY_BYTES = 50
MAX_NAME_AND_INFO_BYTES = 7000
MAX_FILE_BYTES = 5 * 1024**3  # b2_upload_file: 0 .. 5 GiB
MAX_PART_BYTES = 5 * 1024**3
MAX_PART_NUMBER = 10000
LIST_DEFAULT, LIST_MAX = 100, 10000
UNFINISHED_DEFAULT, UNFINISHED_MAX = 100, 100
PARTS_DEFAULT, PARTS_MAX = 100, 1000
DOWNLOAD_AUTH_MAX_S = 604800
DRAIN_LIMIT = 64 * 1024 * 1024  # bodies up to this size are read and dropped after an early error
CHUNK = 1024 * 1024

# b2-* info keys that are allowed, and the response header each becomes on download.
B2_INFO_HEADERS = {
    "b2-content-disposition": "Content-Disposition",
    "b2-content-language": "Content-Language",
    "b2-expires": "Expires",
    "b2-cache-control": "Cache-Control",
    "b2-content-encoding": "Content-Encoding",
}
FORBIDDEN_UPLOAD_HEADERS = (
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Location",
    "Content-Range",
    "Expires",
)
CAPABILITIES = [
    "listKeys", "writeKeys", "deleteKeys", "listAllBucketNames", "listBuckets", "readBuckets",
    "writeBuckets", "deleteBuckets", "readBucketEncryption", "writeBucketEncryption",
    "readBucketRetentions", "writeBucketRetentions", "readFileRetentions", "writeFileRetentions",
    "readFileLegalHolds", "writeFileLegalHolds", "readBucketReplications",
    "writeBucketReplications", "bypassGovernance", "listFiles", "readFiles", "shareFiles",
    "writeFiles", "deleteFiles",
]  # fmt: skip

# Transaction classes (fact sheet §13).  Class C beyond the two list calls is
# unconfirmed there; these follow Backblaze's price page as commonly read.
CLASS_A = {
    "b2_upload_file", "b2_upload_part", "b2_get_upload_url", "b2_get_upload_part_url",
    "b2_start_large_file", "b2_finish_large_file", "b2_cancel_large_file", "b2_hide_file",
    "b2_delete_file_version", "b2_delete_bucket",
}  # fmt: skip
CLASS_B = {"b2_download_file_by_id", "b2_download_file_by_name", "b2_get_file_info"}
CLASS_C = {
    "b2_list_file_names", "b2_list_file_versions", "b2_authorize_account", "b2_create_bucket",
    "b2_list_buckets", "b2_list_parts", "b2_list_unfinished_large_files",
    "b2_get_download_authorization",
}  # fmt: skip
BILLED_PER_1000 = {"b2_list_file_names", "b2_list_file_versions"}
UPLOAD_OPS = {"b2_upload_file", "b2_upload_part"}
# Calls that may also be made with GET and query parameters.
READ_ONLY_OPS = {
    "b2_authorize_account", "b2_list_buckets", "b2_get_upload_url", "b2_get_upload_part_url",
    "b2_list_unfinished_large_files", "b2_list_parts", "b2_list_file_names",
    "b2_list_file_versions", "b2_get_file_info", "b2_download_file_by_id",
    "b2_get_download_authorization",
}  # fmt: skip

HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
BUCKET_NAME = re.compile(r"^[A-Za-z0-9-]{6,63}$")
BUCKET_ID = re.compile(r"^[0-9a-f]{24}$")
FILE_ID = re.compile(r"^4_z([0-9a-f]{24})_f1([0-9a-f]{15})[0-9a-f]{6}_d\d{8}_m\d{6}_c000_v0001000_t\d{4}$")
BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Characters never percent-encoded on the way out (besides A-Z a-z 0-9 _ . - ~).
ENCODE_SAFE = "!$'()*;=:@/"


def now_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------- errors


class B2Error(Exception):
    """An error reply: HTTP status + B2 code + human message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Optional[dict[str, str]] = None,
        close: bool = False,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.close = close  # close the connection after the reply


class DropConnection(Exception):
    """Fault injection: close the socket without any reply."""


def bad_request(message: str, code: str = "bad_request") -> B2Error:
    return B2Error(400, code, message)


# ---------------------------------------------------------------- encoding


def b2_decode(value: str, what: str) -> str:
    """Decodes a percent-encoded header / path / query value (B2 §6): `+` is a
    space, %XX are UTF-8 bytes.  Raw non-ASCII, control characters and broken
    escapes are refused."""
    if BAD_ESCAPE.search(value):
        raise bad_request(f"{what} has an invalid percent-escape (a literal % must be sent as %25)")
    if any(ord(c) < 32 or ord(c) > 126 for c in value):
        raise bad_request(f"{what} must be percent-encoded (it has raw non-ASCII or control bytes)")
    raw = urllib.parse.unquote_to_bytes(value.replace("+", " "))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request(f"{what} is not valid UTF-8 after percent-decoding") from None


def b2_encode(value: str) -> str:
    """Full B2 percent-encoding (slash stays literal, space is %20)."""
    return urllib.parse.quote(value, safe=ENCODE_SAFE)


def parse_query(query: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        out[b2_decode(key, "query parameter name")] = b2_decode(value, f"query parameter {key}")
    return out


def validate_file_name(name: Any, strict: bool) -> str:
    if not isinstance(name, str):
        raise bad_request("fileName must be a string")
    try:
        raw = name.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request("file name is not valid UTF-8") from None
    if not raw:
        raise bad_request("file name must not be empty")
    if len(raw) > MAX_NAME_BYTES:
        raise bad_request(f"file name is {len(raw)} bytes; at most {MAX_NAME_BYTES} are allowed")
    for c in name:
        if ord(c) < 32 or ord(c) == 127:
            raise bad_request(f"file names must not contain control characters or DEL (found {ord(c):#04x})")
    if strict:
        if "\\" in name:
            raise bad_request("file names must not contain a backslash")
        if name.startswith("/") or name.endswith("/") or "//" in name:
            raise bad_request("file names must not start or end with '/' or contain '//'")
        if any(len(seg.encode("utf-8")) > 250 for seg in name.split("/")):
            raise bad_request("file name segments must be at most 250 bytes")
    return name


def validate_file_info(info: dict[str, str], name: str) -> None:
    if len(info) > MAX_INFO_ITEMS:
        raise bad_request(f"at most {MAX_INFO_ITEMS} file info items are allowed, got {len(info)}")
    total = len(name.encode("utf-8"))
    for key, value in info.items():
        kb = key.encode("utf-8")
        if not kb or len(kb) > MAX_INFO_KEY_BYTES:
            raise bad_request(f"file info name '{key}' must be 1 to {MAX_INFO_KEY_BYTES} bytes")
        if key.lower().startswith("b2-") and key.lower() not in B2_INFO_HEADERS:
            raise bad_request(f"file info name '{key}' is reserved (b2-* names)")
        if not isinstance(value, str):
            raise bad_request(f"file info value for '{key}' must be a string")
        total += len(kb) + len(value.encode("utf-8"))
    if total > MAX_NAME_AND_INFO_BYTES:
        raise bad_request(
            f"file name and file info together are {total} bytes; at most {MAX_NAME_AND_INFO_BYTES} are allowed"
        )


# ---------------------------------------------------------------- runtime settings


@dataclass
class FaultRule:
    """One injected failure, consumed `count` times (see /__test/config fail_next)."""

    op: str = "*"  # an op name, "*", "upload" (upload_file + upload_part) or "download"
    status: int = 503
    code: str = "service_unavailable"
    message: str = "injected fault"
    count: int = 1
    retry_after: Optional[int] = None
    bucket: Optional[str] = None  # only requests for this bucket name
    drop: bool = False  # close the connection without replying
    delay_ms: int = 0  # wait this long first

    def matches(self, op: str, bucket: Optional[str]) -> bool:
        if self.bucket is not None and self.bucket != bucket:
            return False
        if self.op == "*" or self.op == op:
            return True
        if self.op == "upload":
            return op in UPLOAD_OPS
        if self.op == "download":
            return op in ("b2_download_file_by_name", "b2_download_file_by_id")
        return False


@dataclass
class Settings:
    token_lifetime_s: float = 86400.0
    upload_fail_rate: float = 0.0
    latency_ms: int = 0
    test_mode_rate: float = 0.3
    cap_exceeded: bool = False
    concurrent_upload_code: str = "auth_token_limit"
    min_part_size: int = 5_000_000
    recommended_part_size: int = 100_000_000
    invalidate_upload_urls: bool = True  # an upload URL dies with its first 5xx / 408 / drop
    strict_names: bool = False
    request_timeout_s: float = 60.0
    faults: list[FaultRule] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        d["faults"] = [asdict(f) for f in self.faults]
        return d


# ---------------------------------------------------------------- statistics


def _scope() -> dict[str, Any]:
    return {
        "requests": 0,
        "transactions": {"A": 0, "B": 0, "C": 0},
        "calls": {},
        "errors": {},
        "status": {},
        "bytes_uploaded": 0,
        "bytes_downloaded": 0,
        "faults_injected": 0,
    }


class Stats:
    """Requests served, by op, transaction class, status and error code; overall and per bucket."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total = _scope()
        self.buckets: dict[str, dict[str, Any]] = {}

    def reset(self) -> None:
        with self.lock:
            self.total = _scope()
            self.buckets = {}

    def record(
        self,
        op: str,
        bucket: Optional[str],
        status: int,
        code: Optional[str],
        transactions: int,
        bytes_in: int,
        bytes_out: int,
        fault: bool,
    ) -> None:
        klass = "A" if op in CLASS_A else "B" if op in CLASS_B else "C" if op in CLASS_C else None
        with self.lock:
            scopes = [self.total]
            if bucket is not None:
                scopes.append(self.buckets.setdefault(bucket, _scope()))
            for s in scopes:
                s["requests"] += 1
                if klass is not None:
                    s["transactions"][klass] += transactions
                s["calls"][op] = s["calls"].get(op, 0) + 1
                key = str(status)
                s["status"][key] = s["status"].get(key, 0) + 1
                if status >= 400 or status == 0:
                    errs = s["errors"].setdefault(op, {})
                    label = f"{status} {code or 'dropped'}"
                    errs[label] = errs.get(label, 0) + 1
                s["bytes_uploaded"] += bytes_in
                s["bytes_downloaded"] += bytes_out
                if fault:
                    s["faults_injected"] += 1

    def add_downloaded(self, bucket: Optional[str], n: int) -> None:
        with self.lock:
            self.total["bytes_downloaded"] += n
            if bucket is not None:
                self.buckets.setdefault(bucket, _scope())["bytes_downloaded"] += n

    def snapshot(self, bucket: Optional[str] = None, reset: bool = False) -> dict[str, Any]:
        with self.lock:
            if bucket is not None:
                out = json.loads(json.dumps(self.buckets.get(bucket, _scope())))
                out["bucket"] = bucket
            else:
                out = json.loads(json.dumps(self.total))
                out["buckets"] = json.loads(json.dumps(self.buckets))
            if reset:
                self.total = _scope()
                self.buckets = {}
            return out


# ---------------------------------------------------------------- tokens


@dataclass
class Token:
    value: str
    kind: str  # "account", "upload" or "download"
    expires: float  # time.monotonic()
    target: Optional[str] = None  # upload: bucket id (file) or file id (part); download: bucket id
    url_id: Optional[str] = None  # upload: the URL it belongs to
    prefix: str = ""  # download: file name prefix
    in_use: bool = False  # upload: an upload is running on it
    dead: bool = False  # upload: the endpoint rejected an upload; get a new URL


class Tokens:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_value: dict[str, Token] = {}
        self.by_url: dict[str, Token] = {}
        self.next_prune = 0.0

    def issue(self, kind: str, lifetime_s: float, **kw: Any) -> Token:
        prefix = {"account": "4_", "upload": "2_", "download": "3_"}[kind]
        tok = Token(value=prefix + secrets.token_urlsafe(40).replace("-", "A").replace("_", "B"),
                    kind=kind, expires=time.monotonic() + lifetime_s, **kw)
        with self.lock:
            self.by_value[tok.value] = tok
            if tok.url_id is not None:
                self.by_url[tok.url_id] = tok
        return tok

    def get(self, value: str) -> Optional[Token]:
        with self.lock:
            return self.by_value.get(value)

    def for_url(self, url_id: str) -> Optional[Token]:
        with self.lock:
            return self.by_url.get(url_id)

    def expire_all(self) -> int:
        t = time.monotonic()
        with self.lock:
            for tok in self.by_value.values():
                tok.expires = min(tok.expires, t)
            return len(self.by_value)

    def claim(self, tok: Token) -> bool:
        with self.lock:
            if tok.in_use:
                return False
            tok.in_use = True
            return True

    def release(self, tok: Token) -> None:
        with self.lock:
            tok.in_use = False

    def prune(self) -> None:
        """Forgets tokens that expired over an hour ago (looks at most once a minute)."""
        t = time.monotonic()
        limit = t - 3600
        with self.lock:
            if t < self.next_prune:
                return
            self.next_prune = t + 60
            for value in [v for v, t in self.by_value.items() if t.expires < limit and not t.in_use]:
                tok = self.by_value.pop(value)
                if tok.url_id is not None:
                    self.by_url.pop(tok.url_id, None)


# ---------------------------------------------------------------- storage

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
  bucket_id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
  info TEXT NOT NULL, revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS files (
  seq INTEGER PRIMARY KEY, file_id TEXT NOT NULL UNIQUE, bucket_id TEXT NOT NULL,
  name TEXT NOT NULL, action TEXT NOT NULL, content_length INTEGER NOT NULL,
  content_sha1 TEXT, content_md5 TEXT, content_type TEXT, info TEXT NOT NULL,
  upload_ts INTEGER NOT NULL, large INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS files_by_name ON files(bucket_id, name, seq);
CREATE TABLE IF NOT EXISTS parts (
  file_id TEXT NOT NULL, part_number INTEGER NOT NULL, content_length INTEGER NOT NULL,
  content_sha1 TEXT NOT NULL, content_md5 TEXT NOT NULL, upload_ts INTEGER NOT NULL,
  PRIMARY KEY (file_id, part_number));
"""


class Store:
    """Buckets, file versions and parts: metadata in SQLite, bytes in files.

    DIR/files/<fileId>             a small file's bytes
    DIR/parts/<fileId>/<n>         part n of a large file (finished or not)
    DIR/tmp/                       uploads in progress
    Every metadata access holds `lock`; bodies are written outside it.
    """

    def __init__(self, data_dir: str, account_id: str) -> None:
        self.dir = os.path.abspath(data_dir)
        self.account_id = account_id
        for sub in ("files", "parts", "tmp"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        for leftover in os.listdir(os.path.join(self.dir, "tmp")):
            os.unlink(os.path.join(self.dir, "tmp", leftover))
        self.lock = threading.RLock()
        self.db = sqlite3.connect(os.path.join(self.dir, "meta.sqlite3"), check_same_thread=False,
                                  isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        row = self.db.execute("SELECT MAX(seq) FROM files").fetchone()
        self.next_seq = (row[0] or 0) + 1
        self.last_ts = 0

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- paths
    def file_path(self, file_id: str) -> str:
        return os.path.join(self.dir, "files", file_id)

    def part_dir(self, file_id: str) -> str:
        return os.path.join(self.dir, "parts", file_id)

    def tmp_path(self) -> str:
        return os.path.join(self.dir, "tmp", secrets.token_hex(12))

    # -- buckets
    def bucket_by_id(self, bucket_id: str) -> Optional[sqlite3.Row]:
        with self.lock:
            return self.db.execute("SELECT * FROM buckets WHERE bucket_id=?", (bucket_id,)).fetchone()

    def bucket_by_name(self, name: str) -> Optional[sqlite3.Row]:
        with self.lock:
            return self.db.execute("SELECT * FROM buckets WHERE name=?", (name,)).fetchone()

    def buckets(self) -> list[sqlite3.Row]:
        with self.lock:
            return self.db.execute("SELECT * FROM buckets ORDER BY name").fetchall()

    def create_bucket(self, name: str, bucket_type: str, info: dict[str, Any]) -> sqlite3.Row:
        with self.lock:
            if self.bucket_by_name(name) is not None:
                raise bad_request(f"Bucket name is already in use: {name}", "duplicate_bucket_name")
            bucket_id = secrets.token_hex(12)
            self.db.execute("INSERT INTO buckets VALUES (?,?,?,?,1)",
                            (bucket_id, name, bucket_type, json.dumps(info)))
            return self.bucket_by_id(bucket_id)  # type: ignore[return-value]

    def delete_bucket(self, bucket_id: str) -> None:
        with self.lock:
            if self.db.execute("SELECT 1 FROM files WHERE bucket_id=? LIMIT 1", (bucket_id,)).fetchone():
                raise bad_request("Cannot delete non-empty bucket", "cannot_delete_non_empty_bucket")
            self.db.execute("DELETE FROM buckets WHERE bucket_id=?", (bucket_id,))

    # -- file versions
    def new_file_id(self, bucket_id: str) -> tuple[str, int, int]:
        """(fileId, seq, uploadTimestamp); call with the lock held."""
        seq = self.next_seq
        self.next_seq += 1
        ts = max(now_ms(), self.last_ts)
        self.last_ts = ts
        t = time.gmtime(ts / 1000)
        file_id = (f"4_z{bucket_id}_f1{seq:015x}{secrets.token_hex(3)}_d{time.strftime('%Y%m%d', t)}"
                   f"_m{time.strftime('%H%M%S', t)}_c000_v0001000_t{random.randint(1, 9999):04d}")
        return file_id, seq, ts

    def insert_version(self, bucket_id: str, name: str, action: str, length: int, sha1: Optional[str],
                       md5: Optional[str], content_type: Optional[str], info: dict[str, str],
                       data_tmp: Optional[str] = None) -> sqlite3.Row:
        with self.lock:
            if self.bucket_by_id(bucket_id) is None:
                raise bad_request(f"Invalid bucketId: {bucket_id}", "bad_bucket_id")
            file_id, seq, ts = self.new_file_id(bucket_id)
            if data_tmp is not None:
                os.replace(data_tmp, self.file_path(file_id))
            self.db.execute(
                "INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,0)",
                (seq, file_id, bucket_id, name, action, length, sha1, md5, content_type,
                 json.dumps(info, ensure_ascii=False), ts),
            )
            return self.file_by_id(file_id)  # type: ignore[return-value]

    def file_by_id(self, file_id: str) -> Optional[sqlite3.Row]:
        with self.lock:
            return self.db.execute("SELECT * FROM files WHERE file_id=?", (file_id,)).fetchone()

    def versions_of(self, bucket_id: str, name: str) -> list[sqlite3.Row]:
        """Newest first."""
        with self.lock:
            return self.db.execute(
                "SELECT * FROM files WHERE bucket_id=? AND name=? ORDER BY seq DESC", (bucket_id, name)
            ).fetchall()

    def current_version(self, bucket_id: str, name: str) -> Optional[sqlite3.Row]:
        """The newest upload or hide marker of a name (unfinished large files do not count)."""
        for row in self.versions_of(bucket_id, name):
            if row["action"] != "start":
                return row
        return None

    def delete_version(self, row: sqlite3.Row) -> None:
        with self.lock:
            self.db.execute("DELETE FROM files WHERE file_id=?", (row["file_id"],))
            self.db.execute("DELETE FROM parts WHERE file_id=?", (row["file_id"],))
            self._remove_data(row["file_id"])

    def _remove_data(self, file_id: str) -> None:
        try:
            os.unlink(self.file_path(file_id))
        except FileNotFoundError:
            pass
        pdir = self.part_dir(file_id)
        if os.path.isdir(pdir):
            for entry in os.listdir(pdir):
                os.unlink(os.path.join(pdir, entry))
            os.rmdir(pdir)

    # -- large files
    def put_part(self, file_id: str, number: int, length: int, sha1: str, md5: str, tmp: str) -> int:
        with self.lock:
            row = self.file_by_id(file_id)
            if row is None or row["action"] != "start":
                raise bad_request(f"No active upload for: {file_id}")
            os.makedirs(self.part_dir(file_id), exist_ok=True)
            os.replace(tmp, os.path.join(self.part_dir(file_id), str(number)))
            ts = now_ms()
            self.db.execute("INSERT OR REPLACE INTO parts VALUES (?,?,?,?,?,?)",
                            (file_id, number, length, sha1, md5, ts))
            return ts

    def parts(self, file_id: str, start: int = 1, limit: int = -1) -> list[sqlite3.Row]:
        with self.lock:
            return self.db.execute(
                "SELECT * FROM parts WHERE file_id=? AND part_number>=? ORDER BY part_number LIMIT ?",
                (file_id, start, limit),
            ).fetchall()

    def finish_large(self, file_id: str, sha1s: list[str], min_part: int) -> sqlite3.Row:
        with self.lock:
            row = self.file_by_id(file_id)
            if row is None or row["action"] != "start":
                raise bad_request(f"No active upload for: {file_id}")
            parts = {p["part_number"]: p for p in self.parts(file_id)}
            for i, sha1 in enumerate(sha1s):
                n = i + 1
                if not isinstance(sha1, str):
                    raise bad_request("partSha1Array must hold strings")
                if n not in parts:
                    raise bad_request(f"Part number {n} has not been uploaded", "missing_part")
                if sha1.lower() != parts[n]["content_sha1"]:
                    raise bad_request(
                        f"Part number {n} has SHA1 {parts[n]['content_sha1']}, not {sha1}", "part_sha1_mismatch")
            extra = sorted(n for n in parts if n > len(sha1s))
            if extra:
                raise bad_request(
                    f"partSha1Array has {len(sha1s)} entries but part {extra[0]} was uploaded too",
                    "part_sha1_mismatch")
            for n in range(1, len(sha1s)):
                if parts[n]["content_length"] < min_part:
                    raise bad_request(
                        f"Part number {n} is {parts[n]['content_length']} bytes; every part but the last "
                        f"must be at least {min_part} bytes")
            if parts[len(sha1s)]["content_length"] < 1:
                raise bad_request("the last part must not be empty")
            total = sum(p["content_length"] for p in parts.values())
            self.db.execute(
                "UPDATE files SET action='upload', content_length=?, content_sha1='none', large=1 WHERE file_id=?",
                (total, file_id))
            return self.file_by_id(file_id)  # type: ignore[return-value]

    def unfinished(self, bucket_id: str, prefix: str, start_seq: int, limit: int) -> list[sqlite3.Row]:
        with self.lock:
            rows = self.db.execute(
                "SELECT * FROM files WHERE bucket_id=? AND action='start' AND seq>=? ORDER BY seq",
                (bucket_id, start_seq)).fetchall()
        return [r for r in rows if r["name"].startswith(prefix)][:limit]

    # -- reading bytes
    def read_range(self, row: sqlite3.Row, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end (inclusive) of a file version, in chunks."""
        if row["large"]:
            offset = 0
            for part in self.parts(row["file_id"]):
                p_start, p_end = offset, offset + part["content_length"] - 1
                offset += part["content_length"]
                if p_end < start or p_start > end:
                    continue
                path = os.path.join(self.part_dir(row["file_id"]), str(part["part_number"]))
                yield from _read_file(path, max(start, p_start) - p_start, min(end, p_end) - p_start)
        else:
            yield from _read_file(self.file_path(row["file_id"]), start, end)

    # -- listing
    def _rows_from(self, bucket_id: str, from_name: str, batch: int = 500) -> Iterator[sqlite3.Row]:
        """Versions with name >= from_name, by name then newest first, fetched in batches."""
        with self.lock:
            rows = self.db.execute(
                "SELECT * FROM files WHERE bucket_id=? AND name>=? ORDER BY name, seq DESC LIMIT ?",
                (bucket_id, from_name, batch)).fetchall()
        while rows:
            yield from rows
            if len(rows) < batch:
                return
            last = rows[-1]
            with self.lock:
                rows = self.db.execute(
                    "SELECT * FROM files WHERE bucket_id=? AND (name>? OR (name=? AND seq<?))"
                    " ORDER BY name, seq DESC LIMIT ?",
                    (bucket_id, last["name"], last["name"], last["seq"], batch)).fetchall()

    def _folder_visible(self, bucket_id: str, folder: str, versions: bool) -> bool:
        seen: set[str] = set()
        for row in self._rows_from(bucket_id, folder):
            name = row["name"]
            if not name.startswith(folder):
                return False
            if versions:
                return True
            if name in seen or row["action"] == "start":
                continue
            seen.add(name)
            if row["action"] == "upload":
                return True
        return False

    def list_files(self, bucket_id: str, start_name: str, start_seq: Optional[int], prefix: str,
                   delimiter: Optional[str], limit: int, versions: bool
                   ) -> tuple[list[Any], Optional[str], Optional[str]]:
        """Entries (rows, or str for folders), nextFileName, nextFileId."""
        out: list[Any] = []
        pos = max(start_name, prefix)
        seq_floor = start_seq if pos == start_name else None
        while True:
            restart: Optional[str] = None
            done_name: Optional[str] = None
            for row in self._rows_from(bucket_id, pos):
                name = row["name"]
                if not name.startswith(prefix):
                    return out, None, None
                if seq_floor is not None and name == start_name and row["seq"] > seq_floor:
                    continue
                if delimiter:
                    i = name.find(delimiter, len(prefix))
                    if i >= 0:
                        folder = name[: i + len(delimiter)]
                        restart = folder[:-1] + chr(ord(folder[-1]) + 1)
                        if self._folder_visible(bucket_id, folder, versions):
                            if len(out) == limit:
                                return out, folder, None
                            out.append(folder)
                        break
                if versions:
                    if len(out) == limit:
                        return out, name, row["file_id"]
                    out.append(row)
                    continue
                if name == done_name or row["action"] == "start":
                    continue
                done_name = name
                if row["action"] == "hide":
                    continue
                if len(out) == limit:
                    return out, name, None
                out.append(row)
            if restart is None:
                return out, None, None
            pos, seq_floor = restart, None


def _read_file(path: str, start: int, end: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        f.seek(start)
        left = end - start + 1
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


# ---------------------------------------------------------------- JSON shapes


def bucket_json(b: sqlite3.Row, account_id: str) -> dict[str, Any]:
    return {
        "accountId": account_id,
        "bucketId": b["bucket_id"],
        "bucketName": b["name"],
        "bucketType": b["type"],
        "bucketInfo": json.loads(b["info"]),
        "corsRules": [],
        "defaultServerSideEncryption": {"isClientAuthorizedToRead": True, "value": {"mode": None}},
        "fileLockConfiguration": {"isClientAuthorizedToRead": True,
                                  "value": {"defaultRetention": {"mode": None, "period": None},
                                            "isFileLockEnabled": False}},
        "lifecycleRules": [],
        "options": ["s3"],
        "replicationConfiguration": {"isClientAuthorizedToRead": True, "value": None},
        "revision": b["revision"],
    }


def file_json(row: sqlite3.Row, account_id: str, version: int) -> dict[str, Any]:
    d: dict[str, Any] = {
        "accountId": account_id,
        "action": row["action"],
        "bucketId": row["bucket_id"],
        "contentLength": row["content_length"],
        "contentMd5": row["content_md5"],
        "contentSha1": row["content_sha1"],
        "contentType": row["content_type"],
        "fileId": row["file_id"],
        "fileInfo": json.loads(row["info"]),
        "fileName": row["name"],
        "fileRetention": {"isClientAuthorizedToRead": True, "value": {"mode": None, "retainUntilTimestamp": None}},
        "legalHold": {"isClientAuthorizedToRead": True, "value": None},
        "replicationStatus": None,
        "serverSideEncryption": {"mode": None},
        "uploadTimestamp": row["upload_ts"],
    }
    if version == 1:
        d["size"] = row["content_length"]
    return d


def folder_json(name: str, version: int) -> dict[str, Any]:
    d: dict[str, Any] = {
        "action": "folder", "fileId": None, "fileName": name, "contentLength": 0, "contentSha1": None,
        "contentMd5": None, "contentType": None, "fileInfo": {}, "uploadTimestamp": 0,
    }  # fmt: skip
    if version == 1:
        d["size"] = 0
    return d


# ---------------------------------------------------------------- the server state


class State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.key_id: str = args.key_id
        self.key: str = args.key
        self.account_id = hashlib.sha1(args.key_id.encode()).hexdigest()[:12]
        self.settings = Settings(
            token_lifetime_s=args.token_lifetime,
            upload_fail_rate=args.upload_fail_rate,
            latency_ms=args.latency_ms,
            test_mode_rate=args.test_mode_rate,
            concurrent_upload_code=args.concurrent_upload_code,
            min_part_size=args.min_part_size,
            recommended_part_size=args.recommended_part_size,
            invalidate_upload_urls=not args.keep_upload_urls,
            strict_names=args.strict_names,
            request_timeout_s=args.request_timeout,
        )
        self.settings_lock = threading.Lock()
        self.rng = random.Random(args.seed)
        self.store = Store(args.data_dir, self.account_id)
        self.tokens = Tokens()
        self.stats = Stats()
        self.base_url = ""  # set once bound
        self.verbose: bool = args.verbose
        self.log_file = open(args.log_file, "a", buffering=1) if args.log_file else sys.stderr
        self.log_lock = threading.Lock()
        self.in_flight = 0
        self.idle = threading.Condition()
        for spec in args.bucket:
            name, _, btype = spec.partition(":")
            btype = btype or "allPrivate"
            if self.store.bucket_by_name(name) is None:
                self.store.create_bucket(name, btype, {})

    def log(self, text: str) -> None:
        with self.log_lock:
            print(f"[b2server {time.strftime('%H:%M:%S')}] {text}", file=self.log_file, flush=True)

    def chance(self, rate: float) -> bool:
        with self.settings_lock:
            return rate > 0 and self.rng.random() < rate

    def take_fault(self, op: str, bucket: Optional[str]) -> Optional[FaultRule]:
        with self.settings_lock:
            for rule in self.settings.faults:
                if rule.count > 0 and rule.matches(op, bucket):
                    rule.count -= 1
                    if rule.count == 0:
                        self.settings.faults.remove(rule)
                    return rule
        return None

    def configure(self, cfg: dict[str, Any]) -> dict[str, Any]:
        s = self.settings
        with self.settings_lock:
            for key in ("upload_fail_rate", "test_mode_rate"):
                if key in cfg:
                    v = float(cfg[key])
                    if not 0 <= v <= 1:
                        raise bad_request(f"{key} must be between 0 and 1")
                    setattr(s, key, v)
            for key in ("latency_ms", "min_part_size", "recommended_part_size"):
                if key in cfg:
                    setattr(s, key, int(cfg[key]))
            for key in ("token_lifetime_s", "request_timeout_s"):
                if key in cfg:
                    v = float(cfg[key])
                    if v <= 0:
                        raise bad_request(f"{key} must be positive")
                    setattr(s, key, v)
            for key in ("cap_exceeded", "invalidate_upload_urls", "strict_names"):
                if key in cfg:
                    setattr(s, key, bool(cfg[key]))
            if "concurrent_upload_code" in cfg:
                s.concurrent_upload_code = str(cfg["concurrent_upload_code"])
            if "seed" in cfg:
                self.rng.seed(cfg["seed"])
            if cfg.get("clear_faults"):
                s.faults.clear()
            for rule in cfg.get("fail_next", []) or []:
                try:
                    s.faults.append(FaultRule(**rule))
                except TypeError as e:
                    raise bad_request(f"bad fail_next rule {rule!r}: {e}") from None
        if cfg.get("expire_tokens_now"):
            self.tokens.expire_all()
        if cfg.get("reset_stats"):
            self.stats.reset()
        return s.public()


class B2HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: State) -> None:
        self.state = state
        super().__init__(address, Handler)


# ---------------------------------------------------------------- request handling


@dataclass
class Req:
    """What one request did, for the statistics and the log."""

    op: str = "unknown"
    bucket: Optional[str] = None  # bucket name
    status: int = 0
    code: Optional[str] = None
    transactions: int = 1
    bytes_in: int = 0
    bytes_out: int = 0
    fault: bool = False
    body_done: bool = False  # the request body was read (or there is none)
    recorded: bool = False  # counted in the statistics


class Handler(http.server.BaseHTTPRequestHandler):
    server: B2HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "b2server/1.0"
    sys_version = ""
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's
    # algorithm and the client's delayed ACK add ~40 ms to every reply.
    disable_nagle_algorithm = True

    # -- plumbing
    @property
    def st(self) -> State:
        return self.server.state

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.st.settings.request_timeout_s)
        self.req = Req()
        self.expect_pending = False

    def parse_request(self) -> bool:
        self.req = Req()
        self.expect_pending = False
        return super().parse_request()

    def handle_expect_100(self) -> bool:
        # Sent only when the body is actually read, so an early error reaches a
        # client that waits for "100 Continue" before it sends the body.
        self.expect_pending = True
        return True

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass

    def log_message(self, format: str, *args: Any) -> None:
        if self.st.verbose:
            self.st.log(f"{self.address_string()} {format % args}")

    def send_response(self, code: int, message: Optional[str] = None) -> None:
        self.req.status = code
        # Counted before the reply leaves: a client that has its reply sees it in /__test/stats.
        self._record()
        super().send_response(code, message)

    def _record(self) -> None:
        r = self.req
        if r.recorded or r.op == "test":
            return
        r.recorded = True
        self.st.stats.record(r.op, r.bucket, r.status, r.code, r.transactions, r.bytes_in, 0, r.fault)

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        # Malformed requests (bad request line, ...): still a B2 error document.
        self.close_connection = True
        self.req.body_done = True
        try:
            self._send_json(code, {"status": code, "code": "bad_request" if code < 500 else "internal_error",
                                   "message": message or ""}, close=True)
        except OSError:
            pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _send_json(self, status: int, obj: Any, headers: Optional[dict[str, str]] = None,
                   close: bool = False) -> None:
        body = (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=0, no-cache, no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _content_length(self) -> Optional[int]:
        raw = self.headers.get("Content-Length")
        if raw is None:
            return None
        if not raw.strip().isdigit():
            raise B2Error(400, "bad_request", f"invalid Content-Length: {raw!r}", close=True)
        return int(raw)

    def _send_continue(self) -> None:
        if self.expect_pending:
            self.expect_pending = False
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()

    def _read_small_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.req.body_done = True
            raise B2Error(400, "bad_request", "chunked transfer encoding is not supported", close=True)
        length = self._content_length() or 0
        if length > DRAIN_LIMIT:
            raise B2Error(400, "bad_request", "request body too large", close=True)
        self._send_continue()
        data = b""
        while len(data) < length:
            chunk = self.rfile.read(length - len(data))
            if not chunk:
                self.req.body_done = True
                raise B2Error(400, "bad_request",
                              f"Content-Length is {length} but the body ended after {len(data)} bytes", close=True)
            data += chunk
        self.req.body_done = True
        return data

    def _finish_body_after_error(self) -> bool:
        """Makes the connection usable after an early error reply; False to close it."""
        if self.req.body_done:
            return True
        if self.expect_pending:
            return False  # the client has not sent the body and will not
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return False
        try:
            length = self._content_length() or 0
        except B2Error:
            return False
        if length > DRAIN_LIMIT:
            return False
        try:
            while length > 0:
                chunk = self.rfile.read(min(CHUNK, length))
                if not chunk:
                    return False
                length -= len(chunk)
        except OSError:
            return False
        self.req.body_done = True
        return True

    def _send_b2_error(self, e: B2Error) -> None:
        self.req.code = e.code
        close = e.close or not self._finish_body_after_error()
        self._send_json(e.status, {"status": e.status, "code": e.code, "message": e.message}, e.headers, close)

    # -- dispatch
    def _dispatch(self) -> None:
        st = self.st
        path, _, query = self.path.partition("?")
        if path.startswith("/__test/"):
            self.req.op = "test"
            self._test_endpoint(path, query)
            return
        with st.idle:
            st.in_flight += 1
        t0 = time.monotonic()
        try:
            latency = st.settings.latency_ms
            if latency > 0:
                time.sleep(latency / 1000)
            self._route(path, query)
        except B2Error as e:
            self._fail(e)
        except DropConnection:
            self.close_connection = True
            self.req.status = 0
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except (ConnectionError, TimeoutError, BrokenPipeError):
            self.close_connection = True
        except Exception:  # a bug here: report it as B2 would
            st.log(f"internal error on {self.command} {self.path}:\n{traceback.format_exc()}")
            self._fail(B2Error(500, "internal_error", "internal error in b2server", close=True))
        finally:
            r = self.req
            self._record()  # when there was no reply
            if st.verbose or r.status >= 400 or r.status == 0:
                st.log(f"{self.command} {self.path[:200]} -> {r.status or 'dropped'} {r.code or ''} "
                       f"({(time.monotonic() - t0) * 1000:.0f} ms)")
            with st.idle:
                st.in_flight -= 1
                st.idle.notify_all()
            st.tokens.prune()

    def _fail(self, e: B2Error) -> None:
        """Sends the error reply -- unless a reply was already under way: then only hang up."""
        if self.req.status:
            self.close_connection = True
            return
        try:
            self._send_b2_error(e)
        except OSError:
            self.close_connection = True

    def _route(self, path: str, query: str) -> None:
        if path.startswith("/file/"):
            self.req.op = "b2_download_file_by_name"
            if self.command not in ("GET", "HEAD"):
                raise B2Error(405, "method_not_allowed", f"{self.command} is not allowed on /file/")
            self._download_by_name(path[len("/file/"):], query)
            return
        m = re.match(r"^/b2api/v(\d+)/(b2_[a-z_]+)(/.*)?$", path)
        if not m:
            raise B2Error(404, "not_found", f"no such endpoint: {path}")
        version, op, rest = int(m.group(1)), m.group(2), m.group(3)
        self.version = version
        self.req.op = op
        if version not in API_VERSIONS:
            raise B2Error(404, "not_found", f"API version v{version} is not supported (v1..v4 are)")
        if op in UPLOAD_OPS:
            if self.command != "POST":
                raise B2Error(405, "method_not_allowed", f"{op} needs POST")
            parts = (rest or "").strip("/").split("/")
            if len(parts) != 2:
                raise B2Error(404, "not_found", f"{op}: not an upload URL handed out by this server")
            if op == "b2_upload_file":
                self._upload_file(parts[0], parts[1])
            else:
                self._upload_part(parts[0], parts[1])
            return
        if rest:
            raise B2Error(404, "not_found", f"no such endpoint: {path}")
        handler = getattr(self, "op_" + op[3:], None)
        if handler is None:
            raise B2Error(404, "not_found", f"unknown API call {op}")
        if self.command == "HEAD" and op == "b2_download_file_by_id":
            pass
        elif self.command == "GET":
            if op not in READ_ONLY_OPS:
                raise B2Error(405, "method_not_allowed", f"{op} must be a POST")
        elif self.command != "POST":
            raise B2Error(405, "method_not_allowed", f"{self.command} is not allowed for {op}")
        params = self._params(query)
        if op != "b2_authorize_account":
            self._check_test_mode_cap()
        self._guess_bucket(params)
        self._injected_fault()
        handler(params)

    def _guess_bucket(self, params: dict[str, Any]) -> None:
        """Notes the bucket a call is about (for statistics and fault rules), if it says."""
        bucket_id, file_id = params.get("bucketId"), params.get("fileId")
        if isinstance(bucket_id, str):
            b = self.st.store.bucket_by_id(bucket_id)
            if b is not None:
                self.req.bucket = b["name"]
        elif isinstance(file_id, str):
            self._note_bucket_of(file_id)

    def _params(self, query: str) -> dict[str, Any]:
        params: dict[str, Any] = parse_query(query) if query else {}
        body = self._read_small_body() if self.command == "POST" else b""
        if body.strip():
            try:
                obj = json.loads(body)
            except (ValueError, UnicodeDecodeError) as e:
                raise bad_request(f"request body is not valid JSON: {e}", "bad_json") from None
            if not isinstance(obj, dict):
                raise bad_request("request body must be a JSON object", "bad_json")
            params.update(obj)
        return params

    def _check_test_mode_cap(self) -> None:
        if self.headers.get("X-Bz-Test-Mode", "").strip() == "force_cap_exceeded":
            self.req.fault = True
            raise B2Error(403, "cap_exceeded", "Cap exceeded (X-Bz-Test-Mode: force_cap_exceeded)")

    # -- parameters
    @staticmethod
    def _str(params: dict[str, Any], name: str, required: bool = True) -> Optional[str]:
        v = params.get(name)
        if v is None:
            if required:
                raise bad_request(f"required field {name} is missing")
            return None
        if not isinstance(v, str):
            raise bad_request(f"{name} must be a string")
        return v

    @staticmethod
    def _count(params: dict[str, Any], name: str, default: int, maximum: int, zero_is_default: bool = True) -> int:
        v = params.get(name)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise bad_request(f"{name} must be an integer")
        try:
            n = int(v)
        except ValueError:
            raise bad_request(f"{name} must be an integer") from None
        if n == 0 and zero_is_default:
            return default
        if n < 1 or n > maximum:
            raise bad_request(f"{name} must be between 1 and {maximum}, got {n}", "out_of_range")
        return n

    # -- auth
    def _token_value(self, query_token: Optional[str] = None) -> str:
        raw = self.headers.get("Authorization")
        if raw is None:
            raw = query_token
        if raw is None or not raw.strip():
            raise B2Error(401, "missing_auth_token", "Authorization header is missing")
        return raw.strip()

    def _account_auth(self, query_token: Optional[str] = None) -> Token:
        tok = self.st.tokens.get(self._token_value(query_token))
        if tok is None or tok.kind == "download":
            raise B2Error(401, "bad_auth_token", "Invalid authorization token")
        if tok.kind != "account":
            raise B2Error(401, "bad_auth_token",
                          "Invalid authorization token: an upload token is only good for its upload URL")
        if tok.expires <= time.monotonic():
            raise B2Error(401, "expired_auth_token", "Authorization token has expired")
        mode = self.headers.get("X-Bz-Test-Mode", "").strip()
        if mode == "expire_some_account_authorization_tokens" and self.st.chance(self.st.settings.test_mode_rate):
            tok.expires = time.monotonic()
            self.req.fault = True
            raise B2Error(401, "expired_auth_token", "Authorization token has expired")
        return tok

    def _bucket(self, bucket_id: Any) -> sqlite3.Row:
        if not isinstance(bucket_id, str):
            raise bad_request("bucketId must be a string")
        b = self.st.store.bucket_by_id(bucket_id)
        if b is None:
            raise bad_request(f"Invalid bucketId: {bucket_id}", "bad_bucket_id")
        self.req.bucket = b["name"]
        return b

    def _note_bucket_of(self, file_id: str) -> None:
        m = FILE_ID.match(file_id)
        if m:
            b = self.st.store.bucket_by_id(m.group(1))
            if b is not None:
                self.req.bucket = b["name"]

    def _file_id(self, params: dict[str, Any], name: str = "fileId") -> str:
        file_id = self._str(params, name)
        assert file_id is not None
        if not FILE_ID.match(file_id):
            raise bad_request(f"Invalid {name}: {file_id}")
        self._note_bucket_of(file_id)
        return file_id

    def _unfinished(self, file_id: str) -> sqlite3.Row:
        row = self.st.store.file_by_id(file_id)
        if row is None or row["action"] != "start":
            raise bad_request(f"No active upload for: {file_id}")
        return row

    # -- account and buckets
    def op_authorize_account(self, params: dict[str, Any]) -> None:
        raw = self.headers.get("Authorization", "")
        scheme, _, cred = raw.strip().partition(" ")
        key_id = key = None
        if scheme.lower() == "basic":
            try:
                key_id, sep, key = base64.b64decode(cred.strip(), validate=True).decode("utf-8").partition(":")
                if not sep:
                    key_id = key = None
            except (binascii.Error, UnicodeDecodeError):
                pass
        if key_id != self.st.key_id or key != self.st.key:
            raise B2Error(401, "unauthorized", "")
        tok = self.st.tokens.issue("account", self.st.settings.token_lifetime_s)
        s = self.st.settings
        base = self.st.base_url
        allowed: dict[str, Any] = {"bucketId": None, "bucketName": None, "capabilities": CAPABILITIES,
                                   "namePrefix": None}
        storage: dict[str, Any] = {
            "absoluteMinimumPartSize": s.min_part_size,
            "apiUrl": base,
            "downloadUrl": base,
            "recommendedPartSize": s.recommended_part_size,
            "s3ApiUrl": "https://s3.local-b2server.invalid",
        }
        if self.version <= 2:
            reply: dict[str, Any] = {"accountId": self.st.account_id, "authorizationToken": tok.value,
                                     "allowed": allowed, **storage}
            if self.version == 1:
                reply["minimumPartSize"] = s.recommended_part_size
        else:
            if self.version == 4:
                allowed = {"buckets": None, "capabilities": CAPABILITIES, "namePrefix": None}
            reply = {
                "accountId": self.st.account_id,
                "authorizationToken": tok.value,
                "apiInfo": {
                    "storageApi": {"infoType": "storageApi", "allowed": allowed, **storage},
                    "groupsApi": {"infoType": "groupsApi", "capabilities": [], "groupsApiUrl": base},
                },
                "applicationKeyExpirationTimestamp": None,
            }
        self._send_json(200, reply)

    def _check_account_id(self, params: dict[str, Any]) -> None:
        account_id = self._str(params, "accountId")
        if account_id != self.st.account_id:
            raise bad_request(f"accountId {account_id} does not match the authorized account")

    def op_list_buckets(self, params: dict[str, Any]) -> None:
        self._account_auth()
        self._check_account_id(params)
        bucket_id = self._str(params, "bucketId", required=False)
        bucket_name = self._str(params, "bucketName", required=False)
        types = params.get("bucketTypes")
        if isinstance(types, str):  # GET: a JSON list or a comma-separated string
            types = json.loads(types) if types.startswith("[") else types.split(",")
        if types is None:
            types = ["allPublic", "allPrivate", "snapshot"]
        out = []
        for b in self.st.store.buckets():
            if bucket_id is not None and b["bucket_id"] != bucket_id:
                continue
            if bucket_name is not None and b["name"] != bucket_name:
                continue
            if "all" not in types and b["type"] not in types:
                continue
            out.append(bucket_json(b, self.st.account_id))
        self._send_json(200, {"buckets": out})

    def op_create_bucket(self, params: dict[str, Any]) -> None:
        self._account_auth()
        self._check_account_id(params)
        name = self._str(params, "bucketName")
        btype = self._str(params, "bucketType")
        assert name is not None
        if not BUCKET_NAME.match(name) or name.lower().startswith("b2-"):
            raise bad_request(f"Invalid bucket name: {name} (6-63 letters, digits and '-'; not 'b2-...')")
        if btype not in ("allPublic", "allPrivate"):
            raise bad_request(f"bucketType must be allPublic or allPrivate, got {btype}")
        info = params.get("bucketInfo") or {}
        if not isinstance(info, dict):
            raise bad_request("bucketInfo must be an object")
        b = self.st.store.create_bucket(name, btype, info)
        self.req.bucket = name
        self._send_json(200, bucket_json(b, self.st.account_id))

    def op_delete_bucket(self, params: dict[str, Any]) -> None:
        self._account_auth()
        self._check_account_id(params)
        b = self._bucket(self._str(params, "bucketId"))
        self.st.store.delete_bucket(b["bucket_id"])
        self._send_json(200, bucket_json(b, self.st.account_id))

    # -- upload URLs
    def op_get_upload_url(self, params: dict[str, Any]) -> None:
        self._account_auth()
        b = self._bucket(self._str(params, "bucketId"))
        url_id = f"c000_v0001000_t{secrets.token_hex(8)}"
        tok = self.st.tokens.issue("upload", self.st.settings.token_lifetime_s, target=b["bucket_id"],
                                   url_id=url_id)
        self._send_json(200, {
            "bucketId": b["bucket_id"],
            "uploadUrl": f"{self.st.base_url}/b2api/v{self.version}/b2_upload_file/{b['bucket_id']}/{url_id}",
            "authorizationToken": tok.value,
        })

    def op_get_upload_part_url(self, params: dict[str, Any]) -> None:
        self._account_auth()
        file_id = self._file_id(params)
        self._unfinished(file_id)
        url_id = f"p{secrets.token_hex(8)}"
        tok = self.st.tokens.issue("upload", self.st.settings.token_lifetime_s, target=file_id, url_id=url_id)
        self._send_json(200, {
            "fileId": file_id,
            "uploadUrl": f"{self.st.base_url}/b2api/v{self.version}/b2_upload_part/{file_id}/{url_id}",
            "authorizationToken": tok.value,
        })

    # -- uploads
    def _upload_auth(self, target: str, url_id: str) -> Token:
        value = self._token_value()
        tok = self.st.tokens.get(value)
        url_tok = self.st.tokens.for_url(url_id)
        if url_tok is None or url_tok.target != target:
            raise B2Error(401, "bad_auth_token", "this upload URL was not handed out by this server")
        if tok is None:
            raise B2Error(401, "bad_auth_token", "Invalid authorization token")
        if tok is not url_tok:
            raise B2Error(401, "bad_auth_token",
                          "Invalid authorization token: use the token handed out with this upload URL"
                          if tok.kind == "upload" else
                          "Invalid authorization token: uploads need the upload URL's own token")
        if tok.expires <= time.monotonic():
            raise B2Error(401, "expired_auth_token", "Authorization token has expired")
        if tok.dead:
            raise B2Error(401, "bad_auth_token",
                          "this upload URL rejected an earlier upload and is no longer valid; get a new one")
        return tok

    def _upload_faults(self, tok: Token) -> None:
        """Injected failures of an upload, before its body is read."""
        st = self.st
        mode = self.headers.get("X-Bz-Test-Mode", "").strip()
        if mode == "force_cap_exceeded" or st.settings.cap_exceeded:
            self.req.fault = True
            raise B2Error(403, "cap_exceeded", "Cap exceeded")
        self._injected_fault(tok)
        if (mode == "fail_some_uploads" and st.chance(st.settings.test_mode_rate)) or st.chance(
                st.settings.upload_fail_rate):
            self.req.fault = True
            self._kill_url(tok, True)
            raise B2Error(503, "service_unavailable", "c000_v0001000 is too busy")

    def _injected_fault(self, tok: Optional[Token] = None) -> None:
        """Applies the first matching fail_next rule, if any."""
        rule = self.st.take_fault(self.req.op, self.req.bucket)
        if rule is None:
            return
        self.req.fault = True
        if rule.delay_ms:
            time.sleep(rule.delay_ms / 1000)
        if tok is not None:
            self._kill_url(tok, rule.drop or rule.status >= 500 or rule.status == 408)
        if rule.drop:
            raise DropConnection()
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else None
        raise B2Error(rule.status, rule.code, rule.message, headers)

    def _kill_url(self, tok: Token, kill: bool) -> None:
        if kill and self.st.settings.invalidate_upload_urls:
            tok.dead = True

    def _sha1_mode(self) -> str:
        raw = self.headers.get("X-Bz-Content-Sha1")
        if raw is None:
            raise bad_request("X-Bz-Content-Sha1 header is missing")
        raw = raw.strip()
        if HEX40.match(raw):
            return raw.lower()
        if raw in ("hex_digits_at_end", "do_not_verify"):
            return raw
        raise bad_request(f"X-Bz-Content-Sha1 must be 40 hex digits, hex_digits_at_end or do_not_verify, got {raw!r}")

    def _upload_length(self, maximum: int, sha1_mode: str) -> int:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise B2Error(400, "bad_request", "chunked transfer encoding is not supported; send Content-Length",
                          close=True)
        length = self._content_length()
        if length is None:
            raise B2Error(400, "bad_request", "Content-Length header is required", close=True)
        data = length - 40 if sha1_mode == "hex_digits_at_end" else length
        if data < 0:
            raise bad_request("with hex_digits_at_end, Content-Length must include the 40 hex digits")
        if data > maximum:
            raise B2Error(400, "bad_request", f"content is {data} bytes; at most {maximum} are allowed", close=True)
        return length

    def _receive(self, length: int, sha1_mode: str, tok: Token) -> tuple[str, str, str, int]:
        """Reads the body to a temporary file.  (tmp path, stored sha1, md5, data length)."""
        data_len = length - 40 if sha1_mode == "hex_digits_at_end" else length
        tmp = self.st.store.tmp_path()
        sha1, md5 = hashlib.sha1(), hashlib.md5()
        trailer = b""
        got = 0
        try:
            self._send_continue()
            with open(tmp, "wb") as f:
                while got < length:
                    try:
                        chunk = self.rfile.read1(min(CHUNK, length - got))
                    except TimeoutError:
                        self.req.body_done = True
                        self._kill_url(tok, True)
                        raise B2Error(408, "request_timeout",
                                      f"no data for {self.st.settings.request_timeout_s:g} s after {got} of "
                                      f"{length} bytes", close=True) from None
                    if not chunk:
                        self.req.body_done = True
                        raise B2Error(400, "bad_request",
                                      f"Content-Length is {length} but the body ended after {got} bytes",
                                      close=True)
                    take = max(0, min(len(chunk), data_len - got))
                    if take:
                        f.write(chunk[:take])
                        sha1.update(chunk[:take])
                        md5.update(chunk[:take])
                    trailer += chunk[take:]
                    got += len(chunk)
                    self.req.bytes_in += len(chunk)
            self.req.body_done = True
            actual = sha1.hexdigest()
            if sha1_mode == "do_not_verify":
                stored = "unverified:" + actual
            else:
                expected = sha1_mode
                if sha1_mode == "hex_digits_at_end":
                    expected = trailer.decode("latin-1")
                    if not HEX40.match(expected):
                        raise bad_request("the 40 characters after the content are not a hex SHA1")
                if expected.lower() != actual:
                    raise bad_request(f"Sha1 did not match data received (got {actual}, expected {expected.lower()})")
                stored = actual
            return tmp, stored, md5.hexdigest(), data_len
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def _upload_file(self, bucket_id: str, url_id: str) -> None:
        st = self.st
        b = st.store.bucket_by_id(bucket_id) if BUCKET_ID.match(bucket_id) else None
        if b is not None:
            self.req.bucket = b["name"]
        tok = self._upload_auth(bucket_id, url_id)
        if not st.tokens.claim(tok):
            raise bad_request(f"more than one upload using auth token {tok.value}",
                              st.settings.concurrent_upload_code)
        try:
            self._upload_faults(tok)
            if b is None:
                raise bad_request(f"Invalid bucketId: {bucket_id}", "bad_bucket_id")
            sha1_mode = self._sha1_mode()
            length = self._upload_length(MAX_FILE_BYTES, sha1_mode)
            name = validate_file_name(b2_decode(self._header("X-Bz-File-Name"), "X-Bz-File-Name"),
                                      st.settings.strict_names)
            content_type = self._header("Content-Type").strip()
            if not content_type:
                raise bad_request("Content-Type header is empty")
            if content_type == "b2/x-auto":
                content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            info = self._info_headers()
            validate_file_info(info, name)
            tmp, sha1, md5, data_len = self._receive(length, sha1_mode, tok)
            row = st.store.insert_version(bucket_id, name, "upload", data_len, sha1, md5, content_type, info, tmp)
        finally:
            # Before the reply: a client may use the URL again the moment it has it.
            st.tokens.release(tok)
        self._send_json(200, file_json(row, st.account_id, self.version))

    def _upload_part(self, file_id: str, url_id: str) -> None:
        st = self.st
        if FILE_ID.match(file_id):
            self._note_bucket_of(file_id)
        tok = self._upload_auth(file_id, url_id)
        if not st.tokens.claim(tok):
            raise bad_request(f"more than one upload using auth token {tok.value}",
                              st.settings.concurrent_upload_code)
        try:
            self._upload_faults(tok)
            raw_number = self._header("X-Bz-Part-Number").strip()
            if not raw_number.isdigit() or not 1 <= int(raw_number) <= MAX_PART_NUMBER:
                raise bad_request(f"X-Bz-Part-Number must be 1..{MAX_PART_NUMBER}, got {raw_number!r}")
            number = int(raw_number)
            sha1_mode = self._sha1_mode()
            length = self._upload_length(MAX_PART_BYTES, sha1_mode)
            self._unfinished(file_id)
            tmp, sha1, md5, data_len = self._receive(length, sha1_mode, tok)
            sha1 = sha1.removeprefix("unverified:")
            ts = st.store.put_part(file_id, number, data_len, sha1, md5, tmp)
        finally:
            st.tokens.release(tok)
        self._send_json(200, {"fileId": file_id, "partNumber": number, "contentLength": data_len,
                              "contentSha1": sha1, "contentMd5": md5, "serverSideEncryption": {"mode": None},
                              "uploadTimestamp": ts})

    def _header(self, name: str) -> str:
        v = self.headers.get(name)
        if v is None:
            raise bad_request(f"{name} header is missing")
        return v

    def _info_headers(self) -> dict[str, str]:
        for forbidden in FORBIDDEN_UPLOAD_HEADERS:
            if forbidden in self.headers:
                raise bad_request(f"the {forbidden} header is not allowed on uploads; "
                                  f"use X-Bz-Info-b2-{forbidden.lower()}")
        info: dict[str, str] = {}
        for key, value in self.headers.items():
            if key.lower().startswith("x-bz-info-"):
                name = key[len("x-bz-info-"):].lower()
                info[name] = b2_decode(value, key)
        return info

    # -- large files
    def op_start_large_file(self, params: dict[str, Any]) -> None:
        self._account_auth()
        b = self._bucket(self._str(params, "bucketId"))
        if self.st.settings.cap_exceeded:
            self.req.fault = True
            raise B2Error(403, "cap_exceeded", "Cap exceeded")
        name = validate_file_name(params.get("fileName"), self.st.settings.strict_names)
        content_type = self._str(params, "contentType")
        assert content_type is not None
        if content_type == "b2/x-auto":
            content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        info = params.get("fileInfo") or {}
        if not isinstance(info, dict):
            raise bad_request("fileInfo must be an object")
        validate_file_info(info, name)
        row = self.st.store.insert_version(b["bucket_id"], name, "start", 0, "none", None, content_type, info)
        self._send_json(200, file_json(row, self.st.account_id, self.version))

    def op_finish_large_file(self, params: dict[str, Any]) -> None:
        self._account_auth()
        file_id = self._file_id(params)
        sha1s = params.get("partSha1Array")
        if not isinstance(sha1s, list) or not sha1s:
            raise bad_request("partSha1Array must be a non-empty array")
        row = self.st.store.finish_large(file_id, sha1s, self.st.settings.min_part_size)
        self._send_json(200, file_json(row, self.st.account_id, self.version))

    def op_cancel_large_file(self, params: dict[str, Any]) -> None:
        self._account_auth()
        file_id = self._file_id(params)
        with self.st.store.lock:
            row = self._unfinished(file_id)
            self.st.store.delete_version(row)
        self._send_json(200, {"fileId": file_id, "accountId": self.st.account_id, "bucketId": row["bucket_id"],
                              "fileName": row["name"]})

    def op_list_unfinished_large_files(self, params: dict[str, Any]) -> None:
        self._account_auth()
        b = self._bucket(self._str(params, "bucketId"))
        prefix = self._str(params, "namePrefix", required=False) or ""
        limit = self._count(params, "maxFileCount", UNFINISHED_DEFAULT, UNFINISHED_MAX)
        start_seq = 0
        if params.get("startFileId") is not None:
            m = FILE_ID.match(str(params["startFileId"]))
            if not m:
                raise bad_request(f"Invalid startFileId: {params['startFileId']}")
            start_seq = int(m.group(2), 16)
        rows = self.st.store.unfinished(b["bucket_id"], prefix, start_seq, limit + 1)
        next_id = rows[limit]["file_id"] if len(rows) > limit else None
        self._send_json(200, {"files": [file_json(r, self.st.account_id, self.version) for r in rows[:limit]],
                              "nextFileId": next_id})

    def op_list_parts(self, params: dict[str, Any]) -> None:
        self._account_auth()
        file_id = self._file_id(params)
        self._unfinished(file_id)
        start = self._count(params, "startPartNumber", 1, MAX_PART_NUMBER, zero_is_default=True)
        limit = self._count(params, "maxPartCount", PARTS_DEFAULT, PARTS_MAX)
        parts = self.st.store.parts(file_id, start, limit + 1)
        next_n = parts[limit]["part_number"] if len(parts) > limit else None
        self._send_json(200, {"parts": [{
            "fileId": file_id, "partNumber": p["part_number"], "contentLength": p["content_length"],
            "contentSha1": p["content_sha1"], "contentMd5": p["content_md5"],
            "serverSideEncryption": {"mode": None}, "uploadTimestamp": p["upload_ts"],
        } for p in parts[:limit]], "nextPartNumber": next_n})  # fmt: skip

    # -- listing
    def _list(self, params: dict[str, Any], versions: bool) -> None:
        self._account_auth()
        b = self._bucket(self._str(params, "bucketId"))
        start = self._str(params, "startFileName", required=False) or ""
        prefix = self._str(params, "prefix", required=False) or ""
        delimiter = self._str(params, "delimiter", required=False) or None
        limit = self._count(params, "maxFileCount", LIST_DEFAULT, LIST_MAX)
        start_seq = None
        if versions and params.get("startFileId") is not None:
            if not start:
                raise bad_request("startFileId needs startFileName")
            m = FILE_ID.match(str(params["startFileId"]))
            if not m:
                raise bad_request(f"Invalid startFileId: {params['startFileId']}")
            start_seq = int(m.group(2), 16)
        entries, next_name, next_id = self.st.store.list_files(
            b["bucket_id"], start, start_seq, prefix, delimiter, limit, versions)
        files = [folder_json(e, self.version) if isinstance(e, str) else file_json(e, self.st.account_id, self.version)
                 for e in entries]
        self.req.transactions = max(1, math.ceil(len(files) / 1000))
        reply: dict[str, Any] = {"files": files, "nextFileName": next_name}
        if versions:
            reply["nextFileId"] = next_id
        self._send_json(200, reply)

    def op_list_file_names(self, params: dict[str, Any]) -> None:
        self._list(params, versions=False)

    def op_list_file_versions(self, params: dict[str, Any]) -> None:
        self._list(params, versions=True)

    # -- single files
    def op_get_file_info(self, params: dict[str, Any]) -> None:
        self._account_auth()
        file_id = self._file_id(params)
        row = self.st.store.file_by_id(file_id)
        if row is None:
            raise B2Error(404, "not_found", f"File not present: {file_id}")
        self._send_json(200, file_json(row, self.st.account_id, self.version))

    def op_hide_file(self, params: dict[str, Any]) -> None:
        self._account_auth()
        b = self._bucket(self._str(params, "bucketId"))
        name = validate_file_name(params.get("fileName"), False)
        with self.st.store.lock:
            current = self.st.store.current_version(b["bucket_id"], name)
            if current is None:
                raise bad_request(f"File not present: {name}", "no_such_file")
            if current["action"] == "hide":
                raise bad_request(f"File already hidden: {name}", "already_hidden")
            row = self.st.store.insert_version(b["bucket_id"], name, "hide", 0, None, None,
                                               "application/x-bz-hide-marker", {})
        self._send_json(200, file_json(row, self.st.account_id, self.version))

    def op_delete_file_version(self, params: dict[str, Any]) -> None:
        self._account_auth()
        name = self._str(params, "fileName")
        file_id = self._str(params, "fileId")
        assert name is not None and file_id is not None
        self._note_bucket_of(file_id)
        with self.st.store.lock:
            row = self.st.store.file_by_id(file_id)
            if row is None or row["name"] != name:
                raise bad_request(f"File not present: {name} {file_id}", "file_not_present")
            self.st.store.delete_version(row)
        self._send_json(200, {"fileId": file_id, "fileName": name})

    def op_get_download_authorization(self, params: dict[str, Any]) -> None:
        self._account_auth()
        b = self._bucket(self._str(params, "bucketId"))
        prefix = self._str(params, "fileNamePrefix")
        assert prefix is not None
        seconds = self._count(params, "validDurationInSeconds", 0, DOWNLOAD_AUTH_MAX_S, zero_is_default=False)
        tok = self.st.tokens.issue("download", seconds, target=b["bucket_id"], prefix=prefix)
        self._send_json(200, {"bucketId": b["bucket_id"], "fileNamePrefix": prefix,
                              "authorizationToken": tok.value})

    # -- downloads
    def _download_auth(self, bucket: sqlite3.Row, name: str, query: dict[str, str]) -> None:
        value = self.headers.get("Authorization") or query.get("Authorization")
        if value is None and bucket["type"] == "allPublic":
            return
        tok = self.st.tokens.get(self._token_value(value))
        if tok is not None and tok.kind == "download":
            if tok.expires <= time.monotonic():
                raise B2Error(401, "expired_auth_token", "Authorization token has expired")
            if tok.target != bucket["bucket_id"] or not name.startswith(tok.prefix):
                raise B2Error(401, "unauthorized", "the download authorization does not cover this file")
            return
        self._account_auth(value)

    def _download_by_name(self, rest: str, query: str) -> None:
        bucket_name, sep, encoded = rest.partition("/")
        q = parse_query(query) if query else {}
        b = self.st.store.bucket_by_name(urllib.parse.unquote(bucket_name))
        if b is None or not sep or not encoded:
            raise B2Error(404, "not_found", f"bucket {bucket_name} does not exist or no file name was given")
        self.req.bucket = b["name"]
        name = b2_decode(encoded, "file name in the URL")
        self._download_auth(b, name, q)
        self._check_test_mode_cap()
        self._injected_fault()
        row = self.st.store.current_version(b["bucket_id"], name)
        if row is None or row["action"] != "upload":
            raise B2Error(404, "not_found", f"File with such name does not exist: {name}")
        self._send_file(row)

    def op_download_file_by_id(self, params: dict[str, Any]) -> None:
        file_id = self._file_id(params)
        row = self.st.store.file_by_id(file_id)
        b = self.st.store.bucket_by_id(row["bucket_id"]) if row is not None else None
        if b is not None:
            q = {"Authorization": params["Authorization"]} if isinstance(params.get("Authorization"), str) else {}
            self._download_auth(b, row["name"], q)  # type: ignore[index]
        else:
            self._account_auth(params.get("Authorization") if isinstance(params.get("Authorization"), str) else None)
        if row is None or row["action"] != "upload":
            raise B2Error(404, "not_found", f"File not present: {file_id}")
        self._send_file(row)

    def _send_file(self, row: sqlite3.Row) -> None:
        size = row["content_length"]
        rng = self._range(size)
        info = json.loads(row["info"])
        headers = {
            "Content-Type": row["content_type"],
            "Accept-Ranges": "bytes",
            "X-Bz-File-Id": row["file_id"],
            "X-Bz-File-Name": b2_encode(row["name"]),
            "X-Bz-Content-Sha1": row["content_sha1"],
            "X-Bz-Upload-Timestamp": str(row["upload_ts"]),
        }
        for key, value in info.items():
            if key in B2_INFO_HEADERS:
                headers[B2_INFO_HEADERS[key]] = value
            else:
                headers["X-Bz-Info-" + key] = b2_encode(value)
        if rng is None:
            start, end, status = 0, size - 1, 200
        else:
            start, end = rng
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if self.command == "HEAD" or end < start:
            return
        for chunk in self.st.store.read_range(row, start, end):
            self.st.stats.add_downloaded(self.req.bucket, len(chunk))
            self.req.bytes_out += len(chunk)
            self.wfile.write(chunk)

    def _range(self, size: int) -> Optional[tuple[int, int]]:
        raw = self.headers.get("Range")
        if raw is None:
            return None
        m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", raw)
        if not m or (m.group(1) == "" and m.group(2) == ""):
            return None  # malformed or several ranges: the whole file, as HTTP allows
        if m.group(1) == "":
            n = int(m.group(2))
            start, end = max(0, size - n), size - 1
            if n == 0:
                start = size
        else:
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        if start >= size or start > end:
            raise B2Error(416, "range_not_satisfiable", f"range {raw} is not satisfiable for {size} bytes",
                          headers={"Content-Range": f"bytes */{size}"})
        return start, end

    # -- test endpoints
    def _test_endpoint(self, path: str, query: str) -> None:
        st = self.st
        try:
            q = parse_query(query) if query else {}
            body = self._read_small_body() if self.command == "POST" else b""
            if path == "/__test/health":
                self._send_json(200, {"ok": True, "buckets": [b["name"] for b in st.store.buckets()],
                                      "account_id": st.account_id, "api_url": st.base_url})
            elif path == "/__test/stats" and self.command == "GET":
                self._send_json(200, st.stats.snapshot(q.get("bucket"), q.get("reset") in ("1", "true")))
            elif path == "/__test/stats/reset" and self.command == "POST":
                st.stats.reset()
                self._send_json(200, {"ok": True})
            elif path == "/__test/config" and self.command == "GET":
                with st.settings_lock:
                    self._send_json(200, st.settings.public())
            elif path == "/__test/config" and self.command == "POST":
                try:
                    cfg = json.loads(body or b"{}")
                except ValueError as e:
                    raise bad_request(f"not JSON: {e}", "bad_json") from None
                if not isinstance(cfg, dict):
                    raise bad_request("expected a JSON object", "bad_json")
                try:
                    self._send_json(200, st.configure(cfg))
                except (TypeError, ValueError) as e:
                    raise bad_request(f"bad config value: {e}") from None
            else:
                raise B2Error(404, "not_found", f"no test endpoint {self.command} {path}")
        except B2Error as e:
            self._send_b2_error(e)


# ---------------------------------------------------------------- main


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Local Backblaze B2 native-API server for tests.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, required=True, help="port; 0 picks a free one (see --port-file)")
    p.add_argument("--data-dir", required=True, help="where buckets and files are kept")
    p.add_argument("--key-id", required=True, help="the one application key id")
    p.add_argument("--key", required=True, help="its application key")
    p.add_argument("--bucket", action="append", default=[], metavar="NAME[:TYPE]",
                   help="bucket to create at start (allPrivate unless :allPublic); repeatable")
    p.add_argument("--token-lifetime", type=float, default=86400.0, metavar="SECONDS",
                   help="lifetime of account and upload tokens (default 86400)")
    p.add_argument("--upload-fail-rate", type=float, default=0.0,
                   help="fraction of uploads failing with 503 service_unavailable")
    p.add_argument("--latency-ms", type=int, default=0, help="delay added to every request")
    p.add_argument("--port-file", help="write the bound port here")
    p.add_argument("--min-part-size", type=int, default=5_000_000,
                   help="absoluteMinimumPartSize: every part but the last must be this big (default 5000000)")
    p.add_argument("--recommended-part-size", type=int, default=100_000_000,
                   help="recommendedPartSize (default 100000000)")
    p.add_argument("--test-mode-rate", type=float, default=0.3,
                   help="fraction hit by X-Bz-Test-Mode fail_some_uploads / expire_some_... (default 0.3)")
    p.add_argument("--concurrent-upload-code", default="auth_token_limit",
                   help="code of the 400 for a second concurrent upload on one URL (default auth_token_limit)")
    p.add_argument("--keep-upload-urls", action="store_true",
                   help="do not invalidate an upload URL after it failed an upload with 5xx/408")
    p.add_argument("--strict-names", action="store_true",
                   help="also refuse '\\', leading/trailing '/', '//' and segments over 250 bytes")
    p.add_argument("--request-timeout", type=float, default=60.0,
                   help="seconds without data before a request (or idle connection) is dropped")
    p.add_argument("--seed", type=int, default=None, help="seed for the random faults")
    p.add_argument("--verbose", action="store_true", help="log every request (default: only errors)")
    p.add_argument("--log-file", help="append the log here instead of stderr")
    args = p.parse_args(argv)
    for spec in args.bucket:
        name, _, btype = spec.partition(":")
        if not BUCKET_NAME.match(name) or btype not in ("", "allPublic", "allPrivate"):
            p.error(f"bad --bucket {spec!r}")
    if not 0 <= args.upload_fail_rate <= 1 or not 0 <= args.test_mode_rate <= 1:
        p.error("rates must be between 0 and 1")
    return args


def write_port_file(path: str, port: int) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    state = State(args)
    httpd = B2HTTPServer((args.host, args.port), state)
    port = httpd.server_address[1]
    state.base_url = f"http://{args.host}:{port}"
    if args.port_file:
        write_port_file(args.port_file, port)

    def on_signal(signum: int, _frame: Any) -> None:
        state.log(f"signal {signum}: shutting down")
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"b2server listening on {state.base_url}", flush=True)
    state.log(f"pid {os.getpid()}, data in {state.store.dir}, buckets "
              f"{', '.join(b['name'] for b in state.store.buckets()) or '(none)'}")
    try:
        httpd.serve_forever(poll_interval=0.1)
    finally:
        httpd.server_close()
        deadline = time.monotonic() + 5
        with state.idle:
            while state.in_flight > 0 and time.monotonic() < deadline:
                state.idle.wait(0.1)
        state.store.close()
        state.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
