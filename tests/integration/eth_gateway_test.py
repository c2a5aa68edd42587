"""`lockout gateway --eth-rpc`: the Ethereum remote-signer JSON-RPC API, driven with plain
JSON-RPC 2.0 over HTTP (urllib) in front of an ephemeral secp256k1 enclave.

The address is computed here from the public key in the enclave's ready file (wallet_flows_test's
pure-Python Keccak-256 and EIP-55). Signatures are checked here with a pure-Python secp256k1 ECDSA
verification against that public key over the digest computed here (EIP-191); the enclave's RFC
6979 signatures are also compared with what `lockout eth` returns for the same input. The signed
transaction's sender is recovered by `lockout eth sign-tx` (src/eth) for the same transaction and
the raw bytes compared.
"""

import concurrent.futures
import json
import os
import subprocess
import urllib.error
import urllib.request

import harness
from wallet_flows_test import address_of_pem, keccak256

# secp256k1 (SEC 2).
P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0:
        return None
    if a == b:
        lam = 3 * a[0] * a[0] * pow(2 * a[1], -1, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return (x, (lam * (a[0] - x) - a[1]) % P)


def _mul(k, point):
    out = None
    while k:
        if k & 1:
            out = _add(out, point)
        point = _add(point, point)
        k >>= 1
    return out


def ecdsa_verify(digest, r, s, q):
    if not (0 < r < N and 0 < s < N):
        return False
    z = int.from_bytes(digest, "big")
    w = pow(s, -1, N)
    x = _add(_mul(z * w % N, G), _mul(r * w % N, q))
    return x is not None and x[0] % N == r


def public_point(pem):
    import base64
    der = base64.b64decode("".join(l for l in pem.splitlines() if "-----" not in l))
    point = der[-65:]
    return (int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big"))


def personal_hash(message):
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode() + message)


TX = {"type": "0x2", "chainId": "0xaa36a7", "nonce": "0x0",
      "to": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB", "value": "0x2386f26fc10000",
      "gas": "0x5208", "maxPriorityFeePerGas": "0x3b9aca00", "maxFeePerGas": "0x77359400"}

TYPED = {"types": {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                     {"name": "chainId", "type": "uint256"},
                     {"name": "verifyingContract", "type": "address"}],
    "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
    "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"},
             {"name": "contents", "type": "string"}]},
    "primaryType": "Mail",
    "domain": {"name": "Ether Mail", "version": "1", "chainId": 1,
               "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
    "message": {"from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
                "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
                "contents": "Hello, Bob!"}}
# EIP-712's published digest of the Mail example.
TYPED_DIGEST = bytes.fromhex("be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")


class EthGatewayTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.lockout = harness.binary("lockout")
        _, self.enclave = self.ephemeral_enclave(key_type="secp256k1")
        with open(os.path.join(self.tmp, "enclave-1.json")) as f:
            pem = json.load(f)["public_key_pem"]
        self.address = address_of_pem(pem)
        self.point = public_point(pem)
        self.start_gateway(self.enclave)
        self.next_id = 0

    def start_gateway(self, enclave, *extra):
        port = harness.free_port()
        self.gw = harness.Process([self.lockout, "gateway", "--eth-rpc", f"tcp://127.0.0.1:{port}",
                                   "--enclave", enclave, *extra], self.tmp, f"gateway-{port}")
        self._stops.append(self.gw.stop)
        self.url = f"http://127.0.0.1:{port}"
        harness.wait_until(lambda: '"eth_rpc"' in self.gw.log() or self.gw.proc.poll() is not None,
                           "the gateway's ready line", detail=self.gw.log)
        self.assertIsNone(self.gw.proc.poll(), self.gw.log())

    def enclave_connections(self):
        """How many enclave connections the gateway has opened (its log says each)."""
        return self.gw.log().count('"gateway_enclave_connected"')

    def post(self, body):
        req = urllib.request.Request(self.url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def call(self, method, params):
        self.next_id += 1
        status, reply = self.post(json.dumps({"jsonrpc": "2.0", "id": self.next_id,
                                              "method": method, "params": params}).encode())
        self.assertEqual(status, 200)
        self.assertEqual(reply["jsonrpc"], "2.0")
        self.assertEqual(reply["id"], self.next_id)
        return reply

    def result(self, method, params):
        reply = self.call(method, params)
        self.assertIn("result", reply, reply)
        return reply["result"]

    def check_signature(self, hex_sig, digest):
        sig = bytes.fromhex(hex_sig[2:])
        self.assertEqual(len(sig), 65)
        self.assertIn(sig[64], (27, 28))
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")
        self.assertTrue(ecdsa_verify(digest, r, s, self.point), "signature does not verify")
        self.assertTrue(ecdsa_verify(digest, r, s, self.point))

    def lockout_eth(self, *args, stdin=None):
        r = harness.run([self.lockout, "eth", *args, "--enclave", self.enclave], text=True,
                        input=stdin)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_accounts_and_signatures(self):
        self.assertEqual(self.result("eth_accounts", []), [self.address])
        message = b"hello"
        sig = self.result("personal_sign", ["0x" + message.hex(), self.address])
        self.check_signature(sig, personal_hash(message))
        # eth_sign: the same prefix, geth's parameter order; lower-case address accepted.
        self.assertEqual(self.result("eth_sign", [self.address.lower(), "0x" + message.hex()]), sig)
        # lockout eth (RFC 6979: the same signature) recovers it to the address.
        mine = self.lockout_eth("personal-sign", "--message-hex", "0x" + message.hex())
        self.assertEqual(mine, {"signature": sig, "signer": self.address})

        typed = self.result("eth_signTypedData_v4", [self.address, TYPED])
        self.check_signature(typed, TYPED_DIGEST)
        self.assertEqual(self.result("eth_signTypedData_v4", [self.address, json.dumps(TYPED)]),
                         typed)

        signed = self.result("eth_signTransaction", [dict(TX, **{"from": self.address})])
        raw = bytes.fromhex(signed["raw"][2:])
        self.assertEqual(raw[0], 2)
        self.assertEqual(signed["tx"]["hash"], "0x" + keccak256(raw).hex())
        self.assertEqual(signed["tx"]["from"], self.address)
        self.assertEqual(signed["tx"]["nonce"], "0x0")
        mine = self.lockout_eth("sign-tx", "-", stdin=json.dumps(TX))
        self.assertEqual(mine["raw"], signed["raw"])
        self.assertEqual(mine["from"], self.address)  # recovered from raw by src/eth

    def test_usage_errors(self):
        for args in (["--eth-rpc", "vsock://3:8545"], ["--eth-rpc", "unix:///tmp/x.sock"],
                     ["--eth-rpc", "tcp://127.0.0.1:0", "--client-key", "/nonexistent.key"],
                     ["--eth-rpc", "tcp://127.0.0.1:0", "--threads", "0"],
                     ["--eth-rpc", "tcp://127.0.0.1:0", "--enclave-connections", "0"],
                     ["--eth-rpc", "tcp://127.0.0.1:0", "--enclave-connections", "17"]):
            r = harness.run([self.lockout, "gateway", "--enclave", self.enclave, *args],
                            text=True)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertTrue(r.stderr.startswith("lockout gateway: "), r.stderr)

    def test_refusals(self):
        other = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        for method, params in [("personal_sign", ["0x68", other]),
                               ("eth_sign", [other, "0x68"]),
                               ("eth_signTypedData_v4", [other, TYPED]),
                               ("eth_signTransaction", [dict(TX, **{"from": other})])]:
            reply = self.call(method, params)
            self.assertEqual(reply["error"]["code"], -32602, (method, reply))
            self.assertIn("unknown account", reply["error"]["message"])
        self.assertEqual(self.call("personal_sign", ["hello", self.address])["error"]["code"],
                         -32602)
        self.assertEqual(self.call("eth_signTransaction", [{"nonce": "0x0"}])["error"]["code"],
                         -32602)
        self.assertEqual(self.call("eth_sendTransaction", [TX])["error"]["code"], -32601)
        status, reply = self.post(b"{not json")
        self.assertEqual((status, reply["error"]["code"], reply["id"]), (200, -32700, None))
        status, reply = self.post(b'[{"jsonrpc": "2.0", "id": 1, "method": "eth_accounts"}]')
        self.assertEqual(reply["error"]["code"], -32600)
        status, reply = self.post(b'{"jsonrpc": "1.0", "id": "x", "method": "eth_accounts"}')
        self.assertEqual((reply["error"]["code"], reply["id"]), (-32600, "x"))
        status, reply = self.post(b'"' + b"a" * (300 << 10) + b'"')
        self.assertEqual(status, 413)
        self.assertEqual(reply["error"]["code"], -32600)
        # Still serving.
        self.assertEqual(self.result("eth_accounts", []), [self.address])


    def test_calls_share_one_enclave_connection(self):
        # The start-up address query and 40 sequential signatures: one connection.
        for i in range(40):
            message = b"call %d" % i
            sig = self.result("personal_sign", ["0x" + message.hex(), self.address])
            if i % 10 == 0:
                self.check_signature(sig, personal_hash(message))
        self.assertEqual(self.enclave_connections(), 1, self.gw.log())
        # Concurrent callers (8 threads x 5 calls): at most --enclave-connections (default 2).
        def sign(i):
            body = json.dumps({"jsonrpc": "2.0", "id": i, "method": "personal_sign",
                               "params": ["0x%02x" % i, self.address]}).encode()
            return self.post(body)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(sign, range(40)))
        for status, reply in replies:
            self.assertEqual(status, 200)
            self.assertIn("result", reply, reply)
        self.assertLessEqual(self.enclave_connections(), 2, self.gw.log())

    def test_the_gateway_recovers_when_the_enclave_restarts(self):
        port = harness.free_port()
        enclave, uri = self.ephemeral_enclave(key_type="secp256k1",
                                              listen=f"tcp://127.0.0.1:{port}")
        with open(os.path.join(self.tmp, f"enclave-{self._enclaves}.json")) as f:
            self.address = address_of_pem(json.load(f)["public_key_pem"])
        self.start_gateway(uri)
        self.assertIn("result", self.call("personal_sign", ["0x68", self.address]))
        enclave.stop()
        # Down: a clear JSON-RPC error, and the gateway keeps serving.
        reply = self.call("personal_sign", ["0x68", self.address])
        self.assertEqual(reply["error"]["code"], -32000, reply)
        self.assertIn("enclave unreachable", reply["error"]["message"])
        self.assertEqual(self.result("eth_accounts", []), [self.address])
        # Back on the same address (an ephemeral key: a new one). Once the backoff has passed the
        # gateway reconnects, and checks what the new enclave signs against the address it knows.
        self.ephemeral_enclave(key_type="secp256k1", listen=f"tcp://127.0.0.1:{port}")

        def reconnected():
            r = self.call("personal_sign", ["0x68", self.address])
            return "enclave unreachable" not in json.dumps(r)
        harness.wait_until(reconnected, "the gateway reconnecting", timeout=20,
                           detail=self.gw.log)
        reply = self.call("personal_sign", ["0x68", self.address])
        self.assertEqual(reply["error"]["code"], -32000, reply)
        self.assertIn("does not recover to its address", reply["error"]["message"])
        self.assertEqual(self.enclave_connections(), 2, self.gw.log())
        self.assertIn('"gateway_enclave_unreachable"', self.gw.log())


class EthGatewayClientKeyTest(harness.TempDirTestCase):
    """An enclave with a signing policy: the gateway signs its requests with its client key and
    gets exactly what the policy grants that client."""

    def start(self, ops):
        lockout = harness.binary("lockout")
        key = os.path.join(self.tmp, "gateway.key")
        r = harness.run([lockout, "client-key", "create", "--out", key, "--name", "gateway",
                         "--json"], text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        entry = json.loads(r.stdout)
        entry["ops"] = ops
        entry["keys"] = ["*"]
        policy = os.path.join(self.tmp, "signing-policy.json")
        with open(policy, "w") as f:
            json.dump({"version": 1, "clients": [entry], "replay_window_seconds": 60,
                       "max_request_bytes": 65536, "allow_unauthenticated_v1": False}, f)
        la = self.local_aws()
        _, enclave = self.ephemeral_enclave("--signing-policy", policy, key_type="secp256k1",
                                            nsm="unix://" + la.ready["nsm_socket"])
        return lockout, key, enclave

    def test_the_client_key_is_what_the_enclave_authorizes(self):
        lockout, key, enclave = self.start(["public_key"])  # may not sign
        # Without the client key the enclave does not even say its address.
        r = harness.run([lockout, "gateway", "--eth-rpc", "tcp://127.0.0.1:0", "--enclave",
                         enclave], text=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("--client-key", r.stderr)
        port = harness.free_port()
        gw = harness.Process([lockout, "gateway", "--eth-rpc", f"tcp://127.0.0.1:{port}",
                              "--enclave", enclave, "--client-key", key], self.tmp, "gateway")
        self._stops.append(gw.stop)
        harness.wait_until(lambda: '"eth_rpc"' in gw.log() or gw.proc.poll() is not None,
                           "the gateway's ready line", detail=gw.log)
        self.assertIsNone(gw.proc.poll(), gw.log())
        address = json.loads(next(l for l in gw.log().splitlines() if '"eth_rpc"' in l))["address"]
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "personal_sign",
                           "params": ["0x68", address]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}", data=body, method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            reply = json.loads(r.read())
        self.assertEqual(reply["error"]["code"], -32000, reply)
        self.assertIn("unauthorized", reply["error"]["message"])


if __name__ == "__main__":
    import unittest
    unittest.main()
