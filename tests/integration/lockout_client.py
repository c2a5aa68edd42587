"""A small lockout v2 client that signs its requests, written from docs/PROTOCOL.md alone.

Standard library + the `cryptography` package, nothing else. It exists to prove that the
protocol document is enough to write a client in another language (issue 13, acceptance 4):
tests/integration/enclave_auth_test.py drives a real lockout-enclave with it, and checks the
document's worked example byte for byte.

    key = ClientKey.load("gateway.key")               # `lockout client-key create` writes it
    with Connection("127.0.0.1", 5010) as conn:
        reply = conn.call(key.sign_request({"op": "sign", "message": b64(b"hello")}))

Attested replies (docs/PROTOCOL.md, "Attested replies"): ask with attested_sign_request(), check
with verify_attested_reply() - the document's COSE signature and certificate chain to a root you
trust, the PCRs you expect, your nonce, the binding in user_data and the signature.

    request, nonce = attested_sign_request(b"hello")
    sent = key.sign_request(request)                  # "attest" is covered by the signature
    reply = conn.call(sent)
    verify_attested_reply(sent, reply, b"hello", root_der, {0: pcr0, 16: pcr16})
"""

import base64
import datetime
import hashlib
import json
import os
import socket
import struct
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import (Encoding, PublicFormat,
                                                          load_der_public_key)

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


# ---- attested replies (docs/PROTOCOL.md, "Attested replies") ----

REPLY_TAG = b"lockout-attested-reply-v1"


def attested_sign_request(message, nonce=None):
    """A sign request asking for an attested reply; returns (request, nonce)."""
    if nonce is None:
        nonce = os.urandom(32)
    return {"op": "sign", "message": b64(message), "attest": {"nonce": b64(nonce)}}, nonce


def request_digest(request):
    """(kind, 32-byte digest): 2 and SHA-256 of the canonical encoding for a request with
    "auth", else 1 and SHA-256 of the decoded message."""
    auth = request.get("auth")
    if auth is not None:
        encoding = canonical_request(request, auth["client"], auth["timestamp"],
                                     base64.b64decode(auth["nonce"], validate=True))
        return 2, hashlib.sha256(encoding).digest()
    return 1, hashlib.sha256(base64.b64decode(request["message"], validate=True)).digest()


def reply_binding(request, signature, spki_der):
    """The document's user_data: SHA-256(tag || kind || STR(digest) || STR(sig) || STR(spki))."""
    kind, digest = request_digest(request)
    return hashlib.sha256(REPLY_TAG + bytes([kind]) + _str(digest) + _str(signature)
                          + _str(spki_der)).digest()


def _cbor_decode(data, i=0):
    """The subset of CBOR (RFC 8949) an NSM document uses; returns (value, next offset)."""
    major, info = data[i] >> 5, data[i] & 0x1F
    i += 1
    if info < 24:
        arg = info
    elif info in (24, 25, 26, 27):
        n = 1 << (info - 24)
        arg = int.from_bytes(data[i:i + n], "big")
        i += n
    else:
        raise ValueError("indefinite lengths are not used by the NSM")
    if major == 0:
        return arg, i
    if major == 1:
        return -1 - arg, i
    if major in (2, 3):
        raw = data[i:i + arg]
        if len(raw) != arg:
            raise ValueError("truncated")
        return (bytes(raw) if major == 2 else raw.decode("utf-8")), i + arg
    if major == 4:
        out = []
        for _ in range(arg):
            v, i = _cbor_decode(data, i)
            out.append(v)
        return out, i
    if major == 5:
        out = {}
        for _ in range(arg):
            k, i = _cbor_decode(data, i)
            out[k], i = _cbor_decode(data, i)
        return out, i
    if major == 6:  # a tag (18: COSE_Sign1): the tagged value
        return _cbor_decode(data, i)
    if major == 7 and arg in (20, 21, 22):
        return {20: False, 21: True, 22: None}[arg], i
    raise ValueError("unsupported CBOR item")


def _cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError("too long")


def parse_attestation_document(document):
    """The COSE_Sign1 parts and the payload map of an NSM attestation document."""
    cose, end = _cbor_decode(document)
    if end != len(document) or not isinstance(cose, list) or len(cose) != 4:
        raise ValueError("not a COSE_Sign1")
    protected, _, payload, signature = cose
    fields, end = _cbor_decode(payload)
    if end != len(payload) or not isinstance(fields, dict):
        raise ValueError("the payload is not a map")
    return protected, payload, signature, fields


class AttestedReplyError(Exception):
    """An attested reply failed `check` (message, document, pcrN, nonce, binding, signature)."""

    def __init__(self, check, detail):
        super().__init__(f"{check}: {detail}")
        self.check = check


def _verify_document(protected, payload, signature, fields, root_der, now):
    certs = [x509.load_der_x509_certificate(d) for d in fields["cabundle"]]
    certs.append(x509.load_der_x509_certificate(fields["certificate"]))
    if fields["cabundle"][0] != root_der:
        raise AttestedReplyError("document", "the chain does not start at the trusted root")
    for issuer, cert in zip(certs, certs[1:]):
        cert.verify_directly_issued_by(issuer)  # raises on a bad signature or names
    for cert in certs:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise AttestedReplyError("document", "a certificate is outside its validity")
    # COSE Sig_structure ["Signature1", protected, h'', payload], ES384 with raw r || s.
    sig_structure = (_cbor_head(4, 4) + _cbor_head(3, 10) + b"Signature1"
                     + _cbor_head(2, len(protected)) + protected + _cbor_head(2, 0)
                     + _cbor_head(2, len(payload)) + payload)
    r, s = int.from_bytes(signature[:48], "big"), int.from_bytes(signature[48:], "big")
    certs[-1].public_key().verify(encode_dss_signature(r, s), sig_structure,
                                  ec.ECDSA(hashes.SHA384()))


def verify_attested_reply(request, reply, message, root_der, expect_pcrs, now=None):
    """Checks an attested sign reply against the request as sent (with "auth" if any): raises
    AttestedReplyError naming the first failed check. Returns the signing key's SPKI (DER)."""
    if not reply.get("ok"):
        raise AttestedReplyError("reply", reply.get("error"))
    if base64.b64decode(request["message"], validate=True) != message:
        raise AttestedReplyError("message", "the request is for another message")
    signature = bytes.fromhex(reply["signature"])
    try:
        protected, payload, cose_sig, fields = parse_attestation_document(
            base64.b64decode(reply["attestation"], validate=True))
        _verify_document(protected, payload, cose_sig, fields, root_der,
                         now or datetime.datetime.now(datetime.timezone.utc))
    except AttestedReplyError:
        raise
    except Exception as e:  # noqa: BLE001 - any parse or signature failure
        raise AttestedReplyError("document", repr(e)) from e
    for index, value in sorted(expect_pcrs.items()):
        if fields["pcrs"].get(index) != value:
            raise AttestedReplyError(f"pcr{index}", "not the expected value")
    if fields["nonce"] != base64.b64decode(request["attest"]["nonce"], validate=True):
        raise AttestedReplyError("nonce", "not the request's nonce")
    spki = fields["public_key"]
    if spki is None or fields["user_data"] != reply_binding(request, signature, spki):
        raise AttestedReplyError("binding", "user_data is not the binding")
    key = load_der_public_key(spki)
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as e:
        raise AttestedReplyError("signature", "does not verify") from e
    return spki
