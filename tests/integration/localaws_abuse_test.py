"""Abuse of lockout local-aws and lockout-relay by a local client (issue 10, item 6).

Real processes, real sockets, bounded loops:

* IMDS tokens: 12,000 token requests all get a token (a capped table used to refuse every token
  after 10,000, so the relay could no longer refresh credentials); TTLs are honoured; expired,
  altered, foreign and pre-restart tokens get 401 as on EC2.
* Out of descriptors (RLIMIT_NOFILE lowered on the running process, then more connections than
  it can accept): local-aws and the relay neither spin nor flood their logs, and serve again
  once descriptors free up.
* Connection caps: local-aws's HTTP port closes connections beyond --max-connections; the relay
  answers "relay busy" beyond its --max-connections.
* The NSM socket: 80 idle connections (more than its cap) do not keep a fresh client out, and an
  idle connection is closed after --nsm-idle-timeout.

Figures (token counts, CPU, latencies) are printed so runs against old and new binaries can be
compared.
"""

import http.client
import json
import os
import resource
import socket
import time
import unittest

import harness

CLK_TCK = os.sysconf("SC_CLK_TCK")
# A relay request answered without AWS: the name is not on --allow-secret.
NOT_ALLOWED = b'{"request_type": "get_secret", "payload": {"secret_name": "other"}}$$$'


def cpu_seconds(pid):
    """User + system CPU time of every thread of `pid` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cores_used(pid, seconds):
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


def count_events(log, event):
    return sum(1 for line in log.splitlines() if f'"event":"{event}"' in line)


def figure(text):
    print(f"FIGURE {text}", flush=True)



def start_relay(test, la, max_connections):
    """A lockout-relay in front of local-aws `la` with --max-connections; (Process, listen URI)."""
    ready = os.path.join(test.tmp, "relay.json")
    relay = harness.Process([harness.binary("lockout-relay"), "--listen", "tcp://127.0.0.1:0",
                             "--allow-secret", "abuse-test", "--max-connections",
                             str(max_connections), "--ready-file", ready],
                            test.tmp, "relay", env=la.process_env(relay=True))
    test._stops.append(relay.stop)
    harness.wait_for_file(ready, relay.proc, what="relay ready file")
    with open(ready) as f:
        return relay, json.load(f)["listen"]

class Imds:
    """A keep-alive HTTP connection to local-aws's IMDS."""

    def __init__(self, endpoint):
        host, port = endpoint[len("http://"):].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=10)

    def request(self, method, path, headers):
        self.conn.request(method, path, headers=headers)
        r = self.conn.getresponse()
        return r.status, r.read().decode(), r

    def token(self, ttl="21600"):
        return self.request("PUT", "/latest/api/token",
                            {"X-aws-ec2-metadata-token-ttl-seconds": ttl})

    def credentials_status(self, token):
        status, _, _ = self.request("GET", "/latest/meta-data/iam/security-credentials/",
                                    {"X-aws-ec2-metadata-token": token})
        return status

    def close(self):
        self.conn.close()


class ImdsTokenTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.la = self.local_aws()
        self.imds = Imds(self.la.ready["imds_endpoint"])
        self.addCleanup(self.imds.close)

    def pipelined_tokens(self, count, batch=500):
        """`count` token requests pipelined on one keep-alive connection (fast enough to flood);
        returns [(status, body)]."""
        host, port = self.la.ready["imds_endpoint"][len("http://"):].rsplit(":", 1)
        request = (b"PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"
                   b"X-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 0\r\n\r\n")
        replies = []
        buf = b""
        with socket.create_connection((host, int(port)), timeout=30) as s:
            while len(replies) < count:
                n = min(batch, count - len(replies))
                s.sendall(request * n)
                want = len(replies) + n
                while len(replies) < want:
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        chunk = s.recv(1 << 16)
                        self.assertTrue(chunk, "connection closed mid-flood")
                        buf += chunk
                        continue
                    head = buf[:end].decode("latin-1").split("\r\n")
                    length = next(int(h.split(":", 1)[1]) for h in head
                                  if h.lower().startswith("content-length:"))
                    while len(buf) < end + 4 + length:
                        chunk = s.recv(1 << 16)
                        self.assertTrue(chunk, "connection closed mid-reply")
                        buf += chunk
                    replies.append((int(head[0].split()[1]),
                                    buf[end + 4:end + 4 + length].decode()))
                    buf = buf[end + 4 + length:]
        return replies

    def test_twelve_thousand_tokens_are_all_issued_and_the_first_still_works(self):
        statuses = {}
        tokens = []
        start = time.monotonic()
        for status, body in self.pipelined_tokens(12000):
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                tokens.append(body)
        elapsed = time.monotonic() - start
        figure(f"imds tokens: {statuses} in {elapsed:.1f} s, {len(set(tokens))} distinct")
        self.assertEqual(statuses, {200: 12000})
        self.assertEqual(len(set(tokens)), 12000)
        self.assertEqual(self.imds.credentials_status(tokens[0]), 200)
        self.assertEqual(self.imds.credentials_status(tokens[-1]), 200)
        # The relay's path: a fresh token and credentials, right after the flood.
        status, token, _ = self.imds.token(ttl="60")
        self.assertEqual(status, 200)
        self.assertEqual(self.imds.credentials_status(token), 200)

    def test_the_ttl_is_honoured_and_out_of_range_ttls_are_refused(self):
        status, token, response = self.imds.token(ttl="1")
        self.assertEqual(status, 200)
        self.assertEqual(response.getheader("X-aws-ec2-metadata-token-ttl-seconds"), "1")
        self.assertEqual(self.imds.credentials_status(token), 200)
        time.sleep(1.3)
        self.assertEqual(self.imds.credentials_status(token), 401)
        for ttl in ("0", "21601", "-5", "abc", ""):
            self.assertEqual(self.imds.token(ttl=ttl)[0], 400, ttl)
        self.assertEqual(self.imds.token(ttl="21600")[0], 200)

    def test_altered_foreign_and_pre_restart_tokens_get_401(self):
        status, token, _ = self.imds.token()
        self.assertEqual(status, 200)
        middle = len(token) // 2
        altered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]
        for bad in (altered, token[:-4], token + "AAAA", "x" * 4096, "not a token"):
            self.assertEqual(self.imds.credentials_status(bad), 401, bad[:20])

        other = self.local_aws(name="other")
        other_imds = Imds(other.ready["imds_endpoint"])
        self.addCleanup(other_imds.close)
        status, foreign, _ = other_imds.token()
        self.assertEqual(status, 200)
        self.assertEqual(other_imds.credentials_status(foreign), 200)
        self.assertEqual(self.imds.credentials_status(foreign), 401)

        # A restart voids every token (a new per-process key); new ones work at once.
        self.imds.close()
        self.la.stop()
        restarted = self.local_aws(name="restarted", state_dir=self.la.state_dir)
        imds = Imds(restarted.ready["imds_endpoint"])
        self.addCleanup(imds.close)
        self.assertEqual(imds.credentials_status(token), 401)
        status, fresh, _ = imds.token()
        self.assertEqual(status, 200)
        self.assertEqual(imds.credentials_status(fresh), 200)


class OutOfDescriptorsTest(harness.TempDirTestCase):
    """The process is left a few spare descriptors, then sent more connections than it can
    accept: those stay queued and the listener stays readable."""

    SPARE_FDS = 6
    EXTRA_CONNECTIONS = 30
    MEASURE_SECONDS = 3.0

    def starve(self, pid):
        """Lowers the soft limit to a few above what is open; restored at cleanup or by
        `unstarve`. The limit goes back up before the flood is closed: in a sanitizer build, a
        process at its limit that meets an uncached UBSan vptr check aborts (the check needs a
        pipe), which is the sanitizer's limit, not the server's."""
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_fds(pid) + self.SPARE_FDS, hard))
        self._limit = (pid, soft, hard)
        self.addCleanup(self.unstarve)

    def unstarve(self):
        pid, soft, hard = self._limit
        try:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        except ProcessLookupError:
            pass

    def flood(self, address, count):
        socks = []
        for _ in range(count):
            s = socket.create_connection(address, timeout=5)
            socks.append(s)
        self.addCleanup(lambda: [s.close() for s in socks])
        return socks

    def test_local_aws_neither_spins_nor_floods_its_log_and_recovers(self):
        la = self.local_aws()
        pid = la.process.proc.pid
        host, port = la.ready["imds_endpoint"][len("http://"):].rsplit(":", 1)
        self.starve(pid)
        socks = self.flood((host, int(port)), self.EXTRA_CONNECTIONS)
        harness.wait_until(lambda: count_events(la.process.log(), "http_accept_failed") >= 1,
                           "local-aws to run out of descriptors", timeout=15,
                           detail=lambda: la.process.log()[-2000:])
        # Only now the NSM socket (it shares the descriptor table), so its accepts fail too
        # rather than take the last descriptors (see `starve` on sanitizer builds).
        nsm = []
        for _ in range(5):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(la.ready["nsm_socket"])
            nsm.append(s)
        time.sleep(1.0)  # let the process reach the limit
        log_before = la.process.log()
        cores = cores_used(pid, self.MEASURE_SECONDS)
        log_window = la.process.log()[len(log_before):]
        http_lines = count_events(log_window, "http_accept_failed")
        nsm_lines = count_events(log_window, "nsm_accept_failed")
        figure(f"local-aws out of descriptors: {cores:.2f} cores, {http_lines} http_accept_failed "
               f"and {nsm_lines} nsm_accept_failed lines in {self.MEASURE_SECONDS:.0f} s")
        self.assertLess(cores, 0.15)
        self.assertLessEqual(http_lines, 1)
        self.assertLessEqual(nsm_lines, 1)
        self.assertGreaterEqual(count_events(la.process.log(), "http_accept_failed"), 1,
                                la.process.log()[-2000:])
        self.assertGreaterEqual(count_events(la.process.log(), "nsm_accept_failed"), 1,
                                la.process.log()[-2000:])
        self.assertIsNone(la.process.proc.poll())

        self.unstarve()
        for s in socks + nsm:
            s.close()
        start = time.monotonic()

        def served():
            imds = Imds(la.ready["imds_endpoint"])
            try:
                return imds.token()[0] == 200
            except OSError:
                return False
            finally:
                imds.close()

        harness.wait_until(served, "local-aws to serve again", timeout=20)
        figure(f"local-aws served again {time.monotonic() - start:.2f} s after descriptors freed")
        self.assertIsNone(la.process.proc.poll())

    def test_the_relay_neither_spins_nor_floods_its_log_and_recovers(self):
        la = self.local_aws()
        relay, uri = start_relay(self, la, max_connections=500)
        pid = relay.proc.pid
        self.starve(pid)
        socks = self.flood(harness.tcp_address(uri), self.EXTRA_CONNECTIONS)
        time.sleep(1.0)
        log_before = relay.log()
        cores = cores_used(pid, self.MEASURE_SECONDS)
        lines = count_events(relay.log()[len(log_before):], "relay_accept_failed")
        figure(f"relay out of descriptors: {cores:.2f} cores, {lines} relay_accept_failed lines "
               f"in {self.MEASURE_SECONDS:.0f} s")
        self.assertLess(cores, 0.15)
        self.assertLessEqual(lines, 1)
        self.assertGreaterEqual(count_events(relay.log(), "relay_accept_failed"), 1,
                                relay.log()[-2000:])
        self.assertIsNone(relay.proc.poll())

        self.unstarve()
        for s in socks:
            s.close()

        def served():
            try:
                reply = harness.v1_request(uri, NOT_ALLOWED)
            except OSError:
                return False
            return b"secret not allowed" in reply

        harness.wait_until(served, "the relay to serve again", timeout=20)
        self.assertIsNone(relay.proc.poll())


class ConnectionCapTest(harness.TempDirTestCase):
    def test_local_aws_closes_http_connections_beyond_the_cap(self):
        la = self.local_aws(extra_args=("--max-connections", "4"))
        held = []
        for _ in range(4):
            imds = Imds(la.ready["imds_endpoint"])
            self.assertEqual(imds.token()[0], 200)  # open and counted
            held.append(imds)
        self.addCleanup(lambda: [i.close() for i in held])
        extra = Imds(la.ready["imds_endpoint"])
        self.addCleanup(extra.close)
        with self.assertRaises((ConnectionError, http.client.HTTPException, OSError)):
            extra.token()
        self.assertEqual(held[0].token()[0], 200)  # those within the cap keep working

        held.pop().close()

        def served():
            imds = Imds(la.ready["imds_endpoint"])
            try:
                return imds.token()[0] == 200
            except (ConnectionError, http.client.HTTPException, OSError):
                return False
            finally:
                imds.close()

        harness.wait_until(served, "a free connection slot", timeout=10)
        self.assertIn("http_connection_refused", la.process.log())

    def test_the_relay_answers_busy_beyond_its_cap(self):
        la = self.local_aws()
        relay, uri = start_relay(self, la, max_connections=2)
        held = [harness.connect(uri) for _ in range(2)]
        self.addCleanup(lambda: [s.close() for s in held])
        time.sleep(0.3)  # both accepted
        reply = harness.v1_request(uri, NOT_ALLOWED)
        self.assertIn(b"relay busy", reply)
        for s in held:
            s.close()

        def served():
            reply = harness.v1_request(uri, NOT_ALLOWED)
            return b"secret not allowed" in reply

        harness.wait_until(served, "the relay to serve again", timeout=10)


class NsmSocketTest(harness.TempDirTestCase):
    def describe_pcr(self, socket_path):
        return harness.run([harness.binary("lockout"), "nsm", "describe-pcr", "0",
                            "--nsm", f"unix://{socket_path}"], timeout=30)

    def test_eighty_idle_connections_do_not_keep_a_fresh_client_out(self):
        la = self.local_aws()
        path = la.ready["nsm_socket"]
        idle = []
        for _ in range(80):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(path)
            idle.append(s)
        self.addCleanup(lambda: [s.close() for s in idle])
        time.sleep(1.0)  # all accepted (or queued)
        start = time.monotonic()
        r = self.describe_pcr(path)
        elapsed = time.monotonic() - start
        figure(f"nsm: fresh client behind 80 idle connections: exit {r.returncode} "
               f"in {elapsed:.2f} s")
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(json.loads(r.stdout)["index"], 0)
        self.assertIn("nsm_connection_evicted", la.process.log())
        self.assertLess(elapsed, 20)

    def test_an_idle_connection_is_closed_after_the_idle_timeout(self):
        la = self.local_aws(extra_args=("--nsm-idle-timeout", "1"))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.settimeout(10)
        s.connect(la.ready["nsm_socket"])
        start = time.monotonic()
        self.assertEqual(s.recv(1), b"")  # EOF from the service, not our timeout
        elapsed = time.monotonic() - start
        figure(f"nsm: idle connection closed after {elapsed:.2f} s (--nsm-idle-timeout 1)")
        self.assertLess(elapsed, 5)
        self.assertEqual(self.describe_pcr(la.ready["nsm_socket"]).returncode, 0)

    def test_a_bad_idle_timeout_is_a_usage_error(self):
        r = harness.run([harness.binary("lockout"), "local-aws", "--state",
                         os.path.join(self.tmp, "s"), "--nsm-idle-timeout", "0"], timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"--nsm-idle-timeout", r.stderr)


if __name__ == "__main__":
    unittest.main()
