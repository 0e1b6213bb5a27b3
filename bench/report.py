"""Turns bench.py's raw results into medians, ratios, target checks, Markdown and JSON."""
import json
import os
import statistics

PEERS_S3 = ("rclone", "rclone_matched", "aws")
PEERS_B2 = ("rclone_b2", "rclone_b2_matched")
METRICS = ("wall_s", "cpu_s", "rss_mb", "requests", "put", "get", "other", "server_cpu_s")


def med(samples, key):
    xs = [s[key] for s in samples if isinstance(s, dict) and s.get(key) is not None]
    return statistics.median(xs) if xs else None


def summarize(samples):
    out = {k: med(samples, k) for k in METRICS}
    out["n"] = len(samples)
    out["failed_runs"] = sum(1 for s in samples if s.get("rc", 0) != 0)
    sr = [s.get("self_reported_requests") for s in samples if s.get("self_reported_requests")]
    if sr:
        out["self_reported_requests"] = sr[-1]
    objs = [s.get("objects") for s in samples if s.get("objects") is not None]
    if objs:
        out["objects"] = objs
    rep = [s.get("reported_files") for s in samples if s.get("reported_files") is not None]
    if rep:
        out["reported_files"] = rep[-1]
    return out


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def fmt(x, nd=2):
    if x is None:
        return "–"
    if isinstance(x, float) and x.is_integer() and nd != 3:
        return str(int(x))
    if isinstance(x, float):
        if abs(x) >= 100:
            return f"{x:.0f}"
        return f"{x:.{nd}f}"
    return str(x)


def best(med_by_tool, peers, key):
    vals = [(med_by_tool[p][key], p) for p in peers if p in med_by_tool and
            med_by_tool[p].get(key) is not None and med_by_tool[p]["failed_runs"] == 0]
    return min(vals) if vals else (None, None)


def check(targets, name, ok, measured, goal):
    targets.append({"target": name, "goal": goal, "measured": measured,
                    "met": None if ok is None else bool(ok)})


def analyse(res):
    out = {"scenarios": {}, "targets": []}
    T = out["targets"]
    cpus = res.get("meta", {}).get("host_cpus") or 2
    for name, sc in res.get("scenarios", {}).items():
        if "samples" not in sc:
            out["scenarios"][name] = {k: v for k, v in sc.items()}
            continue
        meds = {tool: summarize(s) for tool, s in sc["samples"].items() if s}
        ck = meds.get("cloudkeep")
        rows = {}
        for tool, m in meds.items():
            base = meds.get("cloudkeep_b2") if "b2" in tool else ck
            row = dict(m)
            if tool not in ("cloudkeep", "cloudkeep_b2", "cloudkeep_unreachable") and base:
                row["ratio_wall"] = ratio(base["wall_s"], m["wall_s"])
                row["ratio_cpu"] = ratio(base["cpu_s"], m["cpu_s"])
                row["ratio_rss"] = ratio(base["rss_mb"], m["rss_mb"])
            rows[tool] = row
        entry = {k: v for k, v in sc.items() if k != "samples"}
        entry["medians"] = rows
        out["scenarios"][name] = entry
        if not ck:
            continue
        if name in ("small", "medium", "large"):
            bw, bwp = best(meds, PEERS_S3, "wall_s")
            bc, bcp = best(meds, PEERS_S3, "cpu_s")
            entry["best_peer_wall"] = bwp
            entry["best_peer_cpu"] = bcp
            puts = [s for t, ss in sc["samples"].items() if "b2" not in t for s in ss
                    if s.get("put")]
            if puts and name != "large":  # one PUT per file: the per-request server cost bounds wall
                per_put = statistics.median(s["server_cpu_s"] / s["put"] for s in puts)
                entry["server_cpu_per_put_ms"] = round(per_put * 1000, 2)
                entry["server_floor_wall_s"] = round(per_put * sc["files"] / cpus, 2)
                if ck.get("wall_s"):
                    entry["cloudkeep_vs_server_floor"] = ratio(ck["wall_s"],
                                                               entry["server_floor_wall_s"])
            if name == "large" and puts:
                # multipart: the server's CPU for the whole upload (per byte) bounds the wall time
                srv = statistics.median(s["server_cpu_s"] for s in puts)
                entry["server_cpu_per_gib_s"] = round(srv / (sc["bytes"] / 2**30), 2)
                entry["server_floor_wall_s"] = round(srv / cpus, 2)
                if ck.get("wall_s"):
                    entry["cloudkeep_vs_server_floor"] = ratio(ck["wall_s"],
                                                               entry["server_floor_wall_s"])
            if name == "small":
                check(T, "small: client CPU <= 0.25x best peer", (ratio(ck["cpu_s"], bc) or 9) <= 0.25,
                      f"{fmt(ratio(ck['cpu_s'], bc), 3)}x ({bcp})", "<= 0.25")
                check(T, "small: wall <= 0.9x best peer", (ratio(ck["wall_s"], bw) or 9) <= 0.9,
                      f"{fmt(ratio(ck['wall_s'], bw), 3)}x ({bwp}); server floor "
                      f"{fmt(entry.get('server_floor_wall_s'))} s at "
                      f"{fmt(entry.get('server_cpu_per_put_ms'))} ms server CPU/PUT", "<= 0.9")
            else:
                check(T, f"{name}: wall <= 1.0x best peer", (ratio(ck["wall_s"], bw) or 9) <= 1.0,
                      f"{fmt(ratio(ck['wall_s'], bw), 3)}x ({bwp})", "<= 1.0")
                rc = sc.get("cloudkeep_read_check")
                if rc:
                    check(T, f"{name}: each file read once", rc.get("read_ratio") is not None and
                          rc["read_ratio"] <= 1.01,
                          f"{fmt(rc.get('read_ratio'), 3)}x the data read", "1.0x")
            ckb = meds.get("cloudkeep_b2")
            bb, bbp = best(meds, PEERS_B2, "wall_s")
            if ckb and bb:
                entry["b2_ratio_wall"] = ratio(ckb["wall_s"], bb)
        elif name == "noop":
            rw = meds.get("rclone", {}).get("wall_s")
            fw = meds.get("find", {}).get("wall_s")
            speedup = ratio(rw, ck["wall_s"])
            check(T, "noop: >= 20x faster than rclone", (speedup or 0) >= 20,
                  f"{fmt(speedup, 1)}x faster", ">= 20x")
            check(T, "noop: <= 2x bare stat walk (find)", (ratio(ck["wall_s"], fw) or 9) <= 2,
                  f"{fmt(ratio(ck['wall_s'], fw), 2)}x find ({fmt(ck['wall_s'], 3)} s vs "
                  f"{fmt(fw, 3)} s)", "<= 2x")
            check(T, "noop: zero list / PUT requests", ck.get("requests") == 0,
                  f"{fmt(ck.get('requests'))} requests at the server; cloudkeep says: "
                  f"{ck.get('self_reported_requests', '?')}", "0")
        elif name == "few":
            rc = sc.get("cloudkeep_read_check", {})
            ok = rc.get("only_changed_opened") and ck.get("put") == sc.get("changed")
            check(T, "few: only the changed files read and sent", ok,
                  f"opened {rc.get('files_opened')} of {sc.get('files')} files "
                  f"(changed {sc.get('changed')}); {fmt(ck.get('put'))} PUT, "
                  f"{fmt(ck.get('requests'))} requests in all", "only the 10 changed")
        elif name == "stats_cold":
            rw = meds.get("rclone", {}).get("wall_s")
            check(T, "cold statistics: <= 1.0x rclone size", (ratio(ck["wall_s"], rw) or 9) <= 1.0,
                  f"{fmt(ratio(ck['wall_s'], rw), 3)}x", "<= 1.0x")
        elif name == "memory":
            rr = meds.get("rclone", {}).get("rss_mb")
            worst = max((m["rss_mb"] for t, m in meds.items() if t.startswith("cloudkeep")
                         and m.get("rss_mb")), default=None)
            check(T, "memory: peak RSS <= 0.25x rclone", (ratio(worst, rr) or 9) <= 0.25,
                  f"{fmt(ratio(worst, rr), 3)}x ({fmt(worst, 1)} MB vs {fmt(rr, 1)} MB)", "<= 0.25x")
    w = res.get("scenarios", {}).get("stats_warm")
    if w and "p99_ms" in w:
        probes = (w.get("health_probes_after") or 0) - (w.get("health_probes_before") or 0)
        ok = w["p99_ms"] < 5 and w.get("list_calls_after") == w.get("list_calls_before") and \
            (w.get("requests_to_bucket_during_wrk") or 0) <= probes and \
            w.get("rate_achieved", 0) >= 0.9 * w.get("rate_target", 2000)
        check(T, "warm statistics: p99 < 5 ms at 2,000 req/s, zero list calls", ok,
              f"p50 {w['p50_ms']:.2f} ms, p99 {w['p99_ms']:.2f} ms at {w['rate_achieved']} req/s; "
              f"list calls {w.get('list_calls_before')} -> {w.get('list_calls_after')}, "
              f"{w.get('requests_to_bucket_during_wrk')} bucket requests during the load "
              f"({(w.get('health_probes_after') or 0) - (w.get('health_probes_before') or 0)} of "
              f"them health probes)",
              "< 5 ms, 0")
    return out


LABEL = {"small": "small files (first upload)", "medium": "medium files", "large": "large files",
         "noop": "no-op re-run", "few": "few changes", "stats_cold": "bucket statistics, cold",
         "memory": "memory (scan + state)"}


def markdown(res, an):
    meta = res.get("meta", {})
    L = [f"# cloudkeep benchmark — {meta.get('mode')} mode, {meta.get('started')}", ""]
    L.append(f"Host: {meta.get('host_cpus')} CPUs, load average at start "
             f"{', '.join(f'{x:.1f}' for x in meta.get('loadavg_start', []))}, at end "
             f"{', '.join(f'{x:.1f}' for x in meta.get('loadavg_end', []))}. cloudkeep "
             f"`transfers = {meta.get('cloudkeep_transfers')}`; `rclone_matched` = rclone with "
             f"`--transfers {meta.get('cloudkeep_transfers')}`. Upload runs start with the data set "
             f"in the page cache (read once just before). Medians of the repetitions; "
             f"ratio = cloudkeep / that tool (below 1 is better for cloudkeep). "
             f"Requests are counted by the server (RGW perf counters, B2 server counters).")
    L.append("")
    v = meta.get("versions", {})
    L.append("Versions: " + "; ".join(f"{k}: {x}" for k, x in v.items() if x))
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| target | goal | measured | met |")
    L.append("|---|---|---|---|")
    for t in an["targets"]:
        met = {True: "yes", False: "**no**", None: "?"}[t["met"]]
        L.append(f"| {t['target']} | {t['goal']} | {t['measured']} | {met} |")
    L.append("")
    L.append("## Scenarios")
    L.append("")
    L.append("| scenario | tool | runs | wall s | client CPU s | peak RSS MB | requests "
             "(PUT/GET+HEAD/other) | server CPU s | wall ratio | CPU ratio | RSS ratio |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, e in an["scenarios"].items():
        if "medians" not in e:
            continue
        lab = LABEL.get(name, name)
        if "files" in e:
            lab += f" ({e['files']:,} files"
            if e.get("file_size"):
                fs = e["file_size"]
                lab += f" × {fs // 1048576} MiB" if fs >= 1048576 else f" × {fs // 1024} KiB" \
                    if fs >= 1024 else f" × {fs} B"
            lab += ")"
        elif "objects" in e:
            lab += f" ({e['objects']:,} objects)"
        for tool, m in e["medians"].items():
            req = "–" if m.get("requests") is None else \
                f"{m['requests']:.0f} ({m['put']:.0f}/{m['get']:.0f}/{m['other']:.0f})"
            fails = f" ({m['failed_runs']} failed)" if m.get("failed_runs") else ""
            L.append(f"| {lab} | {tool}{fails} | {m['n']} | {fmt(m['wall_s'], 3)} | "
                     f"{fmt(m['cpu_s'], 3)} | {fmt(m['rss_mb'], 1)} | {req} | "
                     f"{fmt(m['server_cpu_s'])} | {fmt(m.get('ratio_wall'), 3)} | "
                     f"{fmt(m.get('ratio_cpu'), 3)} | {fmt(m.get('ratio_rss'), 3)} |")
            lab = ""
        extras = []
        if e.get("server_cpu_per_gib_s") is not None:
            extras.append(f"server (RGW + OSD + mon) CPU {e['server_cpu_per_gib_s']} s per GiB → "
                          f"server-bound floor {e['server_floor_wall_s']} s on "
                          f"{meta.get('host_cpus')} CPUs (cloudkeep at "
                          f"{fmt(e.get('cloudkeep_vs_server_floor'))}× that)")
        elif e.get("server_cpu_per_put_ms") is not None:
            extras.append(f"server (RGW + OSD + mon) CPU per PUT {e['server_cpu_per_put_ms']} ms → "
                          f"server-bound floor {e['server_floor_wall_s']} s on "
                          f"{meta.get('host_cpus')} CPUs (cloudkeep at "
                          f"{fmt(e.get('cloudkeep_vs_server_floor'))}× that)")
        if e.get("b2_ratio_wall") is not None:
            extras.append(f"B2: cloudkeep / best rclone wall {e['b2_ratio_wall']}")
        rc = e.get("cloudkeep_read_check")
        if rc:
            extras.append("cloudkeep read check (strace): " +
                          ", ".join(f"{k} {v}" for k, v in rc.items()))
        if e.get("error"):
            extras.append(f"error: {e['error']}")
        for x in extras:
            L.append(f"| | _{x}_ | | | | | | | | | |")
    w = an["scenarios"].get("stats_warm")
    if w and "p99_ms" in w:
        L.append("")
        L.append("## Bucket statistics, warm (`cloudkeep serve`, `GET /api/status` under wrk)")
        L.append("")
        L.append("| objects | offered req/s | achieved req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | "
                 "errors | list calls before → after | bucket requests during load | "
                 "serve CPU s during load | serve peak RSS MB |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        L.append(f"| {w.get('objects')} | {w.get('rate_target')} | {w.get('rate_achieved')} | "
                 f"{w['p50_ms']:.3f} | {w['p90_ms']:.3f} | {w['p99_ms']:.3f} | {w['p999_ms']:.3f} | "
                 f"{w.get('errors', 0) + w.get('non_2xx', 0)} | {w.get('list_calls_before')} → "
                 f"{w.get('list_calls_after')} | {w.get('requests_to_bucket_during_wrk')} | "
                 f"{w.get('server_cpu_during_wrk_s')} | {w.get('rss_mb')} |")
        wc = w.get("connection_close")
        if wc:
            L.append(f"| same, `Connection: close` (a new connection per request) | "
                     f"{w.get('rate_target')} | {wc['rate_achieved']} | {wc['p50_ms']:.3f} | "
                     f"{wc['p90_ms']:.3f} | {wc['p99_ms']:.3f} | {wc['p999_ms']:.3f} | "
                     f"{wc.get('errors', 0) + wc.get('non_2xx', 0)} | | | | |")
    elif w and w.get("error"):
        L.append(f"\nstats_warm error: {w['error']}")
    mi = res.get("micro", {})
    if mi.get("benchmarks"):
        L.append("")
        L.append("## Micro-benchmarks (Google Benchmark)")
        L.append("")
        L.append("| benchmark | time per op | throughput | openssl speed -evp (16 KiB) | ratio |")
        L.append("|---|---|---|---|---|")
        os_ = mi.get("openssl_speed_16KiB_mb_s", {})
        for n, b in mi["benchmarks"].items():
            tput, lim, r = "", "", ""
            if "mb_s" in b:
                tput = f"{b['mb_s']:.0f} MB/s"
                algo = {"BM_Md5": "md5", "BM_Sha1": "sha1", "BM_Sha256": "sha256"}.get(
                    n.split("/")[0])
                if algo and algo in os_:
                    lim = f"{os_[algo]:.0f} MB/s"
                    r = f"{b['mb_s'] / os_[algo]:.3f}"
            elif "items_s" in b:
                tput = f"{b['items_s']:,.0f} /s"
            ns = b["real_ns"]
            t = f"{ns / 1e6:.2f} ms" if ns >= 1e6 else f"{ns / 1e3:.2f} µs" if ns >= 1e3 else \
                f"{ns:.0f} ns"
            L.append(f"| {n} | {t} | {tput} | {lim} | {r} |")
    L.append("")
    L.append(f"Total time {meta.get('elapsed_s')} s. Raw samples, logs references and every "
             f"figure: the JSON file of the same name.")
    return "\n".join(L) + "\n"


def write(res, results_dir, stamp):
    os.makedirs(results_dir, exist_ok=True)
    an = analyse(res)
    doc = {"meta": res.get("meta"), "targets": an["targets"], "summary": an["scenarios"],
           "micro": res.get("micro"), "raw": res.get("scenarios")}
    mode = res.get("meta", {}).get("mode", "full")
    base = os.path.join(results_dir, f"{stamp}-{mode}")
    md = markdown(res, an)
    with open(base + ".json", "w") as f:
        json.dump(doc, f, indent=1, default=str)
    with open(base + ".md", "w") as f:
        f.write(md)
    for ext, text in ((".json", json.dumps(doc, indent=1, default=str)), (".md", md)):
        with open(os.path.join(results_dir, "latest" + ext), "w") as f:
            f.write(text)
        with open(os.path.join(results_dir, f"latest-{mode}" + ext), "w") as f:
            f.write(text)
    return base + ".md"


if __name__ == "__main__":
    # Re-renders a results JSON (e.g. after a change to this file): report.py RESULTS.json
    import sys

    src = json.load(open(sys.argv[1]))
    raw = {"meta": src["meta"], "scenarios": src["raw"], "micro": src.get("micro") or {}}
    print(write(raw, os.path.dirname(os.path.abspath(sys.argv[1])), src["meta"]["started"]))
