"""Issue 12 item 2: one pipelined v2 connection is signed by every worker of lockout-enclave.

The enclave reports in `health` the most worker threads that have signed one connection's
requests at the same moment (max_workers_one_connection). A connection's batches of requests are
counted while a worker handles them, so the figure reaches 2 only if two workers really signed
the same connection's requests at once: a server whose connection is served by one thread at a
time (as the epoll server before it was) reports 1, however many threads it has and however the
2 shared cores of a test machine are scheduled. Waiting for it is bounded (rounds and time).
"""

import base64
import time
import unittest

import harness

PIPELINE = 64


class EnclaveWorkersTest(harness.TempDirTestCase):
    def pipeline_round(self, conn, round_no):
        for i in range(PIPELINE):
            conn.send({"id": i, "op": "sign",
                       "message": base64.b64encode(b"r%d m%d" % (round_no, i)).decode()})
        for i in range(PIPELINE):
            reply = conn.recv()
            self.assertIsNotNone(reply, "the enclave closed the connection")
            self.assertEqual(reply["id"], i)  # replies in request order
            self.assertTrue(reply["ok"], reply)

    def workers_seen(self, conn):
        health = conn.call({"id": "h", "op": "health"})
        self.assertTrue(health["ok"], health)
        return health["max_workers_one_connection"]

    def test_one_pipelined_connection_is_signed_by_both_workers(self):
        proc, uri = self.ephemeral_enclave(threads=2)
        conn = harness.V2(uri)
        try:
            self.assertLessEqual(self.workers_seen(conn), 1)  # only this health request so far
            deadline = time.monotonic() + 60
            rounds = 0
            seen = 0
            while rounds < 2000 and time.monotonic() < deadline:
                self.pipeline_round(conn, rounds)
                rounds += 1
                seen = self.workers_seen(conn)
                if seen >= 2:
                    break
            print(f"\n[workers] --threads 2, one connection pipelining {PIPELINE}: "
                  f"{seen} workers signed its requests at once after {rounds} rounds")
            self.assertEqual(seen, 2)
        finally:
            conn.close()
        self.assertIsNone(proc.proc.poll())

    def test_one_worker_signs_alone(self):
        # The control: the same load on one thread never reports more than one.
        _, uri = self.ephemeral_enclave(threads=1)
        conn = harness.V2(uri)
        try:
            for r in range(50):
                self.pipeline_round(conn, r)
            self.assertEqual(self.workers_seen(conn), 1)
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
