"""Abuse of lockout-relay's own log and of its frame limits, by whoever reaches its port.

Real processes (lockout local-aws and lockout-relay), real sockets, bounded loops:

* append_log flood: at most 60 requests of 128 lines each within 4 s. The relay writes at most
  the rate limit's burst plus rate x elapsed of them into its log (--enclave-log-lines-per-second
  20: a burst of one full request, 128 lines), counts the rest in
  lockout_relay_enclave_log_lines_dropped_total, warns about them at most once per 10 s, and
  keeps serving get_secret throughout.
* Bad-request flood: 3000 malformed, unknown-type and not-allowed requests (pipelined, in
  batches of 100, on one connection) plus 100 connections sending garbage frames. Every one is
  answered and counted in lockout_relay_errors_total; the relay's warnings about them are held to
  a token bucket (20 lines/s, a burst of 100: refusal_log.h), the rest counted in
  lockout_relay_log_lines_suppressed_total and summarised by at most one "relay_log_suppressed"
  line per 10 s; get_secret is served throughout.
* Frame limits with --audit-log (where the relay reads frames of up to 1 MiB): a get_secret
  frame over 64 KiB, v1 or v2, is answered {"error": "request too large"} as soon as 64 KiB of it
  have arrived (the rest is never sent); a get_secret of 8..64 KiB is answered "request too large"
  on a connection that stays usable; an append_audit frame over 64 KiB still gets through the
  frame limits (its bad lines are a "bad request"); the relay keeps serving get_secret.
"""

import json
import os
import re
import socket
import struct
import time
import urllib.request

import harness

SECRET = "flood-test"
BLOB = b"flood-test-ciphertext-bytes"
LINES_PER_SECOND = 20
BURST_LINES = 128  # max(20/s x 5 s, one full request of kMaxLogLines)
REFUSAL_LINES_PER_SECOND = 20  # RefusalLogLimits
REFUSAL_BURST = 100
REFUSAL_EVENTS = ("relay_request", "relay_connection_error", "relay_busy")


def refusal_warnings(log):
    n = 0
    for line in log.splitlines():
        if '"level":"warn"' in line and any(f'"event":"{e}"' in line for e in REFUSAL_EVENTS):
            n += 1
    return n


def count_events(log, event):
    return sum(1 for line in log.splitlines() if f'"event":"{event}"' in line)


def enclave_lines(log):
    return sum(1 for line in log.splitlines() if '"source":"enclave"' in line)


def metric(text, name):
    m = re.search(rf"^{re.escape(name)} (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def v1_frame(obj):
    return json.dumps(obj).encode() + b"$$$"


def v2_frame(payload):
    return struct.pack(">I", len(payload)) + payload


def read_v1_reply(sock):
    data = harness.read_until(sock, b"$$$")
    assert data.endswith(b"$$$"), data[:200]
    return json.loads(data[:-3])


def read_to_eof(sock, limit=1 << 16):
    data = b""
    while len(data) < limit:  # bounded; the relay closes after an error reply
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class RelayFloodTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.la = self.local_aws()
        self.la.boto3_client("secretsmanager", "admin").create_secret(Name=SECRET,
                                                                       SecretBinary=BLOB)
        ready = os.path.join(self.tmp, "relay.json")
        self.relay = harness.Process(
            [harness.binary("lockout-relay"), "--listen", "tcp://127.0.0.1:0",
             "--allow-secret", SECRET, "--metrics", "tcp://127.0.0.1:0",
             "--audit-log", os.path.join(self.tmp, "audit.jsonl"),
             "--enclave-log-lines-per-second", str(LINES_PER_SECOND),
             "--enclave-log-bytes-per-second", "1000000", "--ready-file", ready],
            self.tmp, "relay", env=self.la.process_env(relay=True))
        self._stops.append(self.relay.stop)
        harness.wait_for_file(ready, self.relay.proc, what="relay ready file")
        with open(ready) as f:
            info = json.load(f)
        self.uri = info["listen"]
        self.metrics_url = info["metrics"].replace("tcp://", "http://") + "/metrics"

    def metrics(self):
        with urllib.request.urlopen(self.metrics_url, timeout=10) as r:
            return r.read().decode()

    def assert_get_secret_works(self):
        reply = json.loads(harness.v1_request(self.uri, v1_frame(
            {"request_type": "get_secret", "payload": {"secret_name": SECRET}}))[:-3])
        self.assertIn("result", reply, reply)

    def test_append_log_flood_is_bounded_and_the_relay_keeps_serving(self):
        self.assert_get_secret_works()
        line = {"level": "info", "event": "flood", "filler": "x" * 100}
        request = {"request_type": "append_log", "counters": {}, "dropped": 0,
                   "lines": [dict(line, i=i) for i in range(128)]}
        c = harness.V2(self.uri)
        sent = appended = 0
        start = time.monotonic()
        for i in range(60):  # bounded: 60 requests or 4 s
            if time.monotonic() - start > 4:
                break
            reply = c.call(request)
            self.assertIn("result", reply, reply)
            sent += 128
            appended += reply["result"]["appended"]
            if i % 20 == 0:
                self.assert_get_secret_works()  # served throughout the flood
        elapsed = time.monotonic() - start
        c.close()
        self.assert_get_secret_works()

        bound = BURST_LINES + LINES_PER_SECOND * elapsed + 1
        written = enclave_lines(self.relay.log())
        print(f"FIGURE append_log flood: {sent} lines sent in {elapsed:.2f}s, {written} written "
              f"(bound {bound:.0f})", flush=True)
        self.assertGreaterEqual(sent, 10 * 128, "the flood was too slow to test the limit")
        self.assertEqual(written, appended)
        self.assertLessEqual(written, bound)
        self.assertGreaterEqual(written, BURST_LINES)  # the first full request got through
        text = self.metrics()
        self.assertEqual(metric(text, "lockout_relay_enclave_log_lines_dropped_total"),
                         sent - written, text)
        self.assertEqual(metric(text, "lockout_relay_enclave_log_lines_total"), written)
        log = self.relay.log()
        self.assertGreaterEqual(count_events(log, "enclave_log_rate_limited"), 1)
        self.assertLessEqual(count_events(log, "enclave_log_rate_limited"), 1 + elapsed / 10)

    def test_bad_request_flood_is_counted_but_its_warnings_are_bounded(self):
        self.assert_get_secret_works()
        log_before = len(self.relay.log().splitlines())
        bad = [v2_frame(b"not json"),
               v2_frame(json.dumps({"request_type": "nope"}).encode()),
               v2_frame(json.dumps({"request_type": "get_secret",
                                    "payload": {"secret_name": "not-allowed"}}).encode())]
        expected = [{"error": "bad request"}, {"error": "unknown request_type"},
                    {"error": "secret not allowed"}]
        c = harness.V2(self.uri)
        start = time.monotonic()
        sent = 0
        for batch in range(30):  # bounded: 30 batches of 100 pipelined requests
            c.sock.sendall(b"".join(bad[(sent + i) % 3] for i in range(100)))
            for i in range(100):
                self.assertEqual(c.recv(), expected[(sent + i) % 3])
            sent += 100
            if batch % 10 == 0:
                self.assert_get_secret_works()  # served throughout the flood
        c.close()
        for i in range(100):  # framing errors: answered, then the connection is closed
            with harness.connect(self.uri) as s:
                if i % 2 == 0:
                    s.sendall(b"GET / HTTP/1.1\r\n\r\n")  # neither v1 nor v2
                    self.assertEqual(read_to_eof(s), b'{"error":"bad request"}$$$')
                else:
                    s.sendall(struct.pack(">I", 2 << 20) + b"x")  # a v2 frame over 1 MiB
                    self.assertEqual(read_to_eof(s), v2_frame(b'{"error":"request too large"}'))
        elapsed = time.monotonic() - start
        self.assert_get_secret_works()

        log_lines = self.relay.log().splitlines()
        grown = len(log_lines) - log_before
        warnings = refusal_warnings(self.relay.log())
        summaries = count_events(self.relay.log(), "relay_log_suppressed")
        bound = REFUSAL_BURST + REFUSAL_LINES_PER_SECOND * elapsed + 1
        print(f"FIGURE bad-request flood: {sent} bad requests + 100 garbage connections in "
              f"{elapsed:.2f}s; {warnings} warnings written (bound {bound:.0f}), {summaries} "
              f"summaries, log grew by {grown} lines", flush=True)
        self.assertLessEqual(warnings, bound)
        self.assertGreaterEqual(warnings, REFUSAL_BURST)
        self.assertGreaterEqual(summaries, 1)
        self.assertLessEqual(summaries, 1 + elapsed / 10)
        # Everything else the log gained: one info line per good get_secret (5 of them).
        self.assertLessEqual(grown, bound + summaries + 10)
        text = self.metrics()
        self.assertEqual(metric(text, 'lockout_relay_errors_total{kind="bad_request"}'), 1000, text)
        self.assertEqual(metric(text, 'lockout_relay_errors_total{kind="unknown_request_type"}'),
                         1000, text)
        self.assertEqual(metric(text, 'lockout_relay_errors_total{kind="denied"}'), 1000, text)
        self.assertEqual(metric(text, 'lockout_relay_errors_total{kind="framing"}'), 100, text)
        suppressed = sum(
            metric(text, f'lockout_relay_log_lines_suppressed_total{{reason="{r}"}}') or 0
            for r in ("bad_request", "unknown_request_type", "denied", "framing"))
        self.assertEqual(suppressed, sent + 100 - warnings, text)

    def test_oversized_frames_for_small_ops_are_refused_early(self):
        pad = " " * (100 << 10)
        big = ('{"request_type":"get_secret","payload":{"secret_name":"' + SECRET + '"}' + pad +
               "}").encode()
        # v1: the reply comes once 64 KiB of the frame are in; the rest is never sent.
        with harness.connect(self.uri) as s:
            s.sendall(big[:(64 << 10) + 8192])
            self.assertEqual(read_v1_reply(s), {"error": "request too large"})
        # v2: the same, even though its length prefix is within the 1 MiB audit limit.
        with harness.connect(self.uri) as s:
            s.sendall(v2_frame(big)[:(64 << 10) + 8192])
            head = s.recv(4, socket.MSG_WAITALL)
            (n,) = struct.unpack(">I", head)
            self.assertEqual(json.loads(s.recv(n, socket.MSG_WAITALL)),
                             {"error": "request too large"})
        # Over get_secret's own 8 KiB but within 64 KiB: refused, and the connection stays usable.
        c = harness.V2(self.uri)
        body = json.dumps({"request_type": "get_secret",
                           "payload": {"secret_name": SECRET}})[:-1] + " " * (16 << 10) + "}"
        c.sock.sendall(v2_frame(body.encode()))
        self.assertEqual(c.recv(), {"error": "request too large"})
        reply = c.call({"request_type": "get_secret", "payload": {"secret_name": SECRET}})
        self.assertIn("result", reply, reply)
        c.close()
        # An append_audit frame over 64 KiB passes the frame limits (its lines are not records).
        audit = json.dumps({"request_type": "append_audit", "lines": ["x" * 1000] * 100},
                           separators=(",", ":")).encode()
        self.assertGreater(len(audit), 64 << 10)
        reply = json.loads(harness.v1_request(self.uri, audit + b"$$$")[:-3])
        self.assertEqual(reply, {"error": "bad request"})
        self.assert_get_secret_works()
        log = self.relay.log()
        self.assertIn("only append_audit may be larger", log)
        self.assertIn("get_secret request of", log)
        text = self.metrics()
        self.assertGreaterEqual(metric(text, 'lockout_relay_errors_total{kind="framing"}'), 2, text)


if __name__ == "__main__":
    import unittest
    unittest.main()
