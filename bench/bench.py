#!/usr/bin/env python3
"""cloudkeep end-to-end benchmark against rclone and the AWS CLI (driven by bench/run.sh).

Expects a running Ceph RGW and the project's B2 server (their sourceable env files), a
Release build of cloudkeep, the micro-benchmark binary and bench/tools/gendata. Writes
bench/results/<stamp>.{md,json} and latest.{md,json}. See bench/README.md.
"""
import argparse
import base64
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KiB, MiB = 1024, 1024 * 1024

# name -> (count, size bytes, files per folder) per mode
SIZES = {
    "full": {"small": (5000, 4 * KiB), "medium": (200, MiB), "large": (2, 512 * MiB),
             "tree": (100000, 1 * KiB), "mem": (1000000, 16)},
    "quick": {"small": (500, 4 * KiB), "medium": (30, MiB), "large": (2, 80 * MiB),
              "tree": (10000, 1 * KiB), "mem": (100000, 16)},
}
ALL_SCENARIOS = ["small", "medium", "large", "noop", "few", "stats_cold", "stats_warm", "memory"]
SEEDS = {"small": 1, "medium": 2, "large": 3, "tree": 4, "mem": 5}


def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            env[k] = v.strip("'\"")
    return env


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def proc_cpu_s(pid):
    """user+sys CPU seconds of a live process (0 if gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Bench:
    def __init__(self, args):
        self.a = args
        self.mode = "quick" if args.quick else "full"
        self.sizes = SIZES[self.mode]
        self.work = args.work
        self.ck = args.cloudkeep
        self.gendata = args.gendata
        self.data_root = args.data_dir
        self.rgw = load_env(args.rgw_env)
        self.b2 = load_env(args.b2_env) if args.b2_env else None
        self.transfers = args.transfers
        self.results = {"scenarios": {}, "micro": {}, "notes": []}
        self.run_no = 0
        self.stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        self.tag = self.stamp.lower().replace("t", "").replace("z", "")[-8:]
        self.rclone_conf = os.path.join(self.work, "rclone.conf")
        open(self.rclone_conf, "w").close()
        self.rgw_pids = self._pids(os.path.join(self.rgw["RGW_DIR"], "pids"), ["rgw", "osd", "mon"])
        self.b2_pids = (self._pids(os.path.join(self.b2["B2SERVER_DIR"], "pids"), ["b2server"])
                        if self.b2 else [])
        self.b2_auth_cache = None

    @staticmethod
    def _pids(d, names):
        out = []
        for n in names:
            try:
                out.append(int(open(os.path.join(d, n)).read().strip()))
            except (OSError, ValueError):
                pass
        return out

    # ------------------------------------------------------------ environment for the tools
    def base_env(self):
        env = dict(os.environ)
        env.pop("AWS_CA_BUNDLE", None)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION"):
            env[k] = self.rgw[k]
        env.pop("AWS_ENDPOINT_URL", None)
        env.pop("AWS_PROFILE", None)
        env["AWS_CONFIG_FILE"] = os.path.join(self.work, "aws-config")
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(self.work, "aws-credentials")
        env["RCLONE_CONFIG"] = self.rclone_conf
        env["RCLONE_CONFIG_CKS3_TYPE"] = "s3"
        env["RCLONE_CONFIG_CKS3_PROVIDER"] = "Ceph"
        env["RCLONE_CONFIG_CKS3_ENDPOINT"] = self.rgw["S3_ENDPOINT"]
        env["RCLONE_CONFIG_CKS3_ACCESS_KEY_ID"] = self.rgw["AWS_ACCESS_KEY_ID"]
        env["RCLONE_CONFIG_CKS3_SECRET_ACCESS_KEY"] = self.rgw["AWS_SECRET_ACCESS_KEY"]
        env["RCLONE_CONFIG_CKS3_REGION"] = self.rgw["AWS_REGION"]
        if self.b2:
            env["B2_APPLICATION_KEY_ID"] = self.b2["B2_APPLICATION_KEY_ID"]
            env["B2_APPLICATION_KEY"] = self.b2["B2_APPLICATION_KEY"]
            env["RCLONE_CONFIG_CKB2_TYPE"] = "b2"
            env["RCLONE_CONFIG_CKB2_ACCOUNT"] = self.b2["B2_APPLICATION_KEY_ID"]
            env["RCLONE_CONFIG_CKB2_KEY"] = self.b2["B2_APPLICATION_KEY"]
            env["RCLONE_CONFIG_CKB2_ENDPOINT"] = self.b2["B2_API_URL"]
        env.pop("CLOUDKEEP_CONFIG", None)
        return env

    # ------------------------------------------------------------ server side: RGW
    def ceph(self, *args, check=True):
        return subprocess.run(["ceph", "-c", self.rgw["CEPH_CONF"], *args], capture_output=True,
                              text=True, check=check, timeout=60)

    def rgw_counters(self):
        out = self.ceph("daemon", "client.rgw.a", "perf", "dump", "rgw").stdout
        d = json.loads(out)["rgw"]
        return {"req": d["req"], "put": d["put"], "get": d["get"], "failed": d["failed_req"]}

    def rgw_cpu(self):
        return sum(proc_cpu_s(p) for p in self.rgw_pids)

    def s3_curl(self, method, path, expect=(200,)):
        r = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--aws-sigv4",
             f"aws:amz:{self.rgw['AWS_REGION']}:s3", "--user",
             f"{self.rgw['AWS_ACCESS_KEY_ID']}:{self.rgw['AWS_SECRET_ACCESS_KEY']}",
             "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-X", method,
             self.rgw["S3_ENDPOINT"] + path], capture_output=True, text=True, timeout=60)
        code = int(r.stdout or 0)
        if code not in expect:
            raise RuntimeError(f"{method} {path}: HTTP {code}")
        return code

    def new_s3_bucket(self, what):
        self.run_no += 1
        name = f"ckb-{self.tag}-{what}-{self.run_no}".lower().replace("_", "-")[:63]
        self.s3_curl("PUT", "/" + name)
        return name

    def s3_bucket_stats(self, bucket):
        r = subprocess.run(["radosgw-admin", "-c", self.rgw["CEPH_CONF"], "bucket", "stats",
                            f"--bucket={bucket}"], capture_output=True, text=True, timeout=120)
        try:
            u = json.loads(r.stdout).get("usage", {}).get("rgw.main", {})
            return u.get("num_objects", 0), u.get("size", 0)
        except ValueError:
            return None, None

    def drop_s3_bucket(self, bucket):
        subprocess.run(["radosgw-admin", "-c", self.rgw["CEPH_CONF"], "bucket", "rm",
                        f"--bucket={bucket}", "--purge-objects", "--bypass-gc"],
                       capture_output=True, timeout=1800)

    # ------------------------------------------------------------ server side: B2
    def b2_call(self, op, body):
        if self.b2_auth_cache is None:
            self._b2_auth()
        a = self.b2_auth_cache
        req = urllib.request.Request(a["apiUrl"] + "/b2api/v2/" + op, data=json.dumps(body).encode())
        req.add_header("Authorization", a["authorizationToken"])
        return json.load(urllib.request.urlopen(req, timeout=60))

    def new_b2_bucket(self, what):
        self.run_no += 1
        name = f"ckb-{self.tag}-{what}-{self.run_no}".lower().replace("_", "-")[:50]
        if self.b2_auth_cache is None:
            self._b2_auth()
        self.b2_call("b2_create_bucket", {"accountId": self.b2_auth_cache["accountId"],
                                          "bucketName": name, "bucketType": "allPrivate"})
        return name

    def _b2_auth(self):
        req = urllib.request.Request(self.b2["B2_API_URL"] + "/b2api/v2/b2_authorize_account")
        cred = f"{self.b2['B2_APPLICATION_KEY_ID']}:{self.b2['B2_APPLICATION_KEY']}"
        req.add_header("Authorization", "Basic " + base64.b64encode(cred.encode()).decode())
        self.b2_auth_cache = json.load(urllib.request.urlopen(req, timeout=30))

    def b2_stats(self, reset=False):
        url = self.b2["B2_API_URL"] + "/__test/stats" + ("?reset=1" if reset else "")
        return json.load(urllib.request.urlopen(url, timeout=30))

    def b2_cpu(self):
        return sum(proc_cpu_s(p) for p in self.b2_pids)

    # ------------------------------------------------------------ data sets
    def dataset(self, key):
        count, size = self.sizes[key]
        d = os.path.join(self.data_root, f"{key}-{count}x{size}-s{SEEDS[key]}")
        stamp = d + ".complete"
        if os.path.exists(stamp) and os.path.isdir(d):
            return d
        shutil.rmtree(d, ignore_errors=True)
        t0 = time.monotonic()
        subprocess.run([self.gendata, "create", d, str(count), str(size), str(SEEDS[key]), "1000"],
                       check=True)
        open(stamp, "w").write(f"{count} {size}\n")
        log(f"generated {count} x {size} B in {d} in {time.monotonic() - t0:.1f}s")
        return d

    def modify(self, key, version, indexes):
        count, size = self.sizes[key]
        d = self.dataset(key)
        subprocess.run([self.gendata, "modify", d, str(count), str(size), str(SEEDS[key]), "1000",
                        str(version), *map(str, indexes)], check=True)

    # ------------------------------------------------------------ configs
    def ck_config(self, run_dir, src, dest, bucket, transfers=None, extra=""):
        os.makedirs(run_dir, exist_ok=True)
        t = transfers or self.transfers
        lines = ['[state]', 'database = "state.db"', '', '[sync]', f'transfers = {t}', '',
                 '[log]', 'level = "warn"', '', '[[sources]]', f'path = "{src}"', '']
        if dest == "s3":
            lines += ['[destinations.rgw]', 'type = "s3"', f'bucket = "{bucket}"',
                      'prefix = "bench/"', f'region = "{self.rgw["AWS_REGION"]}"',
                      f'endpoint = "{self.rgw["S3_ENDPOINT"]}"', 'path_style = true']
        elif dest == "b2":
            lines += ['[destinations.b2]', 'type = "b2"', f'bucket = "{bucket}"',
                      'prefix = "bench/"', f'api_url = "{self.b2["B2_API_URL"]}"']
        elif dest == "off":
            lines += ['[destinations.rgw]', 'type = "s3"', 'bucket = "unused"',
                      f'region = "{self.rgw["AWS_REGION"]}"',
                      f'endpoint = "{self.rgw["S3_ENDPOINT"]}"', 'path_style = true',
                      'enabled = false']
        elif dest == "unreachable":
            lines += ['[destinations.rgw]', 'type = "s3"', 'bucket = "unused"',
                      f'region = "{self.rgw["AWS_REGION"]}"',
                      'endpoint = "http://127.0.0.1:9"', 'path_style = true']
        cfg = os.path.join(run_dir, "cloudkeep.toml")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)
        return cfg

    # ------------------------------------------------------------ one measured process
    def measure(self, argv, env=None, side="s3", log_name="run", cwd=None, timeout=7200):
        """Runs argv under GNU time; returns wall, client CPU, peak RSS and server-side requests."""
        self.run_no += 1
        logf = os.path.join(self.work, "logs", f"{self.run_no:04d}-{log_name}.log")
        os.makedirs(os.path.dirname(logf), exist_ok=True)
        tf = logf + ".time"
        env = env or self.base_env()
        if side == "s3":
            c0, s0 = self.rgw_counters(), self.rgw_cpu()
        elif side == "b2":
            self.b2_stats(reset=True)
            s0 = self.b2_cpu()
        t0 = time.monotonic()
        with open(logf, "w") as out:
            r = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", tf, *argv], stdout=out,
                               stderr=subprocess.STDOUT, env=env, cwd=cwd, timeout=timeout)
        wall = time.monotonic() - t0
        user, sys_, rss = open(tf).read().strip().splitlines()[-1].split()
        s = {"wall_s": round(wall, 3), "cpu_s": round(float(user) + float(sys_), 3),
             "user_s": float(user), "sys_s": float(sys_), "rss_mb": round(int(rss) / 1024, 1),
             "rc": r.returncode, "log": os.path.relpath(logf, self.work)}
        if side == "s3":
            time.sleep(0.05)
            c1, s1 = self.rgw_counters(), self.rgw_cpu()
            s["requests"] = c1["req"] - c0["req"]
            s["put"] = c1["put"] - c0["put"]
            s["get"] = c1["get"] - c0["get"]
            s["other"] = s["requests"] - s["put"] - s["get"]
            s["server_cpu_s"] = round(s1 - s0, 3)
        elif side == "b2":
            st = self.b2_stats()
            s["requests"] = st.get("requests", 0)
            calls = st.get("calls", {})
            s["put"] = calls.get("b2_upload_file", 0) + calls.get("b2_upload_part", 0)
            s["get"] = calls.get("b2_download_file_by_name", 0) + calls.get("b2_download_file_by_id", 0)
            s["other"] = s["requests"] - s["put"] - s["get"]
            s["b2_calls"] = calls
            s["server_cpu_s"] = round(self.b2_cpu() - s0, 3)
        text = open(logf, errors="replace").read()
        m = re.findall(r"requests: (.*)", text)
        if m:
            s["self_reported_requests"] = m[-1].strip()
        if r.returncode != 0:
            s["error_tail"] = text[-600:]
            log(f"  ! {argv[0]} exited {r.returncode}; see {logf}")
        return s

    # ------------------------------------------------------------ tool commands
    def ck_sync_cmd(self, cfg):
        return [self.ck, "-q", "--config", cfg, "sync"]

    def rclone_cmd(self, src, remote, matched):
        cmd = ["rclone", "copy", src, remote, "--config", self.rclone_conf]
        if matched:
            cmd += ["--transfers", str(self.transfers), "--checkers", str(max(8, self.transfers))]
        return cmd

    def aws_cmd(self, *args):
        return ["/usr/bin/aws", "--endpoint-url", self.rgw["S3_ENDPOINT"], *args]

    def s3_peers(self):
        peers = [("rclone", False), ("rclone_matched", True)]
        if self.transfers == 4:  # rclone's default --transfers is 4: the same run twice
            peers = [("rclone", False)]
        return peers

    # ------------------------------------------------------------ upload scenarios
    def upload_scenario(self, name):
        key = name
        src = self.dataset(key)
        count, size = self.sizes[key]
        reps = self.reps_for(name)
        tools = ["cloudkeep"] + [p for p, _ in self.s3_peers()] + ["aws"]
        if self.b2:
            # rclone's B2 uploads to the local server are slow (~10 ms per file at its default 4
            # transfers): the full mode keeps only the matched run to stay within ~30 minutes
            b2peers = ["rclone_b2"] + (["rclone_b2_matched"] if len(self.s3_peers()) > 1 else [])
            if self.mode == "full" and len(b2peers) > 1:
                b2peers = ["rclone_b2_matched"]
            tools += ["cloudkeep_b2"] + b2peers
        samples = {t: [] for t in tools}
        drop = size * count >= 64 * MiB
        for rep in range(reps):
            order = tools[rep % len(tools):] + tools[:rep % len(tools)]
            for tool in order:
                log(f"{name} rep {rep + 1}/{reps}: {tool}")
                self.warm(src)
                s = self.upload_once(name, tool, src)
                if drop:
                    self.cleanup_bucket(tool, s.get("bucket"))
                samples[tool].append(s)
        self.results["scenarios"][name] = {
            "files": count, "file_size": size, "bytes": count * size, "reps": reps,
            "transfers": self.transfers, "samples": samples}
        if name in ("medium", "large"):
            self.results["scenarios"][name]["cloudkeep_read_check"] = self.read_check(name, src)

    @staticmethod
    def warm(src):
        """Reads the data set once so that every measured upload starts with it in the page cache.
        This VM hands page cache back to the host between runs; without this, whichever tool ran
        first after a reclaim was charged the disk reads (seen as system CPU and wall time)."""
        buf = bytearray(1 << 20)
        for root, _, files in os.walk(src):
            for f in files:
                with open(os.path.join(root, f), "rb", buffering=0) as fh:
                    while fh.readinto(buf):
                        pass

    def read_check(self, name, src):
        """One extra (untimed) cloudkeep upload under strace: bytes read from the data set."""
        bucket = self.new_s3_bucket(name + "-strace")
        run_dir = os.path.join(self.work, "runs", f"{name}-strace")
        cfg = self.ck_config(run_dir, src, "s3", bucket)
        trace = os.path.join(self.work, "logs", f"{name}-strace")
        # -ff: one file per thread, so that no call is split into unfinished/resumed halves
        subprocess.run(["strace", "-ff", "-qq", "-y", "-e",
                        "trace=read,pread64,readv,preadv,preadv2,mmap", "-e", "signal=none",
                        "-o", trace, *self.ck_sync_cmd(cfg)],
                       env=self.base_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=3600)
        total, files, mmaps = 0, set(), 0
        pat = re.compile(r'^(\w+)\((\d+)<([^>]*)>.*\)\s+=\s+(-?\d+)')
        for tf in [f for f in os.listdir(os.path.dirname(trace))
                   if f.startswith(os.path.basename(trace) + ".")]:
            tf = os.path.join(os.path.dirname(trace), tf)
            for line in open(tf, errors="replace"):
                m = pat.search(line)
                if not m or not m.group(3).startswith(src + "/"):
                    continue
                if m.group(1) == "mmap":
                    mmaps += 1
                    continue
                n = int(m.group(4))
                if n > 0:
                    total += n
                    files.add(m.group(3))
            os.unlink(tf)
        self.drop_s3_bucket(bucket)
        count, size = self.sizes[name]
        return {"bytes_read": total, "data_bytes": count * size, "files_read": len(files),
                "mmaps_of_data": mmaps, "read_ratio": round(total / (count * size), 4)}

    def cleanup_bucket(self, tool, bucket):
        # RGW keeps objects in RAM (memstore): big buckets go as soon as they are measured.
        # B2 server buckets are files under the server's temporary directory, removed at the end.
        if bucket and "b2" not in tool:
            self.drop_s3_bucket(bucket)

    def upload_once(self, name, tool, src):
        env = self.base_env()
        if tool in ("cloudkeep", "cloudkeep_b2"):
            side = "b2" if tool.endswith("b2") else "s3"
            bucket = self.new_b2_bucket(name) if side == "b2" else self.new_s3_bucket(name)
            run_dir = os.path.join(self.work, "runs", f"{name}-{tool}-{self.run_no}")
            cfg = self.ck_config(run_dir, src, side, bucket)
            s = self.measure(self.ck_sync_cmd(cfg), env, side, f"{name}-{tool}")
        elif tool.startswith("rclone"):
            side = "b2" if "_b2" in tool else "s3"
            bucket = self.new_b2_bucket(name) if side == "b2" else self.new_s3_bucket(name)
            remote = ("ckb2:" if side == "b2" else "cks3:") + bucket + "/bench"
            s = self.measure(self.rclone_cmd(src, remote, tool.endswith("matched")), env, side,
                             f"{name}-{tool}")
        elif tool == "aws":
            side = "s3"
            bucket = self.new_s3_bucket(name)
            s = self.measure(self.aws_cmd("s3", "sync", src, f"s3://{bucket}/bench/",
                                          "--only-show-errors", "--no-progress"), env, "s3",
                             f"{name}-aws")
        else:
            raise ValueError(tool)
        s["bucket"] = bucket
        if side == "s3":
            n, b = self.s3_bucket_stats(bucket)
            s["objects"], s["object_bytes"] = n, b
        return s

    # ------------------------------------------------------------ no-op and few changes
    def tree_setup(self):
        """The 100k tree synced once by cloudkeep (bucket A) and by rclone (bucket B)."""
        if getattr(self, "_tree", None):
            return self._tree
        src = self.dataset("tree")
        count, _ = self.sizes["tree"]
        env = self.base_env()
        t = {"src": src}
        t["ck_bucket"] = self.new_s3_bucket("tree-ck")
        t["ck_dir"] = os.path.join(self.work, "runs", "tree-cloudkeep")
        t["ck_cfg"] = self.ck_config(t["ck_dir"], src, "s3", t["ck_bucket"])
        log(f"tree setup: cloudkeep uploads {count} files")
        t["ck_setup"] = self.measure(self.ck_sync_cmd(t["ck_cfg"]), env, "s3", "tree-setup-ck")
        t["rc_bucket"] = self.new_s3_bucket("tree-rclone")
        log(f"tree setup: rclone uploads {count} files (--transfers {max(16, self.transfers)})")
        t["rc_setup"] = self.measure(
            ["rclone", "copy", src, f"cks3:{t['rc_bucket']}/bench", "--config", self.rclone_conf,
             "--transfers", str(max(16, self.transfers)), "--checkers", "16"], env, "s3",
            "tree-setup-rclone")
        for k in ("ck", "rc"):
            n, _ = self.s3_bucket_stats(t[f"{k}_bucket"])
            t[f"{k}_setup"]["objects"] = n
            if n != count:
                log(f"  ! tree setup {k}: bucket holds {n} objects, expected {count}")
        self._tree = t
        return t

    def tree_tools(self):
        return ["cloudkeep"] + [p for p, _ in self.s3_peers()] + ["aws"]

    def tree_run(self, tool, t, tag):
        env = self.base_env()
        if tool == "cloudkeep":
            return self.measure(self.ck_sync_cmd(t["ck_cfg"]), env, "s3", f"{tag}-ck")
        if tool.startswith("rclone"):
            return self.measure(self.rclone_cmd(t["src"], f"cks3:{t['rc_bucket']}/bench",
                                                tool.endswith("matched")), env, "s3",
                                f"{tag}-{tool}")
        if tool == "aws":
            return self.measure(self.aws_cmd("s3", "sync", t["src"], f"s3://{t['rc_bucket']}/bench/",
                                             "--only-show-errors", "--no-progress"), env, "s3",
                                f"{tag}-aws")
        if tool == "find":
            return self.measure(["find", t["src"], "-printf", "%s %T@\\n"], env, "s3",
                                f"{tag}-find")
        raise ValueError(tool)

    def noop_scenario(self):
        t = self.tree_setup()
        reps = self.reps_for("noop")
        tools = self.tree_tools() + ["find"]
        samples = {x: [] for x in tools}
        # warm-up: one untimed find so that every tool starts with the tree's inodes cached
        subprocess.run(["find", t["src"], "-printf", "%s %T@\\n"], stdout=subprocess.DEVNULL)
        for rep in range(reps):
            order = tools[rep % len(tools):] + tools[:rep % len(tools)]
            for tool in order:
                log(f"noop rep {rep + 1}/{reps}: {tool}")
                samples[tool].append(self.tree_run(tool, t, "noop"))
        count, size = self.sizes["tree"]
        self.results["scenarios"]["noop"] = {
            "files": count, "file_size": size, "reps": reps, "transfers": self.transfers,
            "samples": samples, "setup": {"cloudkeep": t["ck_setup"], "rclone": t["rc_setup"]}}

    def few_scenario(self):
        t = self.tree_setup()
        count, size = self.sizes["tree"]
        reps = self.reps_for("few")
        tools = self.tree_tools()
        samples = {x: [] for x in tools}
        idx = [(k * 9973 + 17) % count for k in range(10)]
        version = 0
        try:
            for rep in range(reps):
                order = tools[rep % len(tools):] + tools[:rep % len(tools)]
                for tool in order:
                    # the same 10 files get new content and mtime = now before every run, so each
                    # tool finds exactly these 10 changed against what it (or its bucket) has
                    version += 1
                    self.modify("tree", version, idx)
                    log(f"few rep {rep + 1}/{reps}: {tool}")
                    samples[tool].append(self.tree_run(tool, t, "few"))
            # proof that cloudkeep opens only the changed files: one extra run under strace
            version += 1
            self.modify("tree", version, idx)
            trace = os.path.join(self.work, "logs", "few-ck-strace.txt")
            subprocess.run(["strace", "-f", "-qq", "-e", "trace=openat", "-o", trace, self.ck, "-q",
                            "--config", t["ck_cfg"], "sync"], env=self.base_env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
            opened = set()
            for line in open(trace, errors="replace"):
                m = re.search(r'openat\([^,]*, "([^"]+)"', line)
                if m and m.group(1).startswith(t["src"] + "/") and m.group(1).endswith(".bin"):
                    if "O_DIRECTORY" not in line:
                        opened.add(m.group(1))
            want = {os.path.join(t["src"], f"d{i // 1000:05d}", f"f{i:07d}.bin") for i in idx}
            verify = {"files_opened": len(opened), "changed": len(want),
                      "only_changed_opened": opened == want}
        finally:
            # back to the generated content, so that the cached data set stays valid
            self.modify("tree", 0, idx)
        self.results["scenarios"]["few"] = {
            "files": count, "changed": len(idx), "reps": reps, "transfers": self.transfers,
            "samples": samples, "cloudkeep_read_check": verify}
        self._tree_dirty = True

    # ------------------------------------------------------------ bucket statistics
    def stats_cold_scenario(self):
        t = self.tree_setup()
        count, _ = self.sizes["tree"]
        reps = self.reps_for("stats_cold")
        env = self.base_env()
        tools = ["cloudkeep", "rclone", "aws"]
        samples = {x: [] for x in tools}
        for rep in range(reps):
            order = tools[rep % len(tools):] + tools[:rep % len(tools)]
            for tool in order:
                log(f"stats_cold rep {rep + 1}/{reps}: {tool}")
                if tool == "cloudkeep":
                    s = self.measure([self.ck, "-q", "--config", t["ck_cfg"], "status", "--json"],
                                     env, "s3", "stats-ck")
                    try:
                        doc = json.loads(open(os.path.join(self.work, s["log"])).read()
                                         [open(os.path.join(self.work, s["log"])).read().index("{"):])
                        d = doc["destinations"][0]
                        s["reported_files"] = d["synced"]["files"]
                        s["reported_source"] = d["synced"].get("source")
                    except (ValueError, KeyError, IndexError):
                        pass
                elif tool == "rclone":
                    s = self.measure(["rclone", "size", f"cks3:{t['ck_bucket']}", "--json",
                                      "--config", self.rclone_conf], env, "s3", "stats-rclone")
                    try:
                        s["reported_files"] = json.loads(
                            open(os.path.join(self.work, s["log"])).read())["count"]
                    except (ValueError, KeyError):
                        pass
                else:
                    s = self.measure(self.aws_cmd("s3", "ls", "--recursive", "--summarize",
                                                  f"s3://{t['ck_bucket']}/"), env, "s3", "stats-aws")
                    m = re.search(r"Total Objects: (\d+)",
                                  open(os.path.join(self.work, s["log"])).read())
                    if m:
                        s["reported_files"] = int(m.group(1))
                samples[tool].append(s)
        self.results["scenarios"]["stats_cold"] = {"objects": count, "reps": reps,
                                                   "samples": samples}

    def stats_warm_scenario(self):
        t = self.tree_setup()
        count, _ = self.sizes["tree"]
        port = free_port()
        token = "ckbenchtoken0123456789"
        run_dir = os.path.join(self.work, "runs", "serve")
        os.makedirs(run_dir, exist_ok=True)
        shutil.copy(os.path.join(t["ck_dir"], "state.db"), os.path.join(run_dir, "state.db"))
        cfg = self.ck_config(run_dir, t["src"], "s3", t["ck_bucket"],
                             extra=f'\n[server]\nlisten = "127.0.0.1:{port}"\nscan_interval = 0\n')
        env = self.base_env()
        env["CLOUDKEEP_API_TOKEN"] = token
        c0 = self.rgw_counters()
        logf = open(os.path.join(self.work, "logs", "serve.log"), "w")
        p = subprocess.Popen([self.ck, "--config", cfg, "serve"], env=env, stdout=logf,
                             stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        res = {"objects": count}
        try:
            doc = None
            t0 = time.monotonic()
            while time.monotonic() - t0 < 300:
                try:
                    req = urllib.request.Request(base + "/api/status")
                    req.add_header("Authorization", "Bearer " + token)
                    doc = json.load(urllib.request.urlopen(req, timeout=10))
                    d = doc["destinations"][0]
                    if d["synced"].get("source") == "bucket":
                        break
                except Exception:  # noqa: BLE001 - not up yet
                    pass
                time.sleep(0.2)
            res["first_listing_s"] = round(time.monotonic() - t0, 2)
            d = doc["destinations"][0] if doc else {}
            res["reported_files"] = d.get("synced", {}).get("files")
            res["list_calls_before"] = d.get("list_calls")
            res["health_probes_before"] = d.get("health_probes")
            c1 = self.rgw_counters()
            res["requests_first_listing"] = c1["req"] - c0["req"]
            cpu0 = proc_cpu_s(p.pid)
            rate = self.a.warm_rate
            conns = 20
            dur = 8 if self.mode == "quick" else 30
            lua = os.path.join(HERE, "tools", "fixed_rate.lua")
            wenv = dict(env)
            wenv["CK_DELAY_MS"] = str(conns * 1000.0 / rate)
            wenv["CK_TOKEN"] = token
            wenv["CK_WRK_JSON"] = os.path.join(self.work, "logs", "wrk.json")
            log(f"stats_warm: wrk {conns} connections x {dur}s at ~{rate} req/s on /api/status")
            w = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{dur}s", "--latency", "-s", lua,
                                base + "/api/status"], env=wenv, capture_output=True, text=True,
                               timeout=dur + 120)
            open(os.path.join(self.work, "logs", "wrk.txt"), "w").write(w.stdout + w.stderr)
            c2 = self.rgw_counters()
            res["server_cpu_during_wrk_s"] = round(proc_cpu_s(p.pid) - cpu0, 3)
            wj = json.load(open(wenv["CK_WRK_JSON"]))
            res.update({k: wj[k] for k in wj})
            res["rate_target"] = rate
            res["rate_achieved"] = round(wj["requests"] / wj["duration_s"], 1)
            res["requests_to_bucket_during_wrk"] = c2["req"] - c1["req"]
            req = urllib.request.Request(base + "/api/status")
            req.add_header("Authorization", "Bearer " + token)
            d = json.load(urllib.request.urlopen(req, timeout=10))["destinations"][0]
            res["list_calls_after"] = d.get("list_calls")
            res["health_probes_after"] = d.get("health_probes")
            try:
                req = urllib.request.Request(base + "/metrics")
                req.add_header("Authorization", "Bearer " + token)
                met = urllib.request.urlopen(req, timeout=10).read().decode()
                res["metrics_list_calls"] = [l for l in met.splitlines()
                                             if "list_calls_total{" in l]
            except Exception:  # noqa: BLE001
                pass
            # The same load with a new connection per request: isolates per-connection effects
            # (e.g. Nagle + delayed ACK on kept-alive connections) from the handler's own cost.
            wenv["CK_WRK_JSON"] = os.path.join(self.work, "logs", "wrk-close.json")
            subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{dur}s", "--latency", "-s", lua,
                            "-H", "Connection: close", base + "/api/status"], env=wenv,
                           capture_output=True, text=True, timeout=dur + 120)
            try:
                wc = json.load(open(wenv["CK_WRK_JSON"]))
                wc["rate_achieved"] = round(wc["requests"] / wc["duration_s"], 1)
                res["connection_close"] = wc
            except (OSError, ValueError):
                pass
            res["rss_mb"] = round(int(re.search(r"VmHWM:\s+(\d+)", open(
                f"/proc/{p.pid}/status").read()).group(1)) / 1024, 1)
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            logf.close()
        self.results["scenarios"]["stats_warm"] = res

    # ------------------------------------------------------------ memory
    def memory_scenario(self):
        src = self.dataset("mem")
        count, _ = self.sizes["mem"]
        reps = self.reps_for("memory")
        env = self.base_env()
        empty = self.new_s3_bucket("mem-rclone")
        tools = ["cloudkeep", "cloudkeep_unreachable", "rclone"]
        samples = {x: [] for x in tools}
        subprocess.run(["find", src, "-printf", "%s %T@\\n"], stdout=subprocess.DEVNULL)
        for rep in range(reps):
            order = tools[rep % len(tools):] + tools[:rep % len(tools)]
            for tool in order:
                log(f"memory rep {rep + 1}/{reps}: {tool}")
                if tool.startswith("cloudkeep"):
                    run_dir = os.path.join(self.work, "runs", f"mem-{tool}-{self.run_no}")
                    cfg = self.ck_config(run_dir, src,
                                         "off" if tool == "cloudkeep" else "unreachable", "unused")
                    s = self.measure(self.ck_sync_cmd(cfg), env, "s3", f"mem-{tool}")
                    if tool == "cloudkeep_unreachable" and s["rc"] == 1:
                        s["rc_expected"] = 1  # exit 1: the destination could not be used
                        s["rc"] = 0
                    shutil.rmtree(run_dir, ignore_errors=True)
                else:
                    s = self.measure(["rclone", "copy", "--dry-run", src, f"cks3:{empty}/bench",
                                      "--config", self.rclone_conf], env, "s3", "mem-rclone")
                samples[tool].append(s)
        self.results["scenarios"]["memory"] = {"files": count, "reps": reps, "samples": samples}

    # ------------------------------------------------------------ micro-benchmarks
    def micro(self):
        out = os.path.join(self.work, "micro.json")
        log("micro-benchmarks")
        flt = self.a.micro_filter
        cmd = [self.a.micro, "--benchmark_format=json", f"--benchmark_out={out}",
               "--benchmark_out_format=json"]
        if self.mode == "quick":
            cmd.append("--benchmark_min_time=0.1")
        if flt:
            cmd.append(f"--benchmark_filter={flt}")
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       env=dict(os.environ, TMPDIR=self.work))
        bm = json.load(open(out))
        rows = {}
        for b in bm["benchmarks"]:
            r = {"name": b["name"], "real_ns": b["real_time"] * {"ns": 1, "us": 1e3, "ms": 1e6}.get(
                b.get("time_unit", "ns"), 1)}
            if "bytes_per_second" in b:
                r["mb_s"] = round(b["bytes_per_second"] / 1e6, 1)
            if "items_per_second" in b:
                r["items_s"] = round(b["items_per_second"], 1)
            rows[b["name"]] = r
        openssl = {}
        for algo in ("md5", "sha1", "sha256"):
            for nbytes in (16384,):
                r = subprocess.run(["openssl", "speed", "-evp", algo, "-bytes", str(nbytes),
                                    "-seconds", "1" if self.mode == "quick" else "3", "-mr"],
                                   capture_output=True, text=True)
                m = re.search(r"^\+F:\d+:[^:]+:([\d.]+)", r.stdout, re.M)
                if m:
                    openssl[algo] = round(float(m.group(1)) / 1e6, 1)  # bytes/s -> MB/s
        self.results["micro"] = {"benchmarks": rows, "openssl_speed_16KiB_mb_s": openssl,
                                 "context": bm.get("context", {})}

    def reps_for(self, name):
        if self.a.reps:
            return self.a.reps
        if self.mode == "quick":
            return {"memory": 1, "large": 2}.get(name, 3)
        return {"large": 3, "memory": 1, "noop": 2, "few": 2}.get(name, 3)

    # ------------------------------------------------------------ main
    def run(self, scenarios):
        t0 = time.monotonic()
        self.results["meta"] = {
            "mode": self.mode, "started": self.stamp, "host_cpus": os.cpu_count(),
            "cloudkeep_transfers": self.transfers, "rgw_endpoint": self.rgw["S3_ENDPOINT"],
            "b2": bool(self.b2), "versions": self.versions(), "scenarios": scenarios,
            "loadavg_start": os.getloadavg()}
        fn = {"small": lambda: self.upload_scenario("small"),
              "medium": lambda: self.upload_scenario("medium"),
              "large": lambda: self.upload_scenario("large"),
              "noop": self.noop_scenario, "few": self.few_scenario,
              "stats_cold": self.stats_cold_scenario, "stats_warm": self.stats_warm_scenario,
              "memory": self.memory_scenario}
        for sc in scenarios:
            if sc == "micro":
                continue
            ts = time.monotonic()
            try:
                fn[sc]()
            except Exception as e:  # noqa: BLE001 - record and go on with the others
                log(f"scenario {sc} failed: {e!r}")
                self.results["scenarios"].setdefault(sc, {})["error"] = repr(e)
            self.results["scenarios"].setdefault(sc, {})["elapsed_s"] = round(
                time.monotonic() - ts, 1)
        if "micro" in scenarios:
            try:
                self.micro()
            except Exception as e:  # noqa: BLE001
                log(f"micro-benchmarks failed: {e!r}")
                self.results["micro"] = {"error": repr(e)}
        self.results["meta"]["elapsed_s"] = round(time.monotonic() - t0, 1)
        self.results["meta"]["loadavg_end"] = os.getloadavg()
        import report  # bench/report.py
        return report.write(self.results, self.a.results_dir, self.stamp)

    def versions(self):
        def first(cmd):
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                                   env=self.base_env())
                return (r.stdout + r.stderr).strip().splitlines()[0]
            except (OSError, IndexError, subprocess.TimeoutExpired):
                return None
        return {"rclone": first(["rclone", "version"]),
                "aws": first(["/usr/bin/aws", "--version"]),
                "radosgw": first(["radosgw", "--version"]),
                "openssl": first(["openssl", "version"]),
                "wrk": first(["wrk", "-v"])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--scenarios", default=",".join(ALL_SCENARIOS + ["micro"]))
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--transfers", type=int, default=int(os.environ.get("CK_BENCH_TRANSFERS", 16)))
    ap.add_argument("--warm-rate", type=int, default=2000)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cloudkeep", required=True)
    ap.add_argument("--micro", required=True)
    ap.add_argument("--micro-filter", default="")
    ap.add_argument("--gendata", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--rgw-env", required=True)
    ap.add_argument("--b2-env", default="")
    ap.add_argument("--results-dir", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    scen = [s.strip() for s in a.scenarios.split(",") if s.strip()]
    for s in scen:
        if s not in ALL_SCENARIOS + ["micro"]:
            ap.error(f"unknown scenario {s}; known: {','.join(ALL_SCENARIOS + ['micro'])}")
    sys.path.insert(0, HERE)
    md = Bench(a).run(scen)
    print(open(md).read())


if __name__ == "__main__":
    main()
