"""BIP-32 on secp256k1 in Python, independently of lockout, for the HD integration tests
(hd_keys_test, enclave_keygen_test): private derivation from a seed, public derivation from an
xpub (non-hardened indexes only), and reading an xpub. Plain integer arithmetic plus hmac; the
`cryptography` package only to serialize points."""

import hashlib
import hmac

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# secp256k1: field prime, group order, generator.
P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
HARDENED = 0x80000000


def _xpub_bytes(xpub):
    n = 0
    for ch in xpub:
        n = n * 58 + B58.index(ch)
    raw = n.to_bytes(82, "big")
    assert hashlib.sha256(hashlib.sha256(raw[:78]).digest()).digest()[:4] == raw[78:]
    return raw


def xpub_public_key(xpub):
    """The 33-byte compressed key of an xpub (Base58Check decoded here)."""
    return _xpub_bytes(xpub)[45:78]


def xpub_fields(xpub):
    """(depth, chain code, compressed key) of an xpub."""
    raw = _xpub_bytes(xpub)
    return raw[4], raw[13:45], raw[45:78]


def _path_indexes(path):
    assert path == "m" or path.startswith("m/"), path
    out = []
    for part in path.split("/")[1:]:
        hardened = part.endswith("'")
        out.append(int(part.rstrip("'")) + (HARDENED if hardened else 0))
    return out


def bip32_private(seed, path):
    """BIP-32 private derivation on secp256k1: the child's private scalar."""
    i = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    k, c = int.from_bytes(i[:32], "big"), i[32:]
    for index in _path_indexes(path):
        if index >= HARDENED:
            data = b"\x00" + k.to_bytes(32, "big")
        else:
            data = ec.derive_private_key(k, ec.SECP256K1()).public_key().public_bytes(
                Encoding.X962, PublicFormat.CompressedPoint)
        i = hmac.new(c, data + index.to_bytes(4, "big"), hashlib.sha512).digest()
        k, c = (int.from_bytes(i[:32], "big") + k) % N, i[32:]
    return k


def _decompress(key):
    x = int.from_bytes(key[1:], "big")
    y = pow((x * x * x + 7) % P, (P + 1) // 4, P)
    if y % 2 != key[0] % 2:
        y = P - y
    return x, y


def _compress(point):
    x, y = point
    return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")


def _add(a, b):
    (x1, y1), (x2, y2) = a, b
    if a == b:
        s = 3 * x1 * x1 * pow(2 * y1, -1, P) % P
    else:
        s = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (s * s - x1 - x2) % P
    return x3, (s * (x1 - x3) - y1) % P


def bip32_public_child(xpub, path):
    """BIP-32 public derivation (CKDpub) from an xpub along a path of non-hardened indexes: the
    child's uncompressed point 04||X||Y, as the enclave's public_key_raw."""
    _, c, key = xpub_fields(xpub)
    for index in _path_indexes(path):
        assert index < HARDENED, "an xpub derives non-hardened children only"
        i = hmac.new(c, key + index.to_bytes(4, "big"), hashlib.sha512).digest()
        il = int.from_bytes(i[:32], "big")
        assert il < N
        tweak = ec.derive_private_key(il, ec.SECP256K1()).public_key().public_bytes(
            Encoding.X962, PublicFormat.CompressedPoint)
        key, c = _compress(_add(_decompress(tweak), _decompress(key))), i[32:]
    x, y = _decompress(key)
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
