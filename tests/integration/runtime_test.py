"""Issue 4 item 6: the runtime's failure behaviour, with real processes.

Every test runs `lockout local-aws`, a KMS key locked by `lockout policy --apply` to the PCR0 of
the built lockout-enclave, the signing key stored as a SecretBinary, and then lockout-relay and
lockout-enclave as separate processes on loopback TCP, exactly as `lockout demo` wires them:

* relay down at boot: the enclave keeps retrying, `health` says "relay unavailable" meanwhile,
  and it serves signatures once the relay comes up on the address it was given;
* local-aws killed (SIGKILL) after the key is loaded: signing over v1 and v2 continues;
* the policy pins another PCR0: clients get "key not loaded", health says "kms access denied",
  the enclave's log names its own PCR0 once, and the process keeps serving;
* malformed, truncated, oversized and unknown-op requests to the enclave and to the relay get
  clear errors and the next good request is served;
* a canary (the private key, the role's secret key and session token) pushed through every path,
  good and bad, never appears in any process log or any client's output.
"""

import base64
import json
import os
import signal
import socket
import struct
import subprocess
import urllib.request

from cryptography.hazmat.primitives.ciphers import aead

import harness

SECRET = "lockout/runtime-key"
SEED_MESSAGE = b"Hello, sign this message!"


class RuntimeTestCase(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.lockout = harness.binary("lockout")
        self.enclave_bin = harness.binary("lockout-enclave")
        self.relay_bin = harness.binary("lockout-relay")
        self.la = self.local_aws()
        self.region = self.la.ready["region"]
        self.admin_arn = self.la.ready["principals"]["admin"]["arn"]
        self.role_arn = self.la.ready["instance_role_arn"]
        self.kms = self.la.boto3_client("kms", "admin")
        self.key_arn = self.kms.create_key(Description="runtime test")["KeyMetadata"]["Arn"]
        self.outputs = []  # every client command's stdout+stderr, for the canary scan
        self._count = 0

    # ------------------------------------------------------------------ setup steps

    def cli(self, principal, *args):
        r = subprocess.run([self.lockout, *args], env=self.la.env(principal),
                           capture_output=True, text=True, timeout=60)
        self.outputs.append(r.stdout + r.stderr)
        return r

    def open_with_emulator_material(self, blob, context):
        """The plaintext of a local KMS blob (src/localaws/kms_ciphertext.h), from the key
        material local-aws keeps in its state directory: what no one but this test can do."""
        key_id = blob[1:37].decode()
        with open(os.path.join(self.la.state_dir, "kms", "keys", f"{key_id}.json")) as f:
            material = base64.b64decode(json.load(f)["KeyMaterial"])
        aad = b"lockout-kms-blob" + blob[:37]
        for k, v in sorted(context.items()):
            aad += len(k).to_bytes(4, "big") + k.encode() + len(v).to_bytes(4, "big") + v.encode()
        return aead.AESGCM(material).decrypt(blob[37:49], blob[49:], aad)

    def create_key(self, key_type="p256"):
        r = self.cli("instance", "create-key", "--kms-key", self.key_arn, "--secret", SECRET,
                     "--type", key_type, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["public_key_pem"]

    def lock_to(self, *pin):
        """Applies the recommended policy pinned by `pin` (--enclave-binary F or --pcr0 HEX). The
        admin user is its policy admin (break-glass), so a test can apply it again; without one
        the recommended policy is immutable."""
        r = self.cli("admin", "policy", "--enclave-role", self.role_arn, "--admin-role",
                     "arn:aws:iam::111122223333:role/key-admin", "--policy-admin-role",
                     self.admin_arn, *pin, "--apply", "--kms-key", self.key_arn)
        self.assertEqual(r.returncode, 0, r.stderr)

    def start_relay(self, listen="tcp://127.0.0.1:0", preexec_fn=None):
        self._count += 1
        name = f"relay-{self._count}"
        ready = os.path.join(self.tmp, f"{name}.json")
        p = harness.Process([self.relay_bin, "--listen", listen, "--allow-secret", SECRET,
                             "--metrics", "tcp://127.0.0.1:0", "--ready-file", ready],
                            self.tmp, name, env=self.la.process_env(relay=True),
                            preexec_fn=preexec_fn)
        self._stops.append(p.stop)
        harness.wait_for_file(ready, p.proc, what="relay ready file")
        with open(ready) as f:
            info = json.load(f)
        return p, info

    def start_enclave(self, relay_uri, *extra, preexec_fn=None):
        self._count += 1
        name = f"enclave-{self._count}"
        ready = os.path.join(self.tmp, f"{name}.json")
        p = harness.Process([self.enclave_bin, "--listen", "tcp://127.0.0.1:0", "--relay",
                             relay_uri, "--nsm", "unix://" + self.la.ready["nsm_socket"],
                             "--kms-endpoint", self.la.ready["kms_endpoint"], "--region",
                             self.region, "--secret", SECRET, "--threads", "2",
                             "--ready-file", ready, *extra], self.tmp, name,
                            env=self.la.process_env(), preexec_fn=preexec_fn)
        self._stops.append(p.stop)
        harness.wait_for_file(ready, p.proc, what="enclave ready file")
        with open(ready) as f:
            return p, json.load(f)["listen"]

    def health(self, uri):
        reply = harness.v2_call(uri, {"id": "h", "op": "health"})
        self.assertTrue(reply["ok"], reply)
        return reply

    def wait_loaded(self, uri, timeout=45.0):
        return harness.wait_until(lambda: self.health(uri)["status"] == "ok",
                          f"the enclave at {uri} to load its key", timeout,
                          lambda: f"health: {self.health(uri)}\n" + self.all_logs())

    def all_logs(self):
        out = []
        for name in sorted(os.listdir(self.tmp)):
            if name.endswith(".log"):
                with open(os.path.join(self.tmp, name), "rb") as f:
                    tail = f.read().decode("utf-8", "replace").splitlines()[-15:]
                out.append(f"--- {name}\n" + "\n".join(tail))
        return "\n".join(out)

    def assert_signs(self, uri, public_key_pem, message=SEED_MESSAGE):
        """Signs over v1 (seed framing) and v2 and verifies both with `lockout verify`."""
        pem = os.path.join(self.tmp, "public.pem")
        with open(pem, "w") as f:
            f.write(public_key_pem)
        v1 = harness.v1_sign(uri, message)
        self.assertEqual(v1["success"], "True", v1)
        v2 = harness.v2_call(uri, {"id": 7, "op": "sign", "message": base64.b64encode(message).decode()})
        self.assertEqual((v2["id"], v2["ok"]), (7, True), v2)
        for sig in (v1["data"], "0x" + v2["signature"]):
            r = subprocess.run([self.lockout, "verify", "--public-key", pem, "--message",
                                message.decode(), "--signature", sig],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class RuntimeFailureTest(RuntimeTestCase):
    def test_relay_down_at_boot_enclave_retries_and_serves_once_it_is_back(self):
        pem = self.create_key("p256")
        self.lock_to("--enclave-binary", self.enclave_bin)
        relay_uri = f"tcp://127.0.0.1:{harness.free_port()}"  # nobody listens there yet
        enclave, uri = self.start_enclave(relay_uri)

        # Meanwhile: health says why, attempts keep growing, signing fails fast and clearly.
        h = harness.wait_until(lambda: (lambda h: h if h["load_attempts"] >= 3 else None)(
            self.health(uri)), "three load attempts")
        self.assertEqual(h["status"], "loading", h)
        self.assertEqual(h["reason"], "relay unavailable", h)
        self.assertEqual(harness.v1_sign(uri, SEED_MESSAGE),
                         {"success": "False", "error": "Error: key not loaded"})
        reply = harness.v2_call(uri, {"id": 1, "op": "sign", "message": "aGk="})
        self.assertEqual(reply, {"id": 1, "ok": False, "error": "key not loaded"})

        # The relay comes up on the address the enclave was given: the enclave loads and signs.
        self.start_relay(relay_uri)
        h = self.wait_loaded(uri)
        self.assert_signs(uri, pem)
        h = self.health(uri)
        self.assertEqual((h["status"], h["key_type"]), ("ok", "p256"), h)
        self.assertIsNone(enclave.proc.poll())
        self.assertIn("relay unavailable", enclave.log())

    def test_local_aws_killed_after_load_signing_continues(self):
        pem = self.create_key("secp256k1")
        self.lock_to("--enclave-binary", self.enclave_bin)
        _, relay = self.start_relay()
        _, uri = self.start_enclave(relay["listen"])
        self.wait_loaded(uri)
        self.la.stop(signal.SIGKILL)
        for i in range(20):
            self.assert_signs(uri, pem, b"after local-aws died #%d" % i)
        self.assertEqual(self.health(uri)["status"], "ok")

    def test_policy_denial_is_a_clear_error_and_the_enclave_keeps_serving(self):
        self.create_key("p256")
        self.lock_to("--pcr0", "ab" * 48)  # some other image
        _, relay = self.start_relay()
        enclave, uri = self.start_enclave(relay["listen"])
        h = harness.wait_until(lambda: (lambda h: h if h["reason"] == "kms access denied" else None)(
            self.health(uri)), "the KMS denial to reach health")
        self.assertNotEqual(h["status"], "ok", h)
        self.assertEqual(harness.v1_sign(uri, SEED_MESSAGE),
                         {"success": "False", "error": "Error: key not loaded"})
        self.assertEqual(harness.v2_call(uri, {"id": "x", "op": "sign", "message": "aGk="}),
                         {"id": "x", "ok": False, "error": "key not loaded"})
        # Still serving: ops that need no key work, and the log names our own PCR0 once.
        pk = harness.v2_call(uri, {"id": 2, "op": "public_key"})
        self.assertEqual(pk, {"id": 2, "ok": False, "error": "key not loaded"})
        self.assertIsNone(enclave.proc.poll())
        denials = [json.loads(line) for line in enclave.log().splitlines()
                   if '"kms_access_denied"' in line]
        self.assertEqual(len(denials), 1, enclave.log())
        self.assertRegex(denials[0].get("pcr0", ""), r"^[0-9a-f]{96}$")
        self.assertNotEqual(denials[0]["pcr0"], "ab" * 48)
        self.assertEqual(self.health(uri)["pcr0"], denials[0]["pcr0"])


class RuntimeBadInputTest(RuntimeTestCase):
    def setUp(self):
        super().setUp()
        self.pem = self.create_key("ed25519")
        self.lock_to("--enclave-binary", self.enclave_bin)
        self.relay, self.relay_info = self.start_relay()
        self.enclave, self.uri = self.start_enclave(self.relay_info["listen"])
        self.wait_loaded(self.uri)

    def test_malformed_requests_to_the_enclave_get_clear_errors_and_it_keeps_serving(self):
        bad_request = b'{"success": "False", "error": "Error: bad request"}$$$'
        cases = [
            (b'{"bytes": "not base64!"}$$$', bad_request),
            (b'{"nobytes": 1}$$$', bad_request),
            (b'{"bytes": [1, 2]}$$$', bad_request),
            (b'{not json}$$$', bad_request),
            (b"\xff\xfe garbage", b'\x00\x00\x00\x2a{"id":null,"ok":false,"error":"bad frame"}'),
            (b'{"bytes": "aGk="', b""),  # truncated: the client gives up (EOF), no reply needed
        ]
        for payload, expected in cases:
            with harness.connect(self.uri) as s:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                got = harness.read_until(s, b"$$$" if payload.startswith(b"{") else b"}")
            if expected:
                self.assertEqual(got, expected, payload)
            self.assert_signs(self.uri, self.pem)

        # v2: oversized prefix, unknown op, wrong field types; the connection survives op errors.
        c = harness.V2(self.uri)
        self.assertEqual(c.call({"id": 1, "op": "launch_missiles"}),
                         {"id": 1, "ok": False, "error": "unknown op"})
        self.assertEqual(c.call({"id": 2, "op": "sign", "message": 42}),
                         {"id": 2, "ok": False, "error": "bad request"})
        self.assertEqual(c.call({"id": 3, "op": "sign"}),
                         {"id": 3, "ok": False, "error": "bad request"})
        self.assertEqual(c.call({"id": {"nested": 1}, "op": "health"})["ok"], False)
        self.assertTrue(c.call({"id": 4, "op": "sign", "message": "aGk="})["ok"])
        c.sock.sendall(struct.pack(">I", 0x00FFFFFF))
        self.assertEqual(c.recv(), {"id": None, "ok": False, "error": "frame too large"})
        self.assertIsNone(c.recv())  # closed: the stream cannot be resynchronised
        c.close()
        self.assertIsNone(self.enclave.proc.poll())
        self.assert_signs(self.uri, self.pem)

    def test_malformed_requests_to_the_relay_get_clear_errors_and_it_keeps_serving(self):
        relay = self.relay_info["listen"]

        def ask(payload):
            reply = harness.v1_request(relay, payload)
            self.assertTrue(reply.endswith(b"$$$"), (payload, reply))
            return json.loads(reply[:-3])

        def get_secret(name):
            return json.dumps({"request_type": "get_secret",
                               "payload": {"secret_name": name}}).encode() + b"$$$"

        self.assertEqual(ask(b"{not json}$$$"), {"error": "bad request"})
        self.assertEqual(ask(b'{"request_type": "get_secret"}$$$'), {"error": "bad request"})
        self.assertEqual(ask(b'{"request_type": "rm -rf", "payload": {}}$$$'),
                         {"error": "unknown request_type"})
        self.assertEqual(ask(get_secret("lockout/someone-else")), {"error": "secret not allowed"})
        self.assertEqual(ask(get_secret(SECRET + "\u0000")), {"error": "bad request"})
        with harness.connect(relay) as s:  # oversized v2 prefix
            s.sendall(struct.pack(">I", 0x00FFFFFF))
            s.shutdown(socket.SHUT_WR)
            body = b'{"error":"request too large"}'  # answered in v2, the frame's kind
            self.assertEqual(s.recv(4 + len(body), socket.MSG_WAITALL),
                             struct.pack(">I", len(body)) + body)
        with harness.connect(relay) as s:  # truncated: the peer gives up mid-request
            s.sendall(get_secret(SECRET)[:30])
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(harness.read_until(s, b"$$$"), b'{"error":"bad request"}$$$')
        good = ask(get_secret(SECRET))
        self.assertIn("result", good)
        self.assertTrue(good["result"]["secret"])
        self.assertIsNone(self.relay.proc.poll())
        # The metrics count what was refused.
        with urllib.request.urlopen(f"http://{self.relay_info['metrics'][len('tcp://'):]}"
                                    "/metrics", timeout=10) as resp:
            metrics = resp.read().decode()
        self.assertIn("lockout_relay_requests_total", metrics)
        self.assertRegex(metrics, r'lockout_relay_errors_total\{[^}]*kind="denied"'
                                  r'[^}]*\} 1')
        # The enclave still loads through this relay (a second enclave, a fresh load).
        _, uri2 = self.start_enclave(relay)
        self.wait_loaded(uri2)
        self.assert_signs(uri2, self.pem)


class CanaryTest(RuntimeTestCase):
    """The secrets of a real run never reach a log or a client's output."""

    def imds_credentials(self):
        base = self.la.ready["imds_endpoint"].rstrip("/")
        req = urllib.request.Request(base + "/latest/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        token = urllib.request.urlopen(req, timeout=10).read().decode()
        h = {"X-aws-ec2-metadata-token": token}
        path = base + "/latest/meta-data/iam/security-credentials/"
        role = urllib.request.urlopen(urllib.request.Request(path, headers=h),
                                      timeout=10).read().decode().split()[0]
        return json.loads(urllib.request.urlopen(urllib.request.Request(path + role, headers=h),
                                                 timeout=10).read())

    def test_no_secret_reaches_any_log_or_output(self):
        # The signing key is ours, so we know every form of it.
        der_path = os.path.join(self.tmp, "key.der")
        r = harness.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                         "ec_paramgen_curve:P-256", "-out", der_path + ".pem"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = harness.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", der_path + ".pem",
                         "-outform", "DER", "-out", der_path])  # PKCS#8, as create-key stores
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(der_path, "rb") as f:
            der = f.read()
        for path in (der_path, der_path + ".pem"):
            os.unlink(path)
        text = harness.run(["openssl", "pkey", "-inform", "DER", "-noout", "-text"],
                           input=der).stdout.decode()
        priv_hex = "".join(text.split("priv:")[1].split("pub:")[0].split()).replace(":", "")
        pub = harness.run(["openssl", "pkey", "-inform", "DER", "-pubout"], input=der)
        pem = pub.stdout.decode()
        blob = self.kms.encrypt(KeyId=self.key_arn, Plaintext=der,
                                EncryptionContext={"lockout:secret": SECRET})["CiphertextBlob"]
        self.la.boto3_client("secretsmanager", "admin").create_secret(Name=SECRET,
                                                                       SecretBinary=blob)
        self.lock_to("--enclave-binary", self.enclave_bin)

        relay, relay_info = self.start_relay()
        relay_uri = relay_info["listen"]
        # Every load path: at boot, on first request, and the seed's decrypt per request.
        _, boot = self.start_enclave(relay_uri)
        _, first = self.start_enclave(relay_uri, "--load-at", "first-request")
        _, per_request = self.start_enclave(relay_uri, "--decrypt-per-request")
        self.wait_loaded(boot)
        for uri in (boot, first, per_request):
            self.assert_signs(uri, pem)
            self.assertTrue(harness.v2_call(uri, {"id": 1, "op": "attest", "nonce": "bm9uY2U="})["ok"])
        creds = self.imds_credentials()

        canaries = {
            "private key (hex)": priv_hex,
            "private key (DER, base64)": base64.b64encode(der).decode(),
            "private key (DER, hex)": der.hex(),
            "role secret key": creds["SecretAccessKey"],
            "role session token": creds["Token"],
        }
        for value in canaries.values():
            self.assertGreaterEqual(len(value), 32)

        # Bad paths too: bad requests carrying the canary, the
        # CLI clients against the running stack, and a denial after the policy changes.
        for payload in (b'{"bytes": "' + priv_hex.encode() + b'!"}$$$',
                        b'{"' + creds["Token"].encode() + b'": 1}$$$'):
            harness.v1_request(boot, payload)
            harness.v1_request(relay_uri, payload)
        harness.v2_call(boot, {"id": creds["SecretAccessKey"], "op": creds["Token"]})
        self.outputs.append(harness.v1_request(relay_uri, json.dumps(
            {"request_type": "get_secret", "payload": {"secret_name": SECRET}}).encode()
            + b"$$$").decode().replace(creds["SecretAccessKey"], "").replace(creds["Token"], ""))
        for args in (["sign", "--enclave", boot, "--message", "hi"],
                     ["sign", "--enclave", boot, "--message", "hi", "--protocol", "v2"],
                     ["attest", "--enclave", boot],
                     ["doctor", "--secret", SECRET, "--kms-key", self.key_arn, "--relay",
                      relay_uri, "--enclave", boot],
                     ["check-lockout", "--kms-key", self.key_arn, "--secret", SECRET]):
            self.cli("instance", *args)
        self.lock_to("--pcr0", "cd" * 48)
        _, denied = self.start_enclave(relay_uri)
        harness.wait_until(lambda: self.health(denied)["reason"] == "kms access denied", "the denial")

        logs = {}
        for name in sorted(os.listdir(self.tmp)):
            if name.endswith(".log"):
                with open(os.path.join(self.tmp, name), "rb") as f:
                    logs[name] = f.read().decode("utf-8", "replace")
        self.assertIn("local-aws.log", logs)
        self.assertGreaterEqual(sum(n.startswith("enclave-") for n in logs), 4)
        for i, out in enumerate(self.outputs):
            logs[f"client output #{i}"] = out
        for where, text in logs.items():
            for what, value in canaries.items():
                for form in {value, value.lower(), value.upper()}:
                    self.assertNotIn(form, text, f"{what} appears in {where}")


if __name__ == "__main__":
    import unittest
    unittest.main()
