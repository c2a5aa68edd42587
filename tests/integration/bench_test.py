"""Issue 12 item 3: `lockout bench`, the load generator, against a real lockout-enclave.

Each test starts lockout-enclave with an ephemeral p256 key on loopback TCP (or a small fake
server written here, for replies a correct enclave never sends) and runs `lockout bench` for about
2 s, checking its JSON report and exit status. Every test prints what it measured.
"""

import base64
import json
import os
import socket
import struct
import threading
import time
import unittest

import harness

RUN = ["--duration", "2", "--warmup", "0.3"]


def figure(text):
    print(f"FIGURE bench: {text}", flush=True)


class FakeEnclave:
    """A v2-only server on loopback that answers `public_key` with a given PEM and every `sign`
    with `sign_reply(i)` (a dict merged into {"id": ..}; None: no reply at all); one thread per
    connection."""

    def __init__(self, public_key_pem, sign_reply):
        self.pem = public_key_pem
        self.sign_reply = sign_reply
        self.count = 0
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.uri = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                out = b""
                while len(buf) >= 4:
                    n = struct.unpack(">I", buf[:4])[0]
                    if len(buf) < 4 + n:
                        break
                    req = json.loads(buf[4:4 + n])
                    buf = buf[4 + n:]
                    if req.get("op") == "public_key":
                        reply = {"ok": True, "key_type": "p256", "public_key_pem": self.pem,
                                 "spki_der": "", "public_key_raw": ""}
                    else:
                        with self.lock:
                            self.count += 1
                            i = self.count
                        reply = self.sign_reply(i)
                        if reply is None:
                            continue  # never answered
                    reply = {"id": req.get("id"), **reply}
                    body = json.dumps(reply).encode()
                    out += struct.pack(">I", len(body)) + body
                try:
                    conn.sendall(out)
                except OSError:
                    return

    def stop(self):
        self.stopping = True
        self.sock.close()


class BenchTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.enclave_bin = harness.binary("lockout-enclave")
        self.lockout = harness.binary("lockout")

    def start_enclave(self, *extra, listen="tcp://127.0.0.1:0"):
        return self.ephemeral_enclave(*extra, listen=listen)

    def bench(self, *args, timeout=60):
        return harness.run([self.lockout, "bench", *args], timeout=timeout)

    def bench_json(self, *args):
        r = self.bench(*args, "--json")
        try:
            report = json.loads(r.stdout)
        except json.JSONDecodeError:
            self.fail(f"not JSON (exit {r.returncode}): {r.stdout!r} {r.stderr!r}")
        return r, report

    def other_public_key(self):
        key = os.path.join(self.tmp, "other.key")
        pub = os.path.join(self.tmp, "other.pem")
        harness.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-out", key], check=True)
        harness.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True)
        return pub

    def enclave_public_key(self, uri):
        reply = harness.v2_call(uri, {"id": 1, "op": "public_key"})
        self.assertTrue(reply["ok"], reply)
        return reply["public_key_pem"]

    def assert_clean_run(self, r, report):
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertTrue(report["ok"], report)
        self.assertEqual(report["error_count"], 0, report["errors"])
        self.assertGreater(report["signatures_ok"], 0)
        self.assertEqual(report["signatures_ok"], report["sent"])
        self.assertEqual(report["verify"]["failed"], 0)
        self.assertEqual(report["verify"]["verified"],
                         min(report["verify"]["requested"], report["signatures_ok"]))
        lat = report["latency_ms"]
        self.assertLessEqual(lat["min"], lat["p50"])
        self.assertLessEqual(lat["p50"], lat["p90"])
        self.assertLessEqual(lat["p90"], lat["p99"])
        self.assertLessEqual(lat["p99"], lat["p99_9"])
        self.assertLessEqual(lat["p99_9"], lat["max"])
        self.assertGreater(lat["p50"], 0)

    def test_v2_closed_loop_two_connections(self):
        _, uri = self.start_enclave()
        threads = min(2, len(os.sched_getaffinity(0)))
        r, report = self.bench_json("--connect", uri, "--connections", "2", "--pipeline", "16",
                                    "--threads", str(threads), "--key-type", "p256", *RUN)
        self.assert_clean_run(r, report)
        self.assertEqual(report["threads"], threads)
        self.assertEqual(report["mode"], "closed")
        self.assertEqual(report["protocol"], "v2")
        self.assertEqual(report["connections"], 2)
        self.assertIsNone(report["requested_rate"])
        self.assertEqual(report["verify"]["requested"], 100)
        figure(f"v2 closed loop, 2 connections x 16: {report['throughput_per_s']:.0f} sig/s, "
               f"p50 {report['latency_ms']['p50']} ms, p99 {report['latency_ms']['p99']} ms")

    def test_v2_open_loop_reaches_the_requested_rate(self):
        _, uri = self.start_enclave()
        rate = 400
        r, report = self.bench_json("--connect", uri, "--connections", "2", "--rate", str(rate),
                                    *RUN)
        self.assert_clean_run(r, report)
        for key in ("endpoint", "protocol", "mode", "connections", "pipeline", "threads",
                    "duration_s", "warmup_s", "requested_rate", "achieved_rate", "scheduled",
                    "sent", "signatures_ok", "errors", "error_count", "throughput_per_s",
                    "latency_ms", "verify", "ok"):
            self.assertIn(key, report)
        for key in ("min", "mean", "p50", "p90", "p99", "p99_9", "max"):
            self.assertIn(key, report["latency_ms"])
        self.assertEqual(report["mode"], "open")
        self.assertEqual(report["requested_rate"], rate)
        self.assertEqual(report["scheduled"], 2 * rate)
        self.assertLess(abs(report["achieved_rate"] - rate) / rate, 0.10, report)
        figure(f"v2 open loop at {rate}/s: achieved {report['achieved_rate']}/s, "
               f"p50 {report['latency_ms']['p50']} ms, p99 {report['latency_ms']['p99']} ms")

    def test_v1_one_connection_per_request(self):
        _, uri = self.start_enclave()
        r, report = self.bench_json("--connect", uri, "--protocol", "v1", "--connections", "2",
                                    *RUN)
        self.assert_clean_run(r, report)
        self.assertEqual(report["protocol"], "v1")
        self.assertEqual(report["pipeline"], 1)
        figure(f"v1, 2 connections: {report['throughput_per_s']:.0f} sig/s, "
               f"p50 {report['latency_ms']['p50']} ms")

    def test_unix_socket_endpoint(self):
        path = os.path.join(self.tmp, "enclave.sock")
        _, uri = self.start_enclave(listen=f"unix://{path}")
        self.assertTrue(uri.startswith("unix://"), uri)
        for protocol in ("v2", "v1"):
            r, report = self.bench_json("--connect", uri, "--protocol", protocol, "--duration",
                                        "1", "--warmup", "0")
            self.assert_clean_run(r, report)
            self.assertEqual(report["endpoint"], uri)

    def test_human_readable_table(self):
        _, uri = self.start_enclave()
        r = self.bench("--connect", uri, "--duration", "1", "--warmup", "0")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = r.stdout.decode()
        for label in ("requests sent", "signatures ok", "errors", "throughput", "latency (ms)",
                      "p99.9", "verified", "result"):
            self.assertIn(label, out)

    def test_wrong_key_type_is_refused_before_any_load(self):
        _, uri = self.start_enclave()
        r = self.bench("--connect", uri, "--key-type", "ed25519", *RUN)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"the enclave holds a p256 key, not ed25519", r.stderr)
        self.assertEqual(r.stdout, b"")
        r = self.bench("--connect", uri, "--key-type", "rsa", *RUN)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"--key-type", r.stderr)

    def test_unreachable_enclave_is_one_clear_error(self):
        port = harness.free_port()  # nobody listens there
        for extra in ([], ["--verify-sample", "0"], ["--protocol", "v1", "--verify-sample", "0"]):
            r = self.bench("--connect", f"tcp://127.0.0.1:{port}", *RUN, *extra, timeout=30)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(b"cannot reach the enclave at tcp://127.0.0.1:", r.stderr)
            self.assertIn(b"is lockout-enclave running", r.stderr)
        r = self.bench("--connect", "unix:///nonexistent/lockout.sock", *RUN)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"cannot reach the enclave", r.stderr)

    def test_usage_errors_exit_2(self):
        for args in ([], ["--connect", "http://x"], ["--connect", "tcp://127.0.0.1:1",
                     "--connections", "0"], ["--connect", "tcp://127.0.0.1:1", "--rate", "-5"],
                     ["--connect", "tcp://127.0.0.1:1", "--pipeline", "many"],
                     ["--connect", "tcp://127.0.0.1:1", "--protocol", "v3"],
                     ["--connect", "tcp://127.0.0.1:1", "--threads", "100000"],
                     ["--connect", "tcp://127.0.0.1:1", "--duration", "0"]):
            r = self.bench(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertTrue(r.stderr, args)
        r = self.bench("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"Examples:", r.stdout)
        self.assertIn(b"Exit status", r.stdout)

    def test_public_key_of_another_key_fails_verification(self):
        _, uri = self.start_enclave()
        other = self.other_public_key()
        for protocol in ("v2", "v1"):
            r, report = self.bench_json("--connect", uri, "--protocol", protocol,
                                        "--public-key", other, "--verify-sample", "10", *RUN)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(report["verify"]["failed"], 10, report)
            self.assertEqual(report["verify"]["verified"], 0)
            self.assertEqual(report["error_count"], 0)
            self.assertFalse(report["ok"])
            self.assertIn(b"did not verify", r.stderr)

    def test_server_returning_wrong_signatures_fails(self):
        # A fake enclave that hands out the real enclave's public key and signatures that are
        # well-formed DER but wrong (r = s = 1).
        _, uri = self.start_enclave()
        fake = FakeEnclave(self.enclave_public_key(uri),
                           lambda i: {"ok": True, "signature": "3006020101020101"})
        self._stops.append(fake.stop)
        r, report = self.bench_json("--connect", fake.uri, "--verify-sample", "5", "--pipeline",
                                    "4", *RUN)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(report["verify"]["failed"], 5, report)
        self.assertGreater(report["signatures_ok"], 0)

    def test_enclave_errors_are_counted_by_reason(self):
        # Every third sign request is answered "busy": the report names the reason, exit 1.
        _, uri = self.start_enclave()
        pem = self.enclave_public_key(uri)
        real = {}

        def reply(i):
            if i % 3 == 0:
                return {"ok": False, "error": "busy"}
            return {"ok": False, "error": "key not loaded"} if i % 3 == 1 else \
                {"ok": True, "signature": real["sig"]}
        # One real signature of an unrelated message: verification is off for this run.
        real["sig"] = harness.v2_call(uri, {"id": 1, "op": "sign",
                                            "message": base64.b64encode(b"x").decode()})["signature"]
        fake = FakeEnclave(pem, reply)
        self._stops.append(fake.stop)
        r, report = self.bench_json("--connect", fake.uri, "--verify-sample", "0", "--pipeline",
                                    "8", *RUN)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertGreater(report["errors"].get("busy", 0), 0, report)
        self.assertGreater(report["errors"].get("key not loaded", 0), 0, report)
        self.assertEqual(report["error_count"], report["sent"] - report["signatures_ok"])
        self.assertIn(b"request(s) failed", r.stderr)

    def test_unanswered_requests_time_out_and_the_run_still_ends(self):
        _, uri = self.start_enclave()
        fake = FakeEnclave(self.enclave_public_key(uri), lambda i: None)
        self._stops.append(fake.stop)
        start = time.monotonic()
        r, report = self.bench_json("--connect", fake.uri, "--verify-sample", "0", "--pipeline",
                                    "4", "--timeout", "0.5", "--duration", "1.5", "--warmup", "0")
        elapsed = time.monotonic() - start
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertGreater(report["errors"].get("timeout", 0), 0, report)
        self.assertEqual(report["signatures_ok"], 0)
        self.assertEqual(report["error_count"], report["sent"])
        # 1.5 s measured + at most one 0.5 s timeout to drain, plus process start-up (slow for
        # an ASan build on a busy machine).
        self.assertLess(elapsed, 8.0)  # far below the default --timeout of 10 s
        figure(f"silent server: {report['errors']['timeout']} timeouts in {elapsed:.2f} s")

    def test_reply_for_another_request_is_a_bad_reply(self):
        # Replies must echo the request's id; one that does not fails the requests in flight on
        # that connection as "bad reply" and the connection is replaced.
        _, uri = self.start_enclave()
        fake = FakeEnclave(self.enclave_public_key(uri),
                           lambda i: {"id": 10**9 + i, "ok": True, "signature": "3006020101020101"})
        self._stops.append(fake.stop)
        r, report = self.bench_json("--connect", fake.uri, "--verify-sample", "0", "--pipeline",
                                    "4", "--duration", "1", "--warmup", "0")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertGreater(report["errors"].get("bad reply", 0), 0, report)
        self.assertEqual(report["signatures_ok"], 0)


if __name__ == "__main__":
    unittest.main()
