"""Issue 13, remote clients: `lockout-relay --forward` with real processes against local-aws.

`lockout local-aws`, a KMS key whose recommended policy pins the built lockout-enclave's PCR0
and the PCR16 of a signing policy naming one client (`lockout client-key create`), the signing
key as a SecretBinary; then lockout-relay (serving the enclave, and forwarding a TCP port to the
enclave's port with --forward) and lockout-enclave (--signing-policy) as separate processes.

* `lockout sign --client-key` through the forwarder signs, and the signature verifies;
* a man in the middle (a Python proxy in this test, standing where the forwarder stands) that
  alters one byte of the authenticated request gets "unauthorized"; one that replays a captured
  request, byte for byte, on a new connection gets "unauthorized"; the enclave keeps serving
  (the genuine client signs through the forwarder afterwards) and counts bad_signature and
  replayed_nonce;
* the relay's Prometheus endpoint counts the forwarded connections and bytes, and an unreachable
  target closes the client promptly and is counted as a refusal;
* a malformed --forward is refused at start with a clear error.
Every loop is bounded.
"""

import json
import os
import re
import socket
import struct
import subprocess
import threading
import time
import urllib.request

import harness
import runtime_test

SECRET = runtime_test.SECRET
MESSAGE = "pay bob 10"


class Mitm:
    """A TCP proxy in front of `upstream`: records what the client sends and may alter it."""

    def __init__(self, upstream, mutate=None):
        self.upstream = harness.tcp_address(upstream)
        self.mutate = mutate
        self.captured = b""
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.listener.settimeout(30)
        self.uri = "tcp://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve_one, daemon=True)
        self.thread.start()

    def serve_one(self):
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        with client, socket.create_connection(self.upstream, timeout=30) as server:
            client.settimeout(30)
            # One request frame (4-byte length + JSON), altered or not, then the reply back.
            head = client.recv(4, socket.MSG_WAITALL)
            (n,) = struct.unpack(">I", head)
            body = client.recv(n, socket.MSG_WAITALL)
            self.captured = head + body
            if self.mutate is not None:
                body = self.mutate(body)
            server.sendall(head + body)
            head = server.recv(4, socket.MSG_WAITALL)
            (n,) = struct.unpack(">I", head)
            client.sendall(head + server.recv(n, socket.MSG_WAITALL))

    def close(self):
        self.listener.close()
        self.thread.join(timeout=30)


def alter_one_message_byte(body):
    """The first character of the signed "message" value, changed to another base64 letter."""
    i = body.index(b'"message":"') + len(b'"message":"')
    out = bytearray(body)
    out[i] = ord("B") if out[i] != ord("B") else ord("C")
    return bytes(out)


class ForwardTest(runtime_test.RuntimeTestCase):
    """RuntimeTestCase's setup: local-aws, a KMS key, the built binaries."""

    def start_relay(self, forward):
        self._count += 1
        name = f"relay-{self._count}"
        ready = os.path.join(self.tmp, f"{name}.json")
        p = harness.Process([self.relay_bin, "--listen", "tcp://127.0.0.1:0", "--allow-secret",
                             SECRET, "--metrics", "tcp://127.0.0.1:0", "--ready-file", ready,
                             "--forward", forward], self.tmp, name,
                            env=self.la.process_env(relay=True))
        self._stops.append(p.stop)
        harness.wait_for_file(ready, p.proc, what="relay ready file")
        with open(ready) as f:
            return p, json.load(f)

    def metrics(self, relay):
        with urllib.request.urlopen(relay["metrics"].replace("tcp://", "http://") + "/metrics",
                                    timeout=10) as r:
            return r.read().decode()

    def sign(self, uri, message=MESSAGE):
        return harness.run([self.lockout, "sign", "--enclave", uri, "--client-key",
                            self.client_key, "--message", message], text=True)

    def auth_call(self, uri, request):
        """One authenticated v2 request as the client (health needs the client's permission)."""
        import lockout_client as lc
        key = lc.ClientKey.load(self.client_key)
        with lc.Connection(*harness.tcp_address(uri)) as c:
            return c.call(key.sign_request(request))

    def test_a_remote_client_signs_through_the_forwarder_and_a_mitm_cannot_alter_or_replay(self):
        # The authorized client and the sealed signing policy naming it.
        self.client_key = os.path.join(self.tmp, "gateway.key")
        r = harness.run([self.lockout, "client-key", "create", "--out", self.client_key, "--name",
                         "gateway", "--json"], text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        entry = json.loads(r.stdout)
        entry.update(ops=["health", "sign", "public_key"], keys=["*"])
        policy = os.path.join(self.tmp, "signing-policy.json")
        with open(policy, "w") as f:
            json.dump({"version": 1, "clients": [entry]}, f)
        pem = self.create_key("p256")
        self.lock_to("--enclave-binary", self.enclave_bin, "--signing-policy", policy)

        # The enclave's port is chosen first: the relay forwards to it and the enclave asks the
        # relay for its key.
        enclave_uri = f"tcp://127.0.0.1:{harness.free_port()}"
        relay_proc, relay = self.start_relay(f"tcp://127.0.0.1:0={enclave_uri}")
        forward = relay["forward"]
        self.assertTrue(forward.startswith("tcp://127.0.0.1:"), relay)
        enclave = harness.Process(
            [self.enclave_bin, "--listen", enclave_uri, "--relay", relay["listen"], "--nsm",
             "unix://" + self.la.ready["nsm_socket"], "--kms-endpoint",
             self.la.ready["kms_endpoint"], "--region", self.region, "--secret", SECRET,
             "--threads", "2", "--signing-policy", policy], self.tmp, "enclave",
            env=self.la.process_env())
        self._stops.append(enclave.stop)
        def loaded():
            try:  # the enclave may not listen yet: the forwarder then closes the connection
                return self.auth_call(forward, {"id": 1, "op": "health"}).get("status") == "ok"
            except (OSError, ValueError, struct.error, TypeError, AttributeError):
                return False
        harness.wait_until(loaded, "the enclave to load its key (asked through the forwarder)",
                           detail=self.all_logs)

        # The authorized client signs through the forwarder; the signature verifies.
        pem_path = os.path.join(self.tmp, "public.pem")
        with open(pem_path, "w") as f:
            f.write(pem)
        signed = self.sign(forward)
        self.assertEqual(signed.returncode, 0, signed.stderr)
        signature = json.loads(signed.stdout)["signature"]
        checked = harness.run([self.lockout, "verify", "--public-key", pem_path, "--message",
                               MESSAGE, "--signature", signature], text=True)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)

        # A man in the middle alters one byte of the authenticated request: refused.
        mitm = Mitm(forward, mutate=alter_one_message_byte)
        altered = self.sign(mitm.uri)
        mitm.close()
        self.assertNotEqual(altered.returncode, 0, altered.stdout)
        self.assertIn("unauthorized", altered.stderr)
        self.assertNotEqual(mitm.captured, b"")

        # A man in the middle captures a genuine request (which is signed) and replays it.
        mitm = Mitm(forward)
        genuine = self.sign(mitm.uri, "pay carol 20")
        mitm.close()
        self.assertEqual(genuine.returncode, 0, genuine.stderr)
        with harness.connect(forward) as s:
            s.sendall(mitm.captured)
            head = s.recv(4, socket.MSG_WAITALL)
            (n,) = struct.unpack(">I", head)
            replayed = json.loads(s.recv(n, socket.MSG_WAITALL))
        self.assertEqual((replayed["ok"], replayed["error"]), (False, "unauthorized"), replayed)

        # The enclave keeps serving the genuine client, and counted both refusals.
        after = self.sign(forward, "after the attacks")
        self.assertEqual(after.returncode, 0, after.stderr)
        h = self.auth_call(forward, {"id": 2, "op": "health"})
        self.assertEqual(h["refusals"]["bad_signature"], 1, h)
        self.assertEqual(h["refusals"]["replayed_nonce"], 1, h)
        self.assertIsNone(enclave.proc.poll())
        self.assertIsNone(relay_proc.proc.poll())

        # The relay's metrics count the forwarded connections and bytes.
        text = harness.wait_until(
            lambda: (lambda t: t if "lockout_relay_forward_connections_active 0\n" in t else None)(
                self.metrics(relay)), "forwarded connections to close")
        def sample(name):
            m = re.search("^" + re.escape(name) + r" (\d+)$", text, re.M)
            self.assertIsNotNone(m, f"{name} missing:\n{text}")
            return int(m.group(1))
        self.assertGreaterEqual(sample("lockout_relay_forward_connections_total"), 6, text)
        self.assertGreater(sample('lockout_relay_forward_bytes_total{direction="to_target"}'), 0)
        self.assertGreater(sample('lockout_relay_forward_bytes_total{direction="to_client"}'), 0)
        # (target_unreachable counts the polls made before the enclave listened.)
        self.assertIn('lockout_relay_forward_refused_total{reason="max_connections"} 0', text)

    def test_an_unreachable_target_closes_the_client_promptly_and_is_counted(self):
        nobody = f"tcp://127.0.0.1:{harness.free_port()}"
        _, relay = self.start_relay(f"tcp://127.0.0.1:0={nobody}")
        for _ in range(3):
            start = time.monotonic()
            with harness.connect(relay["forward"]) as s:
                s.sendall(b"\x00\x00\x00\x02{}")
                try:
                    data = s.recv(1)
                except ConnectionResetError:
                    data = b""
            self.assertEqual(data, b"")
            self.assertLess(time.monotonic() - start, 5)
        text = harness.wait_until(
            lambda: (lambda t: t if 'reason="target_unreachable"} 3' in t else None)(
                self.metrics(relay)), "three refusals counted")
        self.assertIn('lockout_relay_forward_refused_total{reason="target_unreachable"} 3', text)

    def test_a_malformed_forward_is_refused_at_start(self):
        for spec, says in (("tcp://0.0.0.0:5010", "expected LISTEN=TARGET"),
                           ("tcp://127.0.0.1:0=vsock://ANY:5010", "not ANY"),
                           ("vsock://ANY:5010=tcp://127.0.0.1:1", "not vsock")):
            r = harness.run([self.relay_bin, "--listen", "tcp://127.0.0.1:0", "--allow-secret",
                             SECRET, "--region", "us-east-1", "--forward", spec], text=True,
                            env=self.la.process_env(relay=True))
            self.assertEqual(r.returncode, 2, r.stderr)  # a bad flag: usage error
            self.assertIn(says, r.stderr)
            self.assertIn("tcp://0.0.0.0:5010=vsock://16:5010", r.stderr)  # the example


if __name__ == "__main__":
    import unittest
    unittest.main()
