#!/usr/bin/env python3
"""Tests of tools/b2server/b2server.py: run with
    python3 -m unittest discover -s tools/b2server -v

One server (a subprocess on a free port) serves every test; each test works in
buckets of its own, and settings changed through /__test/config are put back
after every test.  Tests that need a server of their own (SIGTERM, restart,
the scripts) start one.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "b2server.py")
SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts")
KEY_ID = "test-key-id"
KEY = "test-application-key"


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def enc(name: str) -> str:
    """B2 percent-encoding of a file name (slash literal, space %20)."""
    return urllib.parse.quote(name, safe="!$'()*;=:@/")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def code(self) -> Optional[str]:
        try:
            return self.json.get("code")
        except ValueError:
            return None


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: str
    log_path: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_server(data_dir: str, *extra: str) -> ServerProcess:
    port_file = os.path.join(data_dir, "port")
    log_path = os.path.join(data_dir, "server.log")
    if os.path.exists(port_file):
        os.unlink(port_file)
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [sys.executable, SERVER, "--port", "0", "--port-file", port_file, "--data-dir",
         os.path.join(data_dir, "data"), "--key-id", KEY_ID, "--key", KEY, *extra],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    log.close()
    deadline = time.monotonic() + 20
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"b2server did not start: {open(log_path).read()}")
        time.sleep(0.02)
    with open(port_file) as f:
        port = int(f.read())
    return ServerProcess(proc, port, data_dir, log_path)


def stop_server(s: ServerProcess) -> int:
    s.proc.send_signal(signal.SIGTERM)
    try:
        return s.proc.wait(10)
    except subprocess.TimeoutExpired:
        s.proc.kill()
        return s.proc.wait()


class Client:
    """Minimal B2 client for the tests: one connection per request unless `keep`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: Optional[http.client.HTTPConnection] = None
        self.token = ""
        self.account_id = ""

    def raw(self, method: str, path: str, body: bytes = b"", headers: Optional[dict[str, str]] = None,
            keep: bool = False) -> Response:
        conn = self.conn if keep and self.conn is not None else http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=30)
        if keep:
            self.conn = conn
        hdrs = dict(headers or {})
        if method in ("POST", "PUT") and "Content-Length" not in hdrs:
            hdrs["Content-Length"] = str(len(body))
        conn.request(method, path, body=body or None, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        out = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        if not keep:
            conn.close()
        return out

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def authorize(self, version: int = 2, key_id: str = KEY_ID, key: str = KEY) -> Response:
        cred = base64.b64encode(f"{key_id}:{key}".encode()).decode()
        r = self.raw("GET", f"/b2api/v{version}/b2_authorize_account", headers={"Authorization": "Basic " + cred})
        if r.status == 200 and version <= 2:
            self.token, self.account_id = r.json["authorizationToken"], r.json["accountId"]
        return r

    def api(self, op: str, token: Optional[str] = None, version: int = 2, **params: Any) -> Response:
        headers = {"Authorization": self.token if token is None else token}
        if token == "":
            headers = {}
        return self.raw("POST", f"/b2api/v{version}/{op}", json.dumps(params).encode(), headers)

    def ok(self, op: str, **params: Any) -> Any:
        r = self.api(op, **params)
        assert r.status == 200, f"{op} {params}: {r.status} {r.body!r}"
        return r.json

    def upload_url(self, bucket_id: str) -> tuple[str, str]:
        j = self.ok("b2_get_upload_url", bucketId=bucket_id)
        return urllib.parse.urlsplit(j["uploadUrl"]).path, j["authorizationToken"]

    def upload(self, bucket_id: str, name: str, data: bytes, url: Optional[tuple[str, str]] = None,
               encoded_name: Optional[str] = None, content_sha1: Optional[str] = None,
               extra: Optional[dict[str, str]] = None, keep: bool = False) -> Response:
        path, tok = url or self.upload_url(bucket_id)
        headers = {"Authorization": tok, "X-Bz-File-Name": encoded_name if encoded_name is not None else enc(name),
                   "Content-Type": "text/plain", "X-Bz-Content-Sha1": content_sha1 or sha1(data)}
        headers.update(extra or {})
        return self.raw("POST", path, data, headers, keep=keep)

    def put(self, bucket_id: str, name: str, data: bytes = b"x", **kw: Any) -> dict[str, Any]:
        r = self.upload(bucket_id, name, data, **kw)
        assert r.status == 200, f"upload {name}: {r.status} {r.body!r}"
        return r.json


SRV: Optional[ServerProcess] = None
TMP = ""
DEFAULTS: dict[str, Any] = {}


def setUpModule() -> None:
    global SRV, TMP, DEFAULTS
    TMP = tempfile.mkdtemp(prefix="b2server-test-")
    SRV = start_server(TMP, "--bucket", "shared-bucket", "--seed", "7")
    DEFAULTS = json.loads(Client(SRV.port).raw("GET", "/__test/config").body)


def tearDownModule() -> None:
    if SRV is not None:
        stop_server(SRV)
    shutil.rmtree(TMP, ignore_errors=True)


class B2TestCase(unittest.TestCase):
    counter = 0

    def setUp(self) -> None:
        assert SRV is not None
        self.c = Client(SRV.port)
        self.assertEqual(self.c.authorize().status, 200)

    def tearDown(self) -> None:
        self.c.close()
        restore = {k: v for k, v in DEFAULTS.items() if k != "faults"}
        restore["clear_faults"] = True
        r = self.c.raw("POST", "/__test/config", json.dumps(restore).encode())
        self.assertEqual(r.status, 200, r.body)

    def configure(self, **cfg: Any) -> Any:
        r = self.c.raw("POST", "/__test/config", json.dumps(cfg).encode())
        self.assertEqual(r.status, 200, r.body)
        return r.json

    def new_bucket(self, bucket_type: str = "allPrivate") -> tuple[str, str]:
        B2TestCase.counter += 1
        name = f"t-{os.getpid()}-{B2TestCase.counter}-{bucket_type.lower()}"
        j = self.c.ok("b2_create_bucket", accountId=self.c.account_id, bucketName=name, bucketType=bucket_type)
        return j["bucketId"], name

    def assertError(self, r: Response, status: int, code: str, message_part: str = "") -> None:
        self.assertEqual(r.status, status, r.body)
        body = r.json
        self.assertEqual(body["code"], code, body)
        self.assertEqual(body["status"], status)
        self.assertIn("message", body)
        self.assertIn(message_part, body["message"])
        self.assertTrue(r.headers["content-type"].startswith("application/json"))


# ---------------------------------------------------------------- authorization


class AuthTest(B2TestCase):
    def test_authorize_v1_v2_shape(self) -> None:
        for version in (1, 2):
            j = self.c.authorize(version).json
            for key in ("accountId", "authorizationToken", "allowed", "apiUrl", "downloadUrl",
                        "recommendedPartSize", "absoluteMinimumPartSize", "s3ApiUrl"):
                self.assertIn(key, j)
            self.assertEqual(j["recommendedPartSize"], 100_000_000)
            self.assertEqual(j["absoluteMinimumPartSize"], 5_000_000)
            self.assertIsNone(j["allowed"]["bucketId"])
            self.assertIn("writeFiles", j["allowed"]["capabilities"])
            self.assertEqual(j["apiUrl"], SRV.base)  # type: ignore[union-attr]
            self.assertEqual("minimumPartSize" in j, version == 1)

    def test_authorize_v3_v4_shape(self) -> None:
        for version in (3, 4):
            j = self.c.authorize(version).json
            storage = j["apiInfo"]["storageApi"]
            self.assertEqual(storage["infoType"], "storageApi")
            self.assertEqual(storage["apiUrl"], SRV.base)  # type: ignore[union-attr]
            self.assertIn("groupsApi", j["apiInfo"])
            self.assertNotIn("apiUrl", j)
            if version == 4:
                self.assertIn("buckets", storage["allowed"])
                self.assertNotIn("bucketId", storage["allowed"])
            else:
                self.assertIn("bucketId", storage["allowed"])
            # the token works for v1..v4 calls alike
            r = self.c.api("b2_list_buckets", token=j["authorizationToken"], version=1, accountId=j["accountId"])
            self.assertEqual(r.status, 200)

    def test_authorize_post_with_empty_object(self) -> None:
        cred = base64.b64encode(f"{KEY_ID}:{KEY}".encode()).decode()
        r = self.c.raw("POST", "/b2api/v4/b2_authorize_account", b"{}", {"Authorization": "Basic " + cred})
        self.assertEqual(r.status, 200)

    def test_bad_credentials(self) -> None:
        r = self.c.authorize(key="wrong")
        self.assertError(r, 401, "unauthorized")
        self.assertEqual(r.json["message"], "")
        self.assertError(self.c.authorize(key_id="nobody"), 401, "unauthorized")
        self.assertError(self.c.raw("GET", "/b2api/v2/b2_authorize_account"), 401, "unauthorized")
        self.assertError(self.c.raw("GET", "/b2api/v2/b2_authorize_account", headers={"Authorization": "Basic !!"}),
                         401, "unauthorized")

    def test_token_errors_on_api_calls(self) -> None:
        bid, _ = self.new_bucket()
        self.assertError(self.c.api("b2_list_file_names", token="", bucketId=bid), 401, "missing_auth_token")
        self.assertError(self.c.api("b2_list_file_names", token="4_nonsense", bucketId=bid), 401, "bad_auth_token")
        self.assertError(self.c.api("b2_list_file_names", token="Bearer " + self.c.token, bucketId=bid),
                         401, "bad_auth_token")
        _, upload_token = self.c.upload_url(bid)
        self.assertError(self.c.api("b2_list_file_names", token=upload_token, bucketId=bid), 401, "bad_auth_token")

    def test_token_lifetime_and_reauthorize(self) -> None:
        self.configure(token_lifetime_s=0.3)
        bid, _ = self.new_bucket()
        self.c.authorize()
        self.assertEqual(self.c.api("b2_list_file_names", bucketId=bid).status, 200)
        url = self.c.upload_url(bid)
        time.sleep(0.4)
        self.assertError(self.c.api("b2_list_file_names", bucketId=bid), 401, "expired_auth_token",
                         "Authorization token has expired")
        self.assertError(self.c.upload(bid, "a", b"a", url=url), 401, "expired_auth_token")
        self.configure(token_lifetime_s=86400)
        self.c.authorize()
        self.assertEqual(self.c.api("b2_list_file_names", bucketId=bid).status, 200)

    def test_expire_tokens_now(self) -> None:
        bid, _ = self.new_bucket()
        url = self.c.upload_url(bid)
        self.configure(expire_tokens_now=True)
        self.assertError(self.c.api("b2_list_file_names", bucketId=bid), 401, "expired_auth_token")
        self.assertError(self.c.upload(bid, "a", b"a", url=url), 401, "expired_auth_token")
        self.c.authorize()
        self.assertEqual(self.c.api("b2_list_file_names", bucketId=bid).status, 200)

    def test_get_with_query_for_read_only_calls_only(self) -> None:
        bid, _ = self.new_bucket()
        h = {"Authorization": self.c.token}
        r = self.c.raw("GET", f"/b2api/v2/b2_list_file_names?bucketId={bid}&maxFileCount=5", headers=h)
        self.assertEqual(r.status, 200, r.body)
        r = self.c.raw("GET", f"/b2api/v2/b2_list_buckets?accountId={self.c.account_id}", headers=h)
        self.assertEqual(r.status, 200)
        r = self.c.raw("GET", f"/b2api/v2/b2_hide_file?bucketId={bid}&fileName=x", headers=h)
        self.assertEqual(r.status, 405)

    def test_api_versions_and_unknown_calls(self) -> None:
        bid, _ = self.new_bucket()
        for version in (1, 2, 3, 4):
            self.assertEqual(self.c.api("b2_list_file_names", version=version, bucketId=bid).status, 200)
        self.assertError(self.c.api("b2_list_file_names", version=5, bucketId=bid), 404, "not_found")
        self.assertError(self.c.api("b2_no_such_call"), 404, "not_found")

    def test_bad_json_and_missing_fields(self) -> None:
        r = self.c.raw("POST", "/b2api/v2/b2_list_file_names", b"{nope", {"Authorization": self.c.token})
        self.assertError(r, 400, "bad_json")
        self.assertError(self.c.api("b2_list_file_names"), 400, "bad_request", "bucketId")
        self.assertError(self.c.api("b2_list_file_names", bucketId="0" * 24), 400, "bad_bucket_id")


# ---------------------------------------------------------------- buckets


class BucketTest(B2TestCase):
    def test_create_list_delete(self) -> None:
        bid, name = self.new_bucket()
        r = self.c.api("b2_create_bucket", accountId=self.c.account_id, bucketName=name, bucketType="allPrivate")
        self.assertError(r, 400, "duplicate_bucket_name")
        self.assertError(self.c.api("b2_create_bucket", accountId=self.c.account_id, bucketName="b2-reserved",
                                    bucketType="allPrivate"), 400, "bad_request")
        self.assertError(self.c.api("b2_create_bucket", accountId=self.c.account_id, bucketName="short",
                                    bucketType="allPrivate"), 400, "bad_request")
        self.assertError(self.c.api("b2_create_bucket", accountId=self.c.account_id, bucketName="fine-name-x",
                                    bucketType="snapshot"), 400, "bad_request")
        listed = self.c.ok("b2_list_buckets", accountId=self.c.account_id, bucketName=name)["buckets"]
        self.assertEqual([b["bucketId"] for b in listed], [bid])
        all_names = [b["bucketName"] for b in self.c.ok("b2_list_buckets", accountId=self.c.account_id)["buckets"]]
        self.assertEqual(all_names, sorted(all_names))
        self.assertIn("shared-bucket", all_names)
        self.assertError(self.c.api("b2_list_buckets", accountId="000000000000"), 400, "bad_request")
        self.c.put(bid, "f")
        self.assertError(self.c.api("b2_delete_bucket", accountId=self.c.account_id, bucketId=bid),
                         400, "cannot_delete_non_empty_bucket")
        bid2, _ = self.new_bucket()
        self.assertEqual(self.c.api("b2_delete_bucket", accountId=self.c.account_id, bucketId=bid2).status, 200)
        self.assertError(self.c.api("b2_get_upload_url", bucketId=bid2), 400, "bad_bucket_id")


# ---------------------------------------------------------------- uploads


class UploadTest(B2TestCase):
    def test_upload_reply_and_versions(self) -> None:
        bid, _ = self.new_bucket()
        j = self.c.put(bid, "dir/a.txt", b"hello", extra={"X-Bz-Info-Src_Last_Modified_Millis": "1234"})
        self.assertEqual(j["action"], "upload")
        self.assertEqual(j["contentLength"], 5)
        self.assertEqual(j["contentSha1"], sha1(b"hello"))
        self.assertEqual(j["contentMd5"], hashlib.md5(b"hello").hexdigest())
        self.assertEqual(j["fileInfo"], {"src_last_modified_millis": "1234"})  # keys lowercased
        self.assertEqual(j["bucketId"], bid)
        self.assertLessEqual(len(j["fileId"]), 200)
        j2 = self.c.put(bid, "dir/a.txt", b"hello again")
        self.assertNotEqual(j["fileId"], j2["fileId"])
        versions = self.c.ok("b2_list_file_versions", bucketId=bid)["files"]
        self.assertEqual([v["fileId"] for v in versions], [j2["fileId"], j["fileId"]])

    def test_sha1_mismatch_and_bad_sha1_header(self) -> None:
        bid, _ = self.new_bucket()
        self.assertError(self.c.upload(bid, "a", b"data", content_sha1=sha1(b"other")), 400, "bad_request",
                         "Sha1 did not match")
        self.assertError(self.c.upload(bid, "a", b"data", content_sha1="xyz"), 400, "bad_request")
        path, tok = self.c.upload_url(bid)
        r = self.c.raw("POST", path, b"data", {"Authorization": tok, "X-Bz-File-Name": "a",
                                              "Content-Type": "text/plain"})
        self.assertError(r, 400, "bad_request", "X-Bz-Content-Sha1")
        self.assertEqual(self.c.ok("b2_list_file_names", bucketId=bid)["files"], [])

    def test_sha1_uppercase_is_fine(self) -> None:
        bid, _ = self.new_bucket()
        self.assertEqual(self.c.put(bid, "a", b"abc", content_sha1=sha1(b"abc").upper())["contentSha1"], sha1(b"abc"))

    def test_hex_digits_at_end(self) -> None:
        bid, _ = self.new_bucket()
        data = b"streamed content"
        j = self.c.put(bid, "s", data + sha1(data).encode(), content_sha1="hex_digits_at_end")
        self.assertEqual(j["contentLength"], len(data))
        self.assertEqual(j["contentSha1"], sha1(data))
        self.assertEqual(self.download(bid, j["fileName"]).body, data)
        r = self.c.upload(bid, "s", data + sha1(b"x").encode(), content_sha1="hex_digits_at_end")
        self.assertError(r, 400, "bad_request")
        self.assertError(self.c.upload(bid, "s", b"short", content_sha1="hex_digits_at_end"), 400, "bad_request")

    def test_do_not_verify(self) -> None:
        bid, _ = self.new_bucket()
        j = self.c.put(bid, "u", b"unverified", content_sha1="do_not_verify")
        self.assertEqual(j["contentSha1"], "unverified:" + sha1(b"unverified"))
        r = self.download(bid, "u")
        self.assertEqual(r.headers["x-bz-content-sha1"], "unverified:" + sha1(b"unverified"))

    def download(self, bid: str, name: str, headers: Optional[dict[str, str]] = None) -> Response:
        bucket = self.c.ok("b2_list_buckets", accountId=self.c.account_id, bucketId=bid)["buckets"][0]["bucketName"]
        return self.c.raw("GET", f"/file/{bucket}/{enc(name)}", headers={"Authorization": self.c.token,
                                                                         **(headers or {})})

    def raw_upload(self, path: str, token: str, declared: int, body: bytes, shut: bool = True,
                   extra: str = "") -> tuple[int, bytes]:
        """Sends exactly `body` with Content-Length `declared`, then half-closes."""
        s = socket.create_connection(("127.0.0.1", SRV.port), timeout=10)  # type: ignore[union-attr]
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\nX-Bz-File-Name: f\r\n"
                f"Content-Type: text/plain\r\nX-Bz-Content-Sha1: {sha1(body)}\r\n{extra}")
        if declared >= 0:
            head += f"Content-Length: {declared}\r\n"
        s.sendall(head.encode() + b"\r\n" + body)
        if shut:
            s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        status = int(data.split(b" ", 2)[1]) if data else 0
        return status, data

    def test_content_length_shorter_body(self) -> None:
        bid, _ = self.new_bucket()
        path, tok = self.c.upload_url(bid)
        status, data = self.raw_upload(path, tok, 10, b"12345")
        self.assertEqual(status, 400, data)
        self.assertIn(b"Content-Length is 10", data)
        self.assertEqual(self.c.ok("b2_list_file_names", bucketId=bid)["files"], [])

    def test_content_length_missing_or_chunked(self) -> None:
        bid, _ = self.new_bucket()
        path, tok = self.c.upload_url(bid)
        status, data = self.raw_upload(path, tok, -1, b"")
        self.assertEqual(status, 400, data)
        self.assertIn(b"Content-Length header is required", data)
        path, tok = self.c.upload_url(bid)
        status, data = self.raw_upload(path, tok, -1, b"5\r\nhello\r\n0\r\n\r\n",
                                       extra="Transfer-Encoding: chunked\r\n")
        self.assertEqual(status, 400, data)
        self.assertIn(b"chunked", data)

    def test_content_length_longer_body_fails_sha1(self) -> None:
        bid, _ = self.new_bucket()
        path, tok = self.c.upload_url(bid)
        status, data = self.raw_upload(path, tok, 3, b"12345")  # sha1 is of all 5 bytes
        self.assertEqual(status, 400, data)

    def start_slow_upload(self, path: str, tok: str, data: bytes) -> socket.socket:
        """Sends the headers and 10 bytes of an upload; the rest is up to the caller."""
        slow = socket.create_connection(("127.0.0.1", SRV.port), timeout=10)  # type: ignore[union-attr]
        slow.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {tok}\r\nX-Bz-File-Name: slow\r\n"
                      f"Content-Type: text/plain\r\nX-Bz-Content-Sha1: {sha1(data)}\r\n"
                      f"Content-Length: {len(data)}\r\n\r\n").encode() + data[:10])
        time.sleep(0.2)  # the server is now reading the slow body
        return slow

    def test_concurrent_upload_on_one_url_is_refused(self) -> None:
        bid, _ = self.new_bucket()
        path, tok = self.c.upload_url(bid)
        data = b"z" * 1000
        with self.start_slow_upload(path, tok, data) as slow:
            second: list[Response] = []
            t = threading.Thread(target=lambda: second.append(self.c.upload(bid, "fast", b"fast", url=(path, tok))))
            t.start()
            t.join(10)
            self.assertError(second[0], 400, "auth_token_limit", "more than one upload using auth token")
            self.assertEqual(self.c.upload(bid, "other-url", b"o").status, 200)  # other URLs are not affected
            slow.sendall(data[10:])
            self.assertIn(b" 200 ", slow.recv(65536).split(b"\r\n")[0])
        # once the first upload is done, the URL serves the next one
        self.assertEqual(self.c.upload(bid, "fast", b"fast", url=(path, tok)).status, 200)
        names = [f["fileName"] for f in self.c.ok("b2_list_file_names", bucketId=bid)["files"]]
        self.assertEqual(names, ["fast", "other-url", "slow"])
        # the code of that error is configurable (B2 said bad_request in 2019)
        self.configure(concurrent_upload_code="bad_request")
        with self.start_slow_upload(path, tok, data) as slow:
            self.assertError(self.c.upload(bid, "fast", b"fast", url=(path, tok)), 400, "bad_request",
                             "more than one upload using auth token")
            slow.sendall(data[10:])
            self.assertIn(b" 200 ", slow.recv(65536).split(b"\r\n")[0])

    def test_stalled_body_gets_408_and_kills_the_url(self) -> None:
        bid, _ = self.new_bucket()
        self.configure(request_timeout_s=0.5)
        path, tok = self.c.upload_url(bid)
        with socket.create_connection(("127.0.0.1", SRV.port), timeout=10) as s:  # type: ignore[union-attr]
            s.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {tok}\r\nX-Bz-File-Name: f\r\n"
                       f"Content-Type: text/plain\r\nX-Bz-Content-Sha1: {'0' * 40}\r\nContent-Length: 100\r\n\r\n"
                       "only part").encode())
            reply = b""
            while chunk := s.recv(65536):  # the server closes the connection after a 408
                reply += chunk
        self.assertTrue(reply.startswith(b"HTTP/1.1 408"), reply)
        self.assertIn(b"request_timeout", reply)
        self.assertError(self.c.upload(bid, "f", b"x", url=(path, tok)), 401, "bad_auth_token")

    def test_upload_token_belongs_to_its_url(self) -> None:
        bid, _ = self.new_bucket()
        path1, tok1 = self.c.upload_url(bid)
        path2, tok2 = self.c.upload_url(bid)
        self.assertNotEqual(path1, path2)
        self.assertError(self.c.upload(bid, "a", b"a", url=(path1, tok2)), 401, "bad_auth_token")
        self.assertError(self.c.upload(bid, "a", b"a", url=(path1, self.c.token)), 401, "bad_auth_token")
        self.assertError(self.c.upload(bid, "a", b"a", url=(path1, "")), 401, "missing_auth_token")
        self.assertEqual(self.c.upload(bid, "a", b"a", url=(path1, tok1)).status, 200)
        self.assertEqual(self.c.upload(bid, "b", b"b", url=(path1, tok1)).status, 200)  # reusable in sequence

    def test_expect_100_continue_early_rejection(self) -> None:
        bid, _ = self.new_bucket()
        path, _ = self.c.upload_url(bid)
        s = socket.create_connection(("127.0.0.1", SRV.port), timeout=10)  # type: ignore[union-attr]
        s.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: wrong\r\nX-Bz-File-Name: f\r\n"
                   f"Content-Type: text/plain\r\nX-Bz-Content-Sha1: {'0' * 40}\r\nContent-Length: 5000000\r\n"
                   "Expect: 100-continue\r\n\r\n").encode())
        reply = s.recv(65536)
        s.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 401"), reply)
        # and with a good token the server asks for the body
        path, tok = self.c.upload_url(bid)
        s = socket.create_connection(("127.0.0.1", SRV.port), timeout=10)  # type: ignore[union-attr]
        s.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {tok}\r\nX-Bz-File-Name: f\r\n"
                   f"Content-Type: text/plain\r\nX-Bz-Content-Sha1: {sha1(b'abc')}\r\nContent-Length: 3\r\n"
                   "Expect: 100-continue\r\n\r\n").encode())
        self.assertTrue(s.recv(65536).startswith(b"HTTP/1.1 100 Continue"))
        s.sendall(b"abc")
        self.assertTrue(s.recv(65536).startswith(b"HTTP/1.1 200"))
        s.close()

    def test_content_type(self) -> None:
        bid, _ = self.new_bucket()
        j = self.c.put(bid, "pic.png", b"x", extra={"Content-Type": "b2/x-auto"})
        self.assertEqual(j["contentType"], "image/png")
        j = self.c.put(bid, "noext", b"x", extra={"Content-Type": "b2/x-auto"})
        self.assertEqual(j["contentType"], "application/octet-stream")
        path, tok = self.c.upload_url(bid)
        r = self.c.raw("POST", path, b"x", {"Authorization": tok, "X-Bz-File-Name": "a", "X-Bz-Content-Sha1": sha1(b"x")})
        self.assertError(r, 400, "bad_request", "Content-Type")

    def test_info_headers(self) -> None:
        bid, _ = self.new_bucket()
        ten = {f"X-Bz-Info-k{i}": "v" for i in range(10)}
        self.assertEqual(self.c.upload(bid, "a", b"a", extra=ten).status, 200)
        self.assertError(self.c.upload(bid, "a", b"a", extra={**ten, "X-Bz-Info-k10": "v"}), 400, "bad_request")
        self.assertError(self.c.upload(bid, "a", b"a", extra={"X-Bz-Info-" + "k" * 51: "v"}), 400, "bad_request")
        self.assertError(self.c.upload(bid, "a", b"a", extra={"X-Bz-Info-b2-secret": "v"}), 400, "bad_request")
        self.assertError(self.c.upload(bid, "a", b"a", extra={"Content-Disposition": "inline"}), 400, "bad_request")
        big = {f"X-Bz-Info-k{i}": "v" * 700 for i in range(10)}
        self.assertError(self.c.upload(bid, "a", b"a", extra=big), 400, "bad_request", "7000")
        j = self.c.put(bid, "a", b"a", extra={"X-Bz-Info-b2-content-disposition": "attachment%3B%20filename%3D%22a%22",
                                              "X-Bz-Info-note": "caf%C3%A9+%2B1"})
        self.assertEqual(j["fileInfo"]["b2-content-disposition"], 'attachment; filename="a"')
        self.assertEqual(j["fileInfo"]["note"], "café +1")
        r = self.download(bid, "a")
        self.assertEqual(r.headers["content-disposition"], 'attachment; filename="a"')
        self.assertEqual(r.headers["x-bz-info-note"], "caf%C3%A9%20%2B1")
        self.assertNotIn("x-bz-info-b2-content-disposition", r.headers)


# ---------------------------------------------------------------- names


class NameTest(B2TestCase):
    def test_plus_is_space_and_escaped_plus_is_plus(self) -> None:
        bid, _ = self.new_bucket()
        self.assertEqual(self.c.put(bid, "", encoded_name="a+b%2Bc")["fileName"], "a b+c")
        self.assertEqual(self.c.put(bid, "", encoded_name="a%20b")["fileName"], "a b")
        self.assertEqual(self.c.put(bid, "", encoded_name="%E8%87%AA%E7%94%B1/x")["fileName"], "自由/x")
        self.assertEqual(self.c.put(bid, "", encoded_name="raw!$'()*;=:@&,~")["fileName"], "raw!$'()*;=:@&,~")
        names = [f["fileName"] for f in self.c.ok("b2_list_file_names", bucketId=bid)["files"]]
        self.assertEqual(names, sorted(["a b+c", "a b", "自由/x", "raw!$'()*;=:@&,~"], key=lambda s: s.encode()))

    def test_download_name_header_and_path(self) -> None:
        bid, bucket = self.new_bucket()
        name = "dir/a b+c&d?e#f%g 自由"
        self.c.put(bid, name, b"n")
        r = self.c.raw("GET", f"/file/{bucket}/{enc(name)}", headers={"Authorization": self.c.token})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(urllib.parse.unquote(r.headers["x-bz-file-name"]), name)
        self.assertEqual(r.headers["x-bz-file-name"], "dir/a%20b%2Bc%26d%3Fe%23f%25g%20%E8%87%AA%E7%94%B1")
        # '+' in the path is a space too
        self.c.put(bid, "p q", b"pq")
        self.assertEqual(self.c.raw("GET", f"/file/{bucket}/p+q", headers={"Authorization": self.c.token}).body, b"pq")

    def test_invalid_names(self) -> None:
        bid, _ = self.new_bucket()
        for encoded in ("", "a%01b", "a%7Fb", "%FF", "%E8%87", "50%off", "a%zz", "tab\tx"):
            with self.subTest(encoded=encoded):
                self.assertError(self.c.upload(bid, "", b"x", encoded_name=encoded), 400, "bad_request")
        r = self.c.upload(bid, "", b"x", encoded_name="é".encode().decode("latin-1"))  # raw UTF-8 in a header
        self.assertError(r, 400, "bad_request")

    def test_name_length_limit_in_bytes(self) -> None:
        bid, _ = self.new_bucket()
        self.assertEqual(self.c.upload(bid, "é" * 512, b"x").status, 200)  # 1024 bytes
        self.assertError(self.c.upload(bid, "é" * 512 + "a", b"x"), 400, "bad_request", "1024")
        self.assertError(self.c.api("b2_start_large_file", bucketId=bid, fileName="a" * 1025,
                                    contentType="text/plain"), 400, "bad_request")
        self.assertError(self.c.api("b2_start_large_file", bucketId=bid, fileName="a\nb",
                                    contentType="text/plain"), 400, "bad_request")

    def test_older_rules_only_when_strict(self) -> None:
        bid, _ = self.new_bucket()
        for name in ("/lead", "trail/", "a//b", "back\\slash"):
            self.assertEqual(self.c.upload(bid, name, b"x").status, 200, name)
        self.configure(strict_names=True)
        for name in ("/lead", "trail/", "a//b", "back\\slash", "s" * 251):
            self.assertError(self.c.upload(bid, name, b"x"), 400, "bad_request")


# ---------------------------------------------------------------- large files


class LargeFileTest(B2TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.configure(min_part_size=100)
        self.bid, self.bucket = self.new_bucket()

    def start(self, name: str = "big.bin", **kw: Any) -> str:
        j = self.c.ok("b2_start_large_file", bucketId=self.bid, fileName=name, contentType="application/octet-stream",
                      **kw)
        self.assertEqual(j["action"], "start")
        self.assertEqual(j["contentSha1"], "none")
        return j["fileId"]

    def part_url(self, file_id: str) -> tuple[str, str]:
        j = self.c.ok("b2_get_upload_part_url", fileId=file_id)
        self.assertEqual(j["fileId"], file_id)
        return urllib.parse.urlsplit(j["uploadUrl"]).path, j["authorizationToken"]

    def part(self, url: tuple[str, str], n: Any, data: bytes, content_sha1: Optional[str] = None) -> Response:
        return self.c.raw("POST", url[0], data, {"Authorization": url[1], "X-Bz-Part-Number": str(n),
                                                 "X-Bz-Content-Sha1": content_sha1 or sha1(data)})

    def test_full_flow(self) -> None:
        fid = self.start(fileInfo={"large_file_sha1": "0" * 40})
        url = self.part_url(fid)
        parts = [b"a" * 150, b"b" * 120, b"c" * 7]
        for i, p in enumerate(parts, 1):
            r = self.part(url, i, p)
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json["partNumber"], i)
            self.assertEqual(r.json["contentSha1"], sha1(p))
        j = self.c.ok("b2_finish_large_file", fileId=fid, partSha1Array=[sha1(p) for p in parts])
        self.assertEqual(j["action"], "upload")
        self.assertEqual(j["contentSha1"], "none")
        self.assertEqual(j["contentLength"], sum(map(len, parts)))
        self.assertEqual(j["fileInfo"], {"large_file_sha1": "0" * 40})
        r = self.c.raw("GET", f"/file/{self.bucket}/big.bin", headers={"Authorization": self.c.token})
        self.assertEqual(r.body, b"".join(parts))
        self.assertEqual(r.headers["x-bz-content-sha1"], "none")
        self.assertEqual(r.headers["x-bz-info-large_file_sha1"], "0" * 40)
        r = self.c.raw("GET", f"/file/{self.bucket}/big.bin", headers={"Authorization": self.c.token,
                                                                       "Range": "bytes=140-275"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, b"".join(parts)[140:276])
        self.assertEqual(self.c.ok("b2_get_file_info", fileId=fid)["action"], "upload")
        # finished: no more parts, no second finish
        self.assertError(self.part(url, 4, b"d"), 400, "bad_request")
        self.assertError(self.c.api("b2_finish_large_file", fileId=fid, partSha1Array=[sha1(p) for p in parts]),
                         400, "bad_request")
        self.assertError(self.c.api("b2_get_upload_part_url", fileId=fid), 400, "bad_request")

    def test_part_numbers_and_sizes(self) -> None:
        fid = self.start()
        url = self.part_url(fid)
        for bad in (0, 10001, -1, "x"):
            self.assertError(self.part(url, bad, b"p" * 200), 400, "bad_request")
        self.assertError(self.part(url, 1, b"p" * 200, content_sha1=sha1(b"other")), 400, "bad_request")
        self.assertEqual(self.part(url, 10000, b"q").status, 200)
        # a small part in the middle is refused when finishing
        self.assertEqual(self.part(url, 1, b"p" * 99).status, 200)
        r = self.c.api("b2_finish_large_file", fileId=fid, partSha1Array=[sha1(b"p" * 99), sha1(b"q")])
        self.assertError(r, 400, "missing_part", "Part number 2")
        for n in range(2, 10000):
            pass  # (not uploading 10,000 parts; see test_finish_rules for gaps)
        fid2 = self.start("b2")
        url2 = self.part_url(fid2)
        self.part(url2, 1, b"p" * 99)
        self.part(url2, 2, b"z")
        self.assertError(self.c.api("b2_finish_large_file", fileId=fid2, partSha1Array=[sha1(b"p" * 99), sha1(b"z")]),
                         400, "bad_request", "at least 100")
        # re-sending a part overwrites it
        self.part(url2, 1, b"p" * 100)
        self.assertEqual(self.c.api("b2_finish_large_file", fileId=fid2,
                                    partSha1Array=[sha1(b"p" * 100), sha1(b"z")]).status, 200)

    def test_finish_rules(self) -> None:
        fid = self.start()
        url = self.part_url(fid)
        p1, p2, p3 = b"1" * 100, b"2" * 100, b"3"
        for n, p in ((1, p1), (2, p2), (3, p3)):
            self.part(url, n, p)
        self.assertError(self.c.api("b2_finish_large_file", fileId=fid, partSha1Array=[sha1(p2), sha1(p1), sha1(p3)]),
                         400, "part_sha1_mismatch")
        self.assertError(self.c.api("b2_finish_large_file", fileId=fid, partSha1Array=[sha1(p1), sha1(p2)]),
                         400, "part_sha1_mismatch")  # part 3 left out
        self.assertError(self.c.api("b2_finish_large_file", fileId=fid,
                                    partSha1Array=[sha1(p1), sha1(p2), sha1(p3), sha1(b"4")]), 400, "missing_part")
        self.assertError(self.c.api("b2_finish_large_file", fileId=fid, partSha1Array=[]), 400, "bad_request")
        self.assertEqual(self.c.api("b2_finish_large_file", fileId=fid,
                                    partSha1Array=[sha1(p1), sha1(p2), sha1(p3)]).status, 200)

    def test_list_parts_unfinished_and_cancel(self) -> None:
        fids = [self.start(f"u{i}") for i in range(3)]
        url = self.part_url(fids[0])
        for n in range(1, 6):
            self.part(url, n, bytes([n]) * 100)
        j = self.c.ok("b2_list_parts", fileId=fids[0], maxPartCount=2)
        self.assertEqual([p["partNumber"] for p in j["parts"]], [1, 2])
        self.assertEqual(j["nextPartNumber"], 3)
        j = self.c.ok("b2_list_parts", fileId=fids[0], startPartNumber=3, maxPartCount=10)
        self.assertEqual([p["partNumber"] for p in j["parts"]], [3, 4, 5])
        self.assertIsNone(j["nextPartNumber"])
        self.assertEqual(j["parts"][0]["contentSha1"], sha1(b"\x03" * 100))
        self.assertError(self.c.api("b2_list_parts", fileId=fids[0], maxPartCount=1001), 400, "out_of_range")
        j = self.c.ok("b2_list_unfinished_large_files", bucketId=self.bid, maxFileCount=2)
        self.assertEqual([f["fileId"] for f in j["files"]], fids[:2])
        self.assertEqual(j["nextFileId"], fids[2])
        j = self.c.ok("b2_list_unfinished_large_files", bucketId=self.bid, startFileId=j["nextFileId"])
        self.assertEqual([f["fileId"] for f in j["files"]], fids[2:])
        self.assertIsNone(j["nextFileId"])
        j = self.c.ok("b2_list_unfinished_large_files", bucketId=self.bid, namePrefix="u1")
        self.assertEqual([f["fileName"] for f in j["files"]], ["u1"])
        self.assertError(self.c.api("b2_list_unfinished_large_files", bucketId=self.bid, maxFileCount=101),
                         400, "out_of_range")
        j = self.c.ok("b2_cancel_large_file", fileId=fids[0])
        self.assertEqual(j, {"fileId": fids[0], "accountId": self.c.account_id, "bucketId": self.bid, "fileName": "u0"})
        self.assertError(self.c.api("b2_cancel_large_file", fileId=fids[0]), 400, "bad_request")
        self.assertError(self.c.api("b2_list_parts", fileId=fids[0]), 400, "bad_request")
        self.assertError(self.part(url, 6, b"x" * 100), 400, "bad_request")
        # deleting the file version of an unfinished file cancels it too
        self.c.ok("b2_delete_file_version", fileName="u1", fileId=fids[1])
        j = self.c.ok("b2_list_unfinished_large_files", bucketId=self.bid)
        self.assertEqual([f["fileId"] for f in j["files"]], fids[2:])

    def test_part_url_is_one_upload_at_a_time_and_bound_to_its_file(self) -> None:
        fid, other = self.start("x"), self.start("y")
        url = self.part_url(fid)
        other_url = self.part_url(other)
        data = b"s" * 200
        with socket.create_connection(("127.0.0.1", SRV.port), timeout=10) as slow:  # type: ignore[union-attr]
            slow.sendall((f"POST {url[0]} HTTP/1.1\r\nHost: x\r\nAuthorization: {url[1]}\r\n"
                          f"X-Bz-Part-Number: 1\r\nX-Bz-Content-Sha1: {sha1(data)}\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n").encode() + data[:5])
            time.sleep(0.2)
            self.assertError(self.part(url, 2, b"p" * 100), 400, "auth_token_limit")
            self.assertEqual(self.part(self.part_url(fid), 2, b"p" * 100).status, 200)  # another URL: fine
            slow.sendall(data[5:])
            self.assertIn(b" 200 ", slow.recv(65536).split(b"\r\n")[0])
        self.assertError(self.part((url[0], other_url[1]), 1, b"x" * 100), 401, "bad_auth_token")
        self.assertError(self.c.api("b2_get_upload_part_url", fileId="4_nonsense"), 400, "bad_request")

    def test_default_minimum_part_size(self) -> None:
        self.configure(min_part_size=5_000_000)
        j = self.c.authorize().json
        self.assertEqual(j["absoluteMinimumPartSize"], 5_000_000)
        fid = self.start()
        url = self.part_url(fid)
        self.part(url, 1, b"a" * 4_999_999)
        self.part(url, 2, b"b")
        self.assertError(self.c.api("b2_finish_large_file", fileId=fid,
                                    partSha1Array=[sha1(b"a" * 4_999_999), sha1(b"b")]), 400, "bad_request")


# ---------------------------------------------------------------- listing


class ListTest(B2TestCase):
    NAMES = ["a/1", "a/2", "a/b/3", "b", "c/4", "c/5", "d"]

    def setUp(self) -> None:
        super().setUp()
        self.bid, _ = self.new_bucket()
        url = self.c.upload_url(self.bid)
        for name in self.NAMES:
            self.c.put(self.bid, name, name.encode(), url=url)

    def names(self, op: str = "b2_list_file_names", **params: Any) -> tuple[list[str], Any]:
        j = self.c.ok(op, bucketId=self.bid, **params)
        return [f["fileName"] for f in j["files"]], j

    def test_pages(self) -> None:
        seen: list[str] = []
        start = None
        pages = 0
        while True:
            params: dict[str, Any] = {"maxFileCount": 3}
            if start is not None:
                params["startFileName"] = start
            names, j = self.names(**params)
            seen += names
            pages += 1
            start = j["nextFileName"]
            if start is None:
                break
        self.assertEqual(seen, self.NAMES)
        self.assertEqual(pages, 3)
        names, j = self.names(maxFileCount=7)
        self.assertIsNone(j["nextFileName"])

    def test_start_is_inclusive_and_prefix(self) -> None:
        self.assertEqual(self.names(startFileName="c/4")[0], ["c/4", "c/5", "d"])
        self.assertEqual(self.names(startFileName="c/")[0], ["c/4", "c/5", "d"])
        self.assertEqual(self.names(prefix="a/")[0], ["a/1", "a/2", "a/b/3"])
        self.assertEqual(self.names(prefix="a/", startFileName="a/2")[0], ["a/2", "a/b/3"])
        self.assertEqual(self.names(prefix="zzz")[0], [])

    def test_delimiter(self) -> None:
        names, j = self.names(delimiter="/")
        self.assertEqual(names, ["a/", "b", "c/", "d"])
        folder = j["files"][0]
        self.assertEqual(folder["action"], "folder")
        self.assertIsNone(folder["fileId"])
        self.assertEqual(folder["contentLength"], 0)
        self.assertEqual(self.names(delimiter="/", prefix="a/")[0], ["a/1", "a/2", "a/b/"])
        # folders page like files
        names, j = self.names(delimiter="/", maxFileCount=1)
        self.assertEqual(names, ["a/"])
        names2, _ = self.names(delimiter="/", maxFileCount=1, startFileName=j["nextFileName"])
        self.assertEqual(names2, ["b"])
        self.assertEqual(self.names("b2_list_file_versions", delimiter="/")[0], ["a/", "b", "c/", "d"])

    def test_max_file_count_limits(self) -> None:
        self.assertEqual(len(self.names(maxFileCount=0)[0]), 7)  # 0 means the default (100)
        self.assertEqual(len(self.names(maxFileCount=10000)[0]), 7)
        self.assertError(self.c.api("b2_list_file_names", bucketId=self.bid, maxFileCount=10001), 400, "out_of_range")
        self.assertError(self.c.api("b2_list_file_names", bucketId=self.bid, maxFileCount=-1), 400, "out_of_range")
        self.assertError(self.c.api("b2_list_file_names", bucketId=self.bid, maxFileCount="many"), 400, "bad_request")

    def test_versions_order_and_paging(self) -> None:
        v2 = self.c.put(self.bid, "b", b"b2")["fileId"]
        v3 = self.c.put(self.bid, "b", b"b3")["fileId"]
        hide = self.c.ok("b2_hide_file", bucketId=self.bid, fileName="d")["fileId"]
        big = self.c.ok("b2_start_large_file", bucketId=self.bid, fileName="e", contentType="text/plain")["fileId"]
        names, j = self.names("b2_list_file_versions")
        self.assertEqual(names, ["a/1", "a/2", "a/b/3", "b", "b", "b", "c/4", "c/5", "d", "d", "e"])
        b_versions = [f["fileId"] for f in j["files"] if f["fileName"] == "b"]
        self.assertEqual(b_versions[:2], [v3, v2])  # newest first
        actions = {f["fileId"]: f["action"] for f in j["files"]}
        self.assertEqual(actions[hide], "hide")
        self.assertEqual(actions[big], "start")
        hidden = next(f for f in j["files"] if f["fileId"] == hide)
        self.assertEqual((hidden["contentLength"], hidden["contentSha1"], hidden["contentType"]),
                         (0, None, "application/x-bz-hide-marker"))
        # names: hidden 'd' and unfinished 'e' are left out; 'b' is its newest version
        names, j = self.names()
        self.assertEqual(names, ["a/1", "a/2", "a/b/3", "b", "c/4", "c/5"])
        self.assertEqual(j["files"][3]["fileId"], v3)
        # page through versions 2 at a time, landing inside the versions of 'b'
        seen, start, start_id = [], None, None
        while True:
            params: dict[str, Any] = {"maxFileCount": 2}
            if start is not None:
                params["startFileName"] = start
            if start_id is not None:
                params["startFileId"] = start_id
            j = self.c.ok("b2_list_file_versions", bucketId=self.bid, **params)
            seen += [f["fileId"] for f in j["files"]]
            start, start_id = j["nextFileName"], j["nextFileId"]
            if start is None:
                self.assertIsNone(start_id)
                break
        all_ids = [f["fileId"] for f in self.c.ok("b2_list_file_versions", bucketId=self.bid)["files"]]
        self.assertEqual(seen, all_ids)
        self.assertError(self.c.api("b2_list_file_versions", bucketId=self.bid, startFileId=v2), 400, "bad_request")

    def test_listing_is_billed_per_thousand(self) -> None:
        bid, name = self.new_bucket()
        url = self.c.upload_url(bid)
        for i in range(1001):
            r = self.c.upload(bid, f"f{i:05d}", b"", url=url, keep=True)
            self.assertEqual(r.status, 200)
        self.c.raw("GET", f"/__test/stats?bucket={name}&reset=1")
        self.c.ok("b2_list_file_names", bucketId=bid, maxFileCount=10000)
        self.c.ok("b2_list_file_names", bucketId=bid, maxFileCount=10)
        s = self.c.raw("GET", f"/__test/stats?bucket={name}").json
        self.assertEqual(s["calls"], {"b2_list_file_names": 2})
        self.assertEqual(s["transactions"]["C"], 3)  # 1001 returned = 2, plus 1


# ---------------------------------------------------------------- hide, delete, file info


class HideDeleteTest(B2TestCase):
    def test_hide_and_delete(self) -> None:
        bid, bucket = self.new_bucket()
        v1 = self.c.put(bid, "f", b"one")
        v2 = self.c.put(bid, "f", b"two")
        h = {"Authorization": self.c.token}
        self.assertEqual(self.c.raw("GET", f"/file/{bucket}/f", headers=h).body, b"two")
        hide = self.c.ok("b2_hide_file", bucketId=bid, fileName="f")
        self.assertEqual(hide["action"], "hide")
        self.assertError(self.c.api("b2_hide_file", bucketId=bid, fileName="f"), 400, "already_hidden")
        self.assertError(self.c.api("b2_hide_file", bucketId=bid, fileName="nope"), 400, "no_such_file")
        self.assertError(self.c.raw("GET", f"/file/{bucket}/f", headers=h), 404, "not_found")
        self.assertEqual(self.c.ok("b2_list_file_names", bucketId=bid)["files"], [])
        # old versions stay readable by id
        r = self.c.raw("GET", f"/b2api/v2/b2_download_file_by_id?fileId={v1['fileId']}", headers=h)
        self.assertEqual(r.body, b"one")
        # deleting the hide marker brings the newest version back
        self.assertEqual(self.c.ok("b2_delete_file_version", fileName="f", fileId=hide["fileId"]),
                         {"fileId": hide["fileId"], "fileName": "f"})
        self.assertEqual(self.c.raw("GET", f"/file/{bucket}/f", headers=h).body, b"two")
        self.c.ok("b2_delete_file_version", fileName="f", fileId=v2["fileId"])
        self.assertEqual(self.c.raw("GET", f"/file/{bucket}/f", headers=h).body, b"one")
        self.assertError(self.c.api("b2_delete_file_version", fileName="f", fileId=v2["fileId"]), 400,
                         "file_not_present", f"File not present: f {v2['fileId']}")
        self.assertError(self.c.api("b2_delete_file_version", fileName="g", fileId=v1["fileId"]), 400,
                         "file_not_present")
        self.assertError(self.c.api("b2_get_file_info", fileId=v2["fileId"]), 404, "not_found")
        info = self.c.ok("b2_get_file_info", fileId=v1["fileId"])
        self.assertEqual((info["fileName"], info["contentLength"], info["contentSha1"]), ("f", 3, sha1(b"one")))


# ---------------------------------------------------------------- downloads


class DownloadTest(B2TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.bid, self.bucket = self.new_bucket()
        self.data = bytes(range(256)) * 4
        self.file = self.c.put(self.bid, "d/file.bin", self.data, extra={"X-Bz-Info-src_last_modified_millis": "42"})
        self.h = {"Authorization": self.c.token}

    def get(self, headers: Optional[dict[str, str]] = None, method: str = "GET") -> Response:
        return self.c.raw(method, f"/file/{self.bucket}/d/file.bin", headers={**self.h, **(headers or {})})

    def test_headers(self) -> None:
        r = self.get()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.data)
        self.assertEqual(r.headers["content-length"], str(len(self.data)))
        self.assertEqual(r.headers["content-type"], "text/plain")
        self.assertEqual(r.headers["x-bz-file-id"], self.file["fileId"])
        self.assertEqual(r.headers["x-bz-file-name"], "d/file.bin")
        self.assertEqual(r.headers["x-bz-content-sha1"], sha1(self.data))
        self.assertEqual(r.headers["x-bz-upload-timestamp"], str(self.file["uploadTimestamp"]))
        self.assertEqual(r.headers["x-bz-info-src_last_modified_millis"], "42")
        head = self.get(method="HEAD")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        self.assertEqual(head.headers["content-length"], str(len(self.data)))

    def test_ranges(self) -> None:
        for rng, start, end in (("bytes=2-4", 2, 4), ("bytes=1000-", 1000, 1023), ("bytes=-3", 1021, 1023),
                                ("bytes=1020-5000", 1020, 1023), ("bytes=0-0", 0, 0)):
            with self.subTest(rng=rng):
                r = self.get({"Range": rng})
                self.assertEqual(r.status, 206)
                self.assertEqual(r.body, self.data[start:end + 1])
                self.assertEqual(r.headers["content-range"], f"bytes {start}-{end}/1024")
                self.assertEqual(r.headers["x-bz-content-sha1"], sha1(self.data))  # of the whole file
        r = self.get({"Range": "bytes=1024-"})
        self.assertError(r, 416, "range_not_satisfiable")
        self.assertEqual(r.headers["content-range"], "bytes */1024")
        self.assertEqual(self.get({"Range": "bytes=0-1,5-6"}).status, 200)  # several ranges: the whole file

    def test_by_id(self) -> None:
        fid = self.file["fileId"]
        r = self.c.raw("GET", f"/b2api/v2/b2_download_file_by_id?fileId={fid}", headers=self.h)
        self.assertEqual((r.status, r.body), (200, self.data))
        r = self.c.raw("POST", "/b2api/v2/b2_download_file_by_id", json.dumps({"fileId": fid}).encode(),
                       {**self.h, "Range": "bytes=0-9"})
        self.assertEqual((r.status, r.body), (206, self.data[:10]))
        r = self.c.raw("GET", f"/b2api/v1/b2_download_file_by_id?fileId={fid}&Authorization={self.c.token}")
        self.assertEqual(r.status, 200)
        missing = fid[:-4] + "0000" if not fid.endswith("0000") else fid[:-4] + "0001"
        self.assertError(self.c.raw("GET", f"/b2api/v2/b2_download_file_by_id?fileId={missing}", headers=self.h),
                         404, "not_found")

    def test_auth(self) -> None:
        self.assertError(self.get({"Authorization": ""}), 401, "missing_auth_token")
        r = self.c.raw("GET", f"/file/{self.bucket}/d/file.bin")
        self.assertError(r, 401, "missing_auth_token")
        self.assertError(self.get({"Authorization": "bad"}), 401, "bad_auth_token")
        r = self.c.raw("GET", f"/file/{self.bucket}/d/file.bin?Authorization={self.c.token}")
        self.assertEqual(r.status, 200)
        tok = self.c.ok("b2_get_download_authorization", bucketId=self.bid, fileNamePrefix="d/",
                        validDurationInSeconds=60)["authorizationToken"]
        self.assertEqual(self.get({"Authorization": tok}).status, 200)
        self.c.put(self.bid, "other", b"o")
        self.assertEqual(self.c.raw("GET", f"/file/{self.bucket}/other", headers={"Authorization": tok}).status, 401)
        pub_id, pub = self.new_bucket("allPublic")
        self.c.put(pub_id, "p", b"public")
        self.assertEqual(self.c.raw("GET", f"/file/{pub}/p").body, b"public")

    def test_not_found(self) -> None:
        self.assertError(self.c.raw("GET", f"/file/{self.bucket}/nope", headers=self.h), 404, "not_found")
        self.assertError(self.c.raw("GET", "/file/no-such-bucket/x", headers=self.h), 404, "not_found")


# ---------------------------------------------------------------- statistics


class StatsTest(B2TestCase):
    def test_classes_and_buckets(self) -> None:
        bid, name = self.new_bucket()
        self.c.raw("POST", "/__test/stats/reset")
        url = self.c.upload_url(bid)  # A
        f = self.c.put(bid, "x", b"12345", url=url)  # A
        self.c.ok("b2_list_file_names", bucketId=bid)  # C
        self.c.ok("b2_get_file_info", fileId=f["fileId"])  # B
        self.c.raw("GET", f"/file/{name}/x", headers={"Authorization": self.c.token})  # B
        self.c.api("b2_hide_file", bucketId=bid, fileName="nope")  # A, an error
        self.c.authorize()  # C, no bucket
        s = self.c.raw("GET", "/__test/stats").json
        self.assertEqual(s["transactions"], {"A": 3, "B": 2, "C": 2})
        self.assertEqual(s["requests"], 7)
        self.assertEqual(s["calls"]["b2_upload_file"], 1)
        self.assertEqual(s["errors"], {"b2_hide_file": {"400 no_such_file": 1}})
        self.assertEqual(s["bytes_uploaded"], 5)
        self.assertEqual(s["bytes_downloaded"], 5)
        b = self.c.raw("GET", f"/__test/stats?bucket={name}").json
        self.assertEqual(b["transactions"], {"A": 3, "B": 2, "C": 1})
        self.assertEqual(s["buckets"][name], {k: v for k, v in b.items() if k != "bucket"})
        # test endpoints are not counted; reset=1 returns the counts and zeroes them
        self.c.raw("GET", "/__test/config")
        self.assertEqual(self.c.raw("GET", "/__test/stats?reset=1").json["requests"], 7)
        self.assertEqual(self.c.raw("GET", "/__test/stats").json["requests"], 0)


# ---------------------------------------------------------------- faults


class FaultTest(B2TestCase):
    def test_upload_fail_rate_kills_the_url(self) -> None:
        bid, _ = self.new_bucket()
        url = self.c.upload_url(bid)
        self.configure(upload_fail_rate=1.0)
        r = self.c.upload(bid, "a", b"a", url=url)
        self.assertError(r, 503, "service_unavailable")
        self.configure(upload_fail_rate=0.0)
        self.assertError(self.c.upload(bid, "a", b"a", url=url), 401, "bad_auth_token", "new one")
        self.assertEqual(self.c.upload(bid, "a", b"a").status, 200)  # a fresh URL works
        self.configure(upload_fail_rate=1.0, invalidate_upload_urls=False)
        url = self.c.upload_url(bid)
        self.assertEqual(self.c.upload(bid, "a", b"a", url=url).status, 503)
        self.configure(upload_fail_rate=0.0)
        self.assertEqual(self.c.upload(bid, "a", b"a", url=url).status, 200)

    def test_fail_rate_is_a_fraction(self) -> None:
        bid, _ = self.new_bucket()
        self.configure(upload_fail_rate=0.5, seed=3)
        statuses = [self.c.upload(bid, f"f{i}", b"x").status for i in range(60)]
        self.assertTrue(10 < statuses.count(503) < 50, statuses)
        self.assertEqual(set(statuses), {200, 503})

    def test_fail_next_rules(self) -> None:
        bid, name = self.new_bucket()
        self.configure(fail_next=[{"op": "b2_list_file_names", "status": 429, "code": "too_many_requests",
                                   "count": 2, "retry_after": 3}])
        for _ in range(2):
            r = self.c.api("b2_list_file_names", bucketId=bid)
            self.assertError(r, 429, "too_many_requests")
            self.assertEqual(r.headers["retry-after"], "3")
        self.assertEqual(self.c.api("b2_list_file_names", bucketId=bid).status, 200)
        self.configure(fail_next=[{"op": "upload", "status": 500, "code": "internal_error", "bucket": "elsewhere"}])
        self.assertEqual(self.c.upload(bid, "a", b"a").status, 200)  # other bucket's rule
        self.configure(clear_faults=True, fail_next=[{"op": "b2_get_upload_url", "status": 503}])
        self.assertError(self.c.api("b2_get_upload_url", bucketId=bid), 503, "service_unavailable")
        self.assertEqual(self.c.api("b2_get_upload_url", bucketId=bid).status, 200)
        self.assertEqual(self.c.raw("GET", f"/__test/stats?bucket={name}").json["faults_injected"], 3)

    def test_drop_connection(self) -> None:
        bid, _ = self.new_bucket()
        url = self.c.upload_url(bid)
        self.configure(fail_next=[{"op": "b2_upload_file", "drop": True}])
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.c.upload(bid, "a", b"a" * 100000, url=url)
        self.assertError(self.c.upload(bid, "a", b"a", url=url), 401, "bad_auth_token")  # the URL died with it
        self.assertEqual(self.c.upload(bid, "a", b"a").status, 200)

    def test_latency(self) -> None:
        bid, _ = self.new_bucket()
        self.configure(latency_ms=150)
        t0 = time.monotonic()
        self.c.api("b2_list_file_names", bucketId=bid)
        self.assertGreaterEqual(time.monotonic() - t0, 0.15)

    def test_test_mode_header(self) -> None:
        bid, _ = self.new_bucket()
        self.configure(test_mode_rate=1.0)
        r = self.c.upload(bid, "a", b"a", extra={"X-Bz-Test-Mode": "fail_some_uploads"})
        self.assertError(r, 503, "service_unavailable")
        r = self.c.upload(bid, "a", b"a", extra={"X-Bz-Test-Mode": "force_cap_exceeded"})
        self.assertError(r, 403, "cap_exceeded")
        r = self.c.raw("POST", "/b2api/v2/b2_list_file_names", json.dumps({"bucketId": bid}).encode(),
                       {"Authorization": self.c.token, "X-Bz-Test-Mode": "force_cap_exceeded"})
        self.assertError(r, 403, "cap_exceeded")
        r = self.c.raw("POST", "/b2api/v2/b2_list_file_names", json.dumps({"bucketId": bid}).encode(),
                       {"Authorization": self.c.token, "X-Bz-Test-Mode": "expire_some_account_authorization_tokens"})
        self.assertError(r, 401, "expired_auth_token")
        self.assertError(self.c.api("b2_list_file_names", bucketId=bid), 401, "expired_auth_token")  # stays expired
        self.c.authorize()
        self.configure(test_mode_rate=0.0)
        r = self.c.upload(bid, "a", b"a", extra={"X-Bz-Test-Mode": "fail_some_uploads"})
        self.assertEqual(r.status, 200)

    def test_cap_exceeded_switch(self) -> None:
        bid, _ = self.new_bucket()
        self.configure(cap_exceeded=True)
        self.assertError(self.c.upload(bid, "a", b"a"), 403, "cap_exceeded")
        self.assertError(self.c.api("b2_start_large_file", bucketId=bid, fileName="l", contentType="text/plain"),
                         403, "cap_exceeded")
        self.assertEqual(self.c.api("b2_list_file_names", bucketId=bid).status, 200)

    def test_bad_config(self) -> None:
        self.assertEqual(self.c.raw("POST", "/__test/config", b'{"upload_fail_rate": 2}').status, 400)
        self.assertEqual(self.c.raw("POST", "/__test/config", b'{"fail_next": [{"nope": 1}]}').status, 400)
        self.assertEqual(self.c.raw("POST", "/__test/config", b"[]").status, 400)


# ---------------------------------------------------------------- the process and the scripts


class ProcessTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="b2server-proc-")

    def tearDown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_sigterm_and_restart_keep_data(self) -> None:
        s = start_server(self.tmp, "--bucket", "persist-bucket", "--bucket", "public-bucket:allPublic")
        c = Client(s.port)
        c.authorize()
        buckets = {b["bucketName"]: b for b in c.ok("b2_list_buckets", accountId=c.account_id)["buckets"]}
        self.assertEqual(buckets["public-bucket"]["bucketType"], "allPublic")
        f = c.put(buckets["persist-bucket"]["bucketId"], "kept", b"kept")
        old_token = c.token
        t0 = time.monotonic()
        self.assertEqual(stop_server(s), 0)
        self.assertLess(time.monotonic() - t0, 3)
        s = start_server(self.tmp, "--bucket", "persist-bucket")
        try:
            c = Client(s.port)
            self.assertEqual(c.api("b2_get_file_info", token=old_token, fileId=f["fileId"]).status, 401)
            c.authorize()
            self.assertEqual(c.ok("b2_get_file_info", fileId=f["fileId"])["fileName"], "kept")
            self.assertEqual(c.raw("GET", "/file/persist-bucket/kept", headers={"Authorization": c.token}).body,
                             b"kept")
            # new versions sort after the old ones
            g = c.put(buckets["persist-bucket"]["bucketId"], "kept", b"new")
            versions = c.ok("b2_list_file_versions", bucketId=buckets["persist-bucket"]["bucketId"])["files"]
            self.assertEqual([v["fileId"] for v in versions], [g["fileId"], f["fileId"]])
        finally:
            stop_server(s)

    def test_sigterm_waits_for_a_request_in_flight(self) -> None:
        s = start_server(self.tmp, "--bucket", "slow-bucket", "--latency-ms", "700")
        c = Client(s.port)
        result: list[int] = []
        t = threading.Thread(target=lambda: result.append(c.authorize().status))
        t.start()
        time.sleep(0.3)
        self.assertEqual(stop_server(s), 0)
        t.join(5)
        self.assertEqual(result, [200])

    @unittest.skipUnless(shutil.which("bash") and shutil.which("curl") and shutil.which("flock"),
                         "needs bash, curl, flock")
    def test_up_and_down_scripts(self) -> None:
        d = os.path.join(self.tmp, "srv")
        up = subprocess.run(["bash", os.path.join(SCRIPTS, "b2server-up.sh"), d], capture_output=True, text=True,
                            timeout=60)
        self.assertEqual(up.returncode, 0, up.stderr)
        with open(os.path.join(d, "env")) as f:
            env = dict(line.strip().split("=", 1) for line in f if not line.startswith("#"))
        for key in ("B2_API_URL", "B2_APPLICATION_KEY_ID", "B2_APPLICATION_KEY", "B2_TEST_BUCKET"):
            self.assertIn(key, env)
        c = Client(int(env["B2_API_URL"].rsplit(":", 1)[1]))
        self.assertEqual(c.authorize(key_id=env["B2_APPLICATION_KEY_ID"], key=env["B2_APPLICATION_KEY"]).status, 200)
        names = [b["bucketName"] for b in c.ok("b2_list_buckets", accountId=c.account_id)["buckets"]]
        self.assertIn(env["B2_TEST_BUCKET"], names)
        again = subprocess.run(["bash", os.path.join(SCRIPTS, "b2server-up.sh"), d], capture_output=True, text=True,
                               timeout=60)
        self.assertIn("already running", again.stderr)
        with open(os.path.join(d, "pids", "b2server")) as f:
            pid = int(f.read())
        down = subprocess.run(["bash", os.path.join(SCRIPTS, "b2server-down.sh"), d, "--purge"], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(down.returncode, 0, down.stderr)
        self.assertFalse(os.path.exists(d))
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            cmdline = b""
        self.assertNotIn(b"b2server", cmdline)


if __name__ == "__main__":
    unittest.main()
