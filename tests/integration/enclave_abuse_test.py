"""Issue 10 item 5: no client can crash lockout-enclave or grow it without bound.

Each test starts a real lockout-enclave (an ephemeral key; a local NSM from `lockout local-aws`
where attest is needed) on loopback TCP and attacks it with real sockets in bounded loops, then
checks that it survived, still serves a fresh client, and stayed within stated bounds of memory
(VmHWM/VmRSS from /proc), CPU time and log lines. Every test prints what it measured.
"""

import base64
import json
import os
import resource
import socket
import statistics
import struct
import threading
import time
import unittest

import harness

# Bounds. The release build stays far below them (see the figures each test prints); the ASan
# build (what ctest runs) carries shadow memory and its allocator's own caches.
STORM_PEAK_RSS_MIB = 256
MANY_CONNECTIONS_PEAK_RSS_MIB = 320
MEMORY_BUDGET_MIB = 16


def v2_frame(obj):
    body = json.dumps(obj).encode()
    return struct.pack(">I", len(body)) + body


def sign_frame(i):
    return v2_frame({"id": i, "op": "sign", "message": base64.b64encode(b"m%d" % i).decode()})


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024  # kB -> MiB
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def reset_close(sock):
    """Closes with RST (SO_LINGER 0), as a client that resets would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class EnclaveAbuseTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.enclave_bin = harness.binary("lockout-enclave")
        # Many sockets in this process too.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < min(hard, 8192):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))

    def start_enclave(self, *extra, nsm=None):
        env = dict(os.environ)
        # ASan builds: a small quarantine, so RSS measures our buffers rather than ASan's cache of
        # freed blocks (256 MiB by default).
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16").lstrip(":")
        return self.ephemeral_enclave(*extra, threads=2, nsm=nsm or "", env=env)

    def assert_serves(self, proc, uri):
        self.assertIsNone(proc.proc.poll(), f"the enclave died:\n{proc.log()[-4000:]}")
        # 30 s: under the attacks, on a loaded 2-core machine with ASan, a fresh client waits its
        # turn (release: under 3 s); before the fixes it was never answered, or the enclave died.
        reply = harness.v2_call(uri, {"id": "fresh", "op": "sign",
                                      "message": base64.b64encode(b"fresh").decode()}, timeout=30.0)
        self.assertTrue(reply["ok"], reply)
        self.assertEqual(reply["id"], "fresh")

    def test_pipeline_and_reset_storm_neither_crashes_nor_grows_the_enclave(self):
        # 64 clients pipeline sign requests, never read, and reset; for 10 s. (Before: a
        # connection freed while the worker's pending list still pointed at it: heap-use-after-
        # free within 3-11 s.)
        proc, uri = self.start_enclave()
        host, port = harness.tcp_address(uri)
        burst = b"".join(sign_frame(i) for i in range(400))
        deadline = time.monotonic() + 10.0
        errors = []
        rounds = [0]

        def client():
            while time.monotonic() < deadline and proc.proc.poll() is None:
                try:
                    s = socket.create_connection((host, port), timeout=5)
                    s.sendall(burst)
                    time.sleep(0.005)
                    reset_close(s)
                    rounds[0] += 1
                except OSError as e:  # refused/reset while the server is loaded: keep going
                    errors.append(e)
                    time.sleep(0.01)

        threads = [threading.Thread(target=client) for _ in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        peak = proc_status(proc.proc.pid, "VmHWM")
        print(f"\n[storm] {rounds[0]} connections pipelined and reset in 10 s, "
              f"{len(errors)} client errors, enclave peak RSS {peak} MiB")
        self.assertGreater(rounds[0], 64)
        self.assert_serves(proc, uri)
        self.assertLess(peak, STORM_PEAK_RSS_MIB)

    def test_connections_that_never_read_stay_within_the_memory_budget(self):
        # 2,000 connections each pipeline 64 KiB of sign requests and never read their replies.
        # (Before: 950 MB, and 538 MB still held after they closed.)
        proc, uri = self.start_enclave("--memory-budget-mib", str(MEMORY_BUDGET_MIB))
        host, port = harness.tcp_address(uri)
        base = proc_status(proc.proc.pid, "VmRSS")
        burst = b"".join(sign_frame(i) for i in range(1000))  # ~64 KiB
        socks = []
        try:
            for _ in range(2000):
                s = socket.create_connection((host, port), timeout=10)
                s.setblocking(False)
                try:
                    s.send(burst)
                except OSError:
                    pass
                socks.append(s)
            time.sleep(3.0)  # let the enclave answer what it will
            during = proc_status(proc.proc.pid, "VmRSS")
            self.assert_serves(proc, uri)
        finally:
            for s in socks:
                reset_close(s)
        harness.wait_until(lambda: self.connections_closed(proc), "the enclave to see the closes",
                           timeout=20)
        time.sleep(1.0)  # one sweep: freed buffers are returned (malloc_trim)
        peak = proc_status(proc.proc.pid, "VmHWM")
        after = proc_status(proc.proc.pid, "VmRSS")
        print(f"\n[2000 non-reading connections] RSS at start {base} MiB, with them {during} MiB, "
              f"peak {peak} MiB, after they closed {after} MiB (budget {MEMORY_BUDGET_MIB} MiB)")
        self.assert_serves(proc, uri)
        self.assertLess(peak, MANY_CONNECTIONS_PEAK_RSS_MIB)
        # Memory comes back: at most the budget (plus slack for allocator pages) above the start.
        self.assertLess(after, base + MEMORY_BUDGET_MIB + 48)

    def connections_closed(self, proc):
        # The enclave has closed every client socket: only a handful of descriptors left.
        return len(os.listdir(f"/proc/{proc.proc.pid}/fd")) < 64

    def test_out_of_descriptors_the_accept_loop_backs_off_without_spinning(self):
        # (Before: past RLIMIT_NOFILE the accept loop spun at 65% CPU logging 7.8 MB/s.)
        # --no-forward-log: this enclave has no relay, and the log forwarder's connection attempt
        # while out of descriptors makes Asio throw (caught: ResourceExhausted, then a retry) —
        # which UBSan, also out of descriptors for the pipe it probes memory with, reports as an
        # "invalid vptr" and aborts on. That a failed send is kept and retried with backoff is
        # tests/enclave/log_forwarder_test.cc's; this test is about the accept loop.
        proc, uri = self.start_enclave("--no-forward-log")
        pid = proc.proc.pid
        host, port = harness.tcp_address(uri)
        open_fds = len(os.listdir(f"/proc/{pid}/fd"))
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_fds + 4, hard))
        socks = []
        try:
            for _ in range(40):  # more than fit: the rest wait in the backlog
                socks.append(socket.create_connection((host, port), timeout=5))
            time.sleep(1.0)
            log_before = len(proc.log().splitlines())
            cpu_before = cpu_seconds(pid)
            time.sleep(4.0)
            cpu_used = cpu_seconds(pid) - cpu_before
            log_lines = len(proc.log().splitlines()) - log_before
            accept_lines = proc.log().count('"enclave_accept_failed"')
            print(f"\n[out of descriptors] enclave CPU {cpu_used:.2f} s over 4 s "
                  f"({100 * cpu_used / 4:.1f}%), {log_lines} log lines, "
                  f"{accept_lines} accept_failed lines in all")
            self.assertIsNone(proc.proc.poll())
            self.assertLess(cpu_used, 0.4)
            self.assertLessEqual(log_lines, 6)
            self.assertGreaterEqual(accept_lines, 1, proc.log()[-2000:])
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
            for s in socks:
                s.close()
        # Accepting resumes once descriptors are free again (the pause is at most 1 s).
        harness.wait_until(lambda: self.try_sign(uri), "the enclave to accept again", timeout=15)
        self.assert_serves(proc, uri)

    def try_sign(self, uri):
        try:
            reply = harness.v2_call(uri, {"id": 1, "op": "sign", "message": "AA=="})
            return reply is not None and reply.get("ok")
        except OSError:
            return False

    def test_idle_timeout_counts_complete_frames_not_bytes(self):
        # (Before: one whitespace byte every 119 s kept a connection, and its slot, forever.)
        proc, uri = self.start_enclave("--idle-timeout", "1.5")
        working = harness.V2(uri)
        trickler = harness.connect(uri)
        trickler.setblocking(False)
        start = time.monotonic()
        closed_after = None
        while time.monotonic() - start < 6.0:
            try:
                trickler.sendall(b" ")
                if trickler.recv(1, socket.MSG_DONTWAIT) == b"":
                    closed_after = time.monotonic() - start
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed_after = time.monotonic() - start
                break
            # A client that sends complete requests stays.
            self.assertTrue(working.call({"id": "w", "op": "health"})["ok"])
            time.sleep(0.3)
        trickler.close()
        print(f"\n[trickle] a connection sending one space every 0.3 s was closed after "
              f"{closed_after} s (idle timeout 1.5 s); one sending requests stayed open")
        self.assertIsNotNone(closed_after, "whitespace kept the connection alive")
        self.assertGreater(closed_after, 1.0)  # not before the idle timeout (less a sweep)
        self.assertLess(closed_after, 4.0)
        self.assertTrue(working.call({"id": "w", "op": "health"})["ok"])
        working.close()

    def start_with_nsm(self, *extra):
        # A local NSM (from lockout local-aws) so that attest makes real, slow NSM calls.
        harness.binary("lockout")
        la = self.local_aws()
        return self.start_enclave(*extra, nsm="unix://" + la.ready["nsm_socket"])

    def sign_latencies(self, uri, n):
        c = harness.V2(uri)
        out = []
        try:
            for i in range(n):
                t0 = time.perf_counter()
                reply = c.call({"id": i, "op": "sign", "message": "AA=="})
                out.append(time.perf_counter() - t0)
                self.assertTrue(reply["ok"], reply)
        finally:
            c.close()
        return out

    def test_attest_flood_does_not_slow_signing(self):
        # (Before: four clients pipelining attest raised every client's sign latency from 4 ms
        # to 1.2 s: the NSM call ran on the event loop.)
        proc, uri = self.start_with_nsm()
        quiet = statistics.median(self.sign_latencies(uri, 200))
        stop = threading.Event()
        attests = [0]
        busy = [0]

        def flooder():
            c = harness.V2(uri)
            try:
                while not stop.is_set():
                    for i in range(8):
                        c.send({"id": i, "op": "attest"})
                    for _ in range(8):
                        r = c.recv()
                        if r is None:
                            return
                        if r.get("ok"):
                            attests[0] += 1
                        elif r.get("error") == "busy":
                            busy[0] += 1
            finally:
                c.close()

        threads = [threading.Thread(target=flooder) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            loaded = statistics.median(self.sign_latencies(uri, 200))
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        print(f"\n[attest flood] median sign latency {quiet * 1000:.2f} ms quiet, "
              f"{loaded * 1000:.2f} ms under 4 clients pipelining attest "
              f"({attests[0]} attestations, {busy[0]} busy)")
        self.assertGreater(attests[0], 0)
        # Before this fix the release build went from 0.08 ms to 27 ms here (the NSM call ran on
        # the event loop); now the median does not move.
        self.assertLess(loaded, max(10 * quiet, 0.01))
        self.assert_serves(proc, uri)

    def test_a_full_blocking_queue_answers_busy(self):
        proc, uri = self.start_with_nsm("--blocking-threads", "1", "--blocking-queue", "0")
        clients = [harness.V2(uri) for _ in range(24)]
        try:
            for n, c in enumerate(clients):
                c.send({"id": n, "op": "attest"})
            replies = [c.recv() for c in clients]
        finally:
            for c in clients:
                c.close()
        errors = [r["error"] for r in replies if not r["ok"]]
        ok = sum(1 for r in replies if r["ok"])
        print(f"\n[busy] 24 concurrent attests with 1 thread, no queue: {ok} ok, "
              f"{errors.count('busy')} busy")
        self.assertEqual([r["id"] for r in replies], list(range(24)))
        self.assertEqual(set(errors) - {"busy"}, set())
        self.assertGreaterEqual(ok, 1)
        self.assertGreaterEqual(errors.count("busy"), 1)
        # Not stuck: attest works again once the pool is free.
        self.assertTrue(harness.v2_call(uri, {"id": "a", "op": "attest"})["ok"])
        self.assert_serves(proc, uri)


if __name__ == "__main__":
    unittest.main()
