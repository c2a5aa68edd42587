#!/usr/bin/env python3
"""Turns bench/run.sh's results (JSON lines) into the figures table of docs/PERFORMANCE.md.

  report.py RESULTS.jsonl DOC.md WRITE_DOC(0|1) "settings"

Every figure comes from RESULTS; each target is checked against the measured value and the table
says met or missed, and by how much. The table replaces the text between the
<!-- bench-run:begin --> and <!-- bench-run:end --> markers of DOC.md when WRITE_DOC is 1.
"""

import datetime
import json
import os
import platform
import re
import subprocess
import sys


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main():
    results_path, doc_path, write_doc, settings = sys.argv[1:5]
    runs = {}
    for line in open(results_path):
        r = json.loads(line)
        runs[r["run"]] = r
    raw = runs["raw"]
    raw_rate = raw["per_second"]
    raw_cpu = raw["signatures"] / raw["cpu_seconds"] if raw.get("cpu_seconds") else raw_rate

    def per_cpu(r):
        return r["signatures_ok"] / r["enclave_cpu_s"] if r.get("enclave_cpu_s") else 0.0

    def verdict(ok, text):
        return ("met" if ok else "**missed**") + (f" ({text})" if text else "")

    lines = []
    lines.append(f"Measured {datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC')} by "
                 f"`bench/run.sh` in one run ({settings}).")
    openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    load = open("/proc/loadavg").read().split()[:3]
    lines.append("")
    lines.append(f"Machine: {cpu_model()}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
                 f"{openssl}; load average at the end {' '.join(load)}. The load generator shares "
                 "these CPUs with the enclave, so per-worker figures are signatures per enclave "
                 "CPU-second (from /proc/PID/stat): what one dedicated core would do.")
    lines.append("")
    lines.append(f"Raw single-thread sign rate ({raw['key_type']}): **{raw_rate:,.0f}/s** "
                 f"({raw_cpu:,.0f} per CPU-second).")
    secure = runs.get("raw-secure-heap")
    if secure and secure.get("cpu_seconds"):
        secure_cpu = secure["signatures"] / secure["cpu_seconds"]
        lines.append(f"The same with OpenSSL's secure heap set up as the enclave sets it up (its "
                     f"private BIGNUMs in locked memory): {secure_cpu:,.0f} per CPU-second, "
                     f"{secure_cpu / raw_cpu:.2f} × raw — part of every enclave figure below.")
    lines.append("")
    lines.append("| run | workers | signatures/s | per enclave CPU-s | ÷ raw | p50 ms | p99 ms | p99.9 ms | errors |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    labels = {"v2-1conn": "v2, 1 connection × {p}", "v2-many": "v2, {c} connections × {p}",
              "v1": "v1, {c} at a time (connection per request)",
              "open": "v2 open loop, {c} connections at {rate:,.0f}/s (half the peak)"}
    targets = []
    for t in (1, 2):
        for kind in ("v2-1conn", "v2-many", "v1", "open"):
            r = runs.get(f"{kind}-t{t}")
            if r is None:
                continue
            lat = r["latency_ms"]
            label = labels[kind].format(p=r["pipeline"], c=r["connections"],
                                        rate=r.get("requested_rate") or 0)
            pc = per_cpu(r)
            lines.append(f"| {label} | {t} | {r['throughput_per_s']:,.0f} | {pc:,.0f} | "
                         f"{pc / raw_cpu:.2f} | {lat['p50']} | {lat['p99']} | {lat['p99_9']} | "
                         f"{r['error_count']} |")
            if kind in ("v2-1conn", "v2-many"):
                targets.append((f"v2 ≥ 0.9 × raw per worker ({kind[3:]}, {t} worker{'s' * (t > 1)})",
                                f"{pc / raw_cpu:.2f}", pc / raw_cpu >= 0.9,
                                "" if pc / raw_cpu >= 0.9 else f"{(0.9 - pc / raw_cpu) * 100:.0f} points short"))
            if kind == "v1" and raw["key_type"] == "p256":
                targets.append((f"v1 ≥ 0.5 × raw ({t} worker{'s' * (t > 1)})", f"{pc / raw_cpu:.2f}",
                                pc / raw_cpu >= 0.5,
                                "" if pc / raw_cpu >= 0.5 else f"{(0.5 - pc / raw_cpu) * 100:.0f} points short"))
            if kind == "open":
                targets.append((f"p99 ≤ 1 ms at half the peak ({t} worker{'s' * (t > 1)})",
                                f"{lat['p99']} ms", lat["p99"] <= 1.0,
                                "" if lat["p99"] <= 1.0 else f"{lat['p99'] - 1.0:.2f} ms over"))
    lines.append("")
    cold = runs.get("cold")
    if cold:
        lines.append(f"Cold start (process start to first signature against local-aws, "
                     f"{cold['runs']} runs): median **{cold['median_ms']} ms** "
                     f"(min {cold['min_ms']}, max {cold['max_ms']}).")
        targets.append(("cold start median ≤ 150 ms", f"{cold['median_ms']} ms",
                        cold["median_ms"] <= 150,
                        "" if cold["median_ms"] <= 150 else f"{cold['median_ms'] - 150:.0f} ms over"))
    for t in (1, 2):
        r = runs.get(f"rss-t{t}")
        if r:
            mib = r["vmhwm_kib"] / 1024
            lines.append(f"Enclave peak RSS after the runs above, {t} worker{'s' * (t > 1)}: "
                         f"**{mib:.1f} MiB**.")
            targets.append((f"peak RSS ≤ 32 MiB ({t} worker{'s' * (t > 1)})", f"{mib:.1f} MiB",
                            mib <= 32, "" if mib <= 32 else f"{mib - 32:.1f} MiB over"))
    eif = runs.get("eif")
    if eif:
        if eif.get("built"):
            lines.append(f"EIF size: {eif['eif_bytes'] / 2**20:.1f} MiB with a {eif['blobs']} "
                         f"kernel of {eif['kernel_bytes'] / 2**20:.1f} MiB and "
                         f"{eif['image_files']} image files; nitro-cli needs at least "
                         f"{eif['min_memory_mib']} MiB of enclave memory for it (4 x the EIF).")
        else:
            lines.append(f"EIF size: not measured — the enclave image cannot be built yet "
                         f"(`lockout build-eif` does not exist). What would go in it: "
                         f"lockout-enclave {eif['binary_bytes'] / 2**20:.1f} MiB, with the "
                         f"{eif['libraries']} shared libraries it loads "
                         f"{eif['with_libraries_bytes'] / 2**20:.1f} MiB (uncompressed).")
    lines.append("")
    lines.append("| target | measured | verdict |")
    lines.append("|---|---:|---|")
    for name, value, ok, why in targets:
        lines.append(f"| {name} | {value} | {verdict(ok, why)} |")
    table = "\n".join(lines)
    print(table)
    if write_doc == "1" and os.path.exists(doc_path):
        text = open(doc_path).read()
        if "<!-- bench-run:begin -->" not in text:
            sys.exit(f"{doc_path} has no <!-- bench-run:begin --> marker")
        new = re.sub(r"(<!-- bench-run:begin -->\n).*?(<!-- bench-run:end -->)",
                     lambda m: m.group(1) + table + "\n" + m.group(2), text, flags=re.S)
        with open(doc_path, "w") as f:
            f.write(new)


if __name__ == "__main__":
    main()
