"""A small lockout v2 client that signs its requests, written from docs/PROTOCOL.md alone.

Standard library + the `cryptography` package, nothing else. It exists to prove that the
protocol document is enough to write a client in another language (issue 13, acceptance 4):
tests/integration/enclave_auth_test.py drives a real lockout-enclave with it, and checks the
document's worked example byte for byte.

    key = ClientKey.load("gateway.key")               # `lockout client-key create` writes it
    with Connection("127.0.0.1", 5010) as conn:
        reply = conn.call(key.sign_request({"op": "sign", "message": b64(b"hello")}))
"""

import base64
import json
import os
import socket
import struct
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

TAG = b"lockout-authenticated-request-v1"


def b64(data):
    return base64.b64encode(data).decode()


# ---- the canonical encoding (docs/PROTOCOL.md, "Canonical encoding of a request") ----

def _u32(n):
    return struct.pack(">I", n)


def _str(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _u32(len(data)) + data


def _i64(n):
    if not -(2 ** 63) <= n < 2 ** 63:
        raise ValueError("integer outside int64")
    return struct.pack(">q", n)


def _value(v):
    if v is None:
        return b"n"
    if v is True:
        return b"t"
    if v is False:
        return b"f"
    if isinstance(v, int):
        return b"i" + _i64(v)
    if isinstance(v, float):
        raise ValueError("floats have no canonical encoding")
    if isinstance(v, str):
        return b"s" + _str(v)
    if isinstance(v, list):
        return b"a" + _u32(len(v)) + b"".join(_value(e) for e in v)
    if isinstance(v, dict):
        return _object(v, skip=())
    raise TypeError(f"not a JSON value: {type(v)}")


def _object(obj, skip):
    names = sorted((k for k in obj if k not in skip), key=lambda k: k.encode("utf-8"))
    return b"o" + _u32(len(names)) + b"".join(_str(k) + _value(obj[k]) for k in names)


def canonical_request(request, client, timestamp_ms, nonce):
    """The bytes a client signs: tag, client, timestamp, nonce, request without id and auth."""
    return (TAG + _str(client) + _i64(timestamp_ms) + _str(nonce)
            + _object(request, skip=("id", "auth")))


# ---- client keys (docs/PROTOCOL.md, "Client key file") ----

class ClientKey:
    def __init__(self, name, algorithm, private_key):
        self.name = name
        self.algorithm = algorithm
        self._key = private_key

    @staticmethod
    def generate(name, algorithm="ed25519"):
        if algorithm == "ed25519":
            return ClientKey(name, algorithm, ed25519.Ed25519PrivateKey.generate())
        return ClientKey(name, "ecdsa-p256", ec.generate_private_key(ec.SECP256R1()))

    @staticmethod
    def from_private_bytes(name, algorithm, raw):
        if algorithm == "ed25519":
            return ClientKey(name, algorithm, ed25519.Ed25519PrivateKey.from_private_bytes(raw))
        if algorithm == "ecdsa-p256":
            return ClientKey(name, algorithm,
                             ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1()))
        raise ValueError(f"unknown algorithm {algorithm!r}")

    @staticmethod
    def load(path):
        with open(path) as f:
            doc = json.load(f)
        if doc.get("format") != "lockout-client-key-v1":
            raise ValueError("not a lockout client key file")
        key = ClientKey.from_private_bytes(doc["name"], doc["algorithm"],
                                           bytes.fromhex(doc["private_key"]))
        if key.public_key_raw().hex() != doc["public_key"].lower():
            raise ValueError("public_key is not the private key's")
        return key

    def public_key_raw(self):
        pub = self._key.public_key()
        if self.algorithm == "ed25519":
            return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return pub.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def policy_entry(self, ops=("sign",), keys=("*",)):
        return {"name": self.name, "algorithm": self.algorithm,
                "public_key": self.public_key_raw().hex(), "ops": sorted(ops), "keys": sorted(keys)}

    def sign(self, data):
        if self.algorithm == "ed25519":
            return self._key.sign(data)
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))  # DER

    def verify(self, data, signature):
        try:
            if self.algorithm == "ed25519":
                self._key.public_key().verify(signature, data)
            else:
                self._key.public_key().verify(signature, data, ec.ECDSA(hashes.SHA256()))
            return True
        except InvalidSignature:
            return False

    def sign_request(self, request, timestamp_ms=None, nonce=None):
        """Returns a copy of `request` with its "auth" member added."""
        if timestamp_ms is None:
            timestamp_ms = int(time.time() * 1000)
        if nonce is None:
            nonce = os.urandom(32)
        body = {k: v for k, v in request.items() if k != "auth"}
        signature = self.sign(canonical_request(body, self.name, timestamp_ms, nonce))
        body["auth"] = {"client": self.name, "timestamp": timestamp_ms, "nonce": b64(nonce),
                        "signature": b64(signature)}
        return body


# ---- the v2 connection (docs/PROTOCOL.md §2) ----

class Connection:
    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, obj):
        body = json.dumps(obj).encode()
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def recv(self):
        head = self.sock.recv(4, socket.MSG_WAITALL)
        if len(head) < 4:
            return None
        (n,) = struct.unpack(">I", head)
        return json.loads(self.sock.recv(n, socket.MSG_WAITALL))

    def call(self, obj):
        self.send(obj)
        return self.recv()

    def close(self):
        self.sock.close()
