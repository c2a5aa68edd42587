#!/usr/bin/env python3
"""An independent EIF implementation used to check lockout's C++ EIF code.

Written from the format facts only (aws-nitro-enclaves-image-format src/defs/mod.rs,
src/utils/mod.rs, src/utils/eif_reader.rs), sharing no code with src/eif/. Uses only the Python
standard library (struct, hashlib, zlib) plus `cryptography` for ECDSA.

  independent_eif.py measure FILE
      Walks the file sequentially as nitro-cli's EifReader does and prints JSON:
      {"pcr0", "pcr1", "pcr2", ["pcr8"], "crc_stored", "crc_computed", "version",
       ["signature_valid"]}
  independent_eif.py make OUT [--sign CERT_PEM KEY_PEM]
      Writes the deterministic test image described in tests/testdata/eif/README.md.
"""
import hashlib
import json
import struct
import sys
import zlib

HEADER_SIZE = 548
KERNEL, CMDLINE, RAMDISK, SIGNATURE, METADATA = 1, 2, 3, 4, 5


def extend_once(chunks):
    inner = hashlib.sha384()
    for c in chunks:
        inner.update(c)
    return hashlib.sha384(b"\x00" * 48 + inner.digest()).hexdigest()


# --- minimal CBOR (RFC 8949) for the signature section -------------------------------------
def cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | info]) + struct.pack(fmt, n)
    raise ValueError(n)


def cbor_enc(v):
    if isinstance(v, bool) or v is None:
        raise TypeError(v)
    if isinstance(v, int):
        return cbor_head(0, v) if v >= 0 else cbor_head(1, -1 - v)
    if isinstance(v, bytes):
        return cbor_head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return cbor_head(3, len(b)) + b
    if isinstance(v, list):
        return cbor_head(4, len(v)) + b"".join(cbor_enc(x) for x in v)
    if isinstance(v, dict):  # insertion order, as serde_cbor writes struct fields
        return cbor_head(5, len(v)) + b"".join(cbor_enc(k) + cbor_enc(x) for k, x in v.items())
    raise TypeError(v)


def cbor_dec(b, i=0):
    ib = b[i]
    major, info = ib >> 5, ib & 31
    i += 1
    if info < 24:
        n = info
    else:
        size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        n = int.from_bytes(b[i:i + size], "big")
        i += size
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i
    if major == 2:
        return bytes(b[i:i + n]), i + n
    if major == 3:
        return b[i:i + n].decode(), i + n
    if major == 4:
        out = []
        for _ in range(n):
            x, i = cbor_dec(b, i)
            out.append(x)
        return out, i
    if major == 5:
        out = {}
        for _ in range(n):
            k, i = cbor_dec(b, i)
            out[k], i = cbor_dec(b, i)
        return out, i
    if major == 6:
        return cbor_dec(b, i)
    raise ValueError("unsupported CBOR major type %d" % major)


def pem_to_der(pem):
    import base64
    lines = pem.decode().strip().splitlines()
    body = "".join(l for l in lines if not l.startswith("-----"))
    return base64.b64decode(body)


def sig_structure(protected, payload):
    return cbor_enc(["Signature1", protected, b"", payload])


def pcr_info(pcr0_hex):
    return cbor_enc({"register_index": 0, "register_value": list(bytes.fromhex(pcr0_hex))})


# --- measure ---------------------------------------------------------------------------------
def measure(path):
    data = open(path, "rb").read()
    version = struct.unpack(">H", data[4:6])[0]
    crc = zlib.crc32(data[:HEADER_SIZE - 4])
    crc_stored = struct.unpack(">I", data[HEADER_SIZE - 4:HEADER_SIZE])[0]
    image, bootstrap, app = [], [], []
    ramdisks = 0
    signature = None
    pos = HEADER_SIZE
    while pos < len(data):
        stype, _flags, size = struct.unpack(">HHQ", data[pos:pos + 12])
        body = data[pos + 12:pos + 12 + size]
        crc = zlib.crc32(data[pos:pos + 12 + size], crc)
        if stype in (KERNEL, CMDLINE):
            image.append(body)
            bootstrap.append(body)
        elif stype == RAMDISK:
            image.append(body)
            (bootstrap if ramdisks == 0 else app).append(body)
            ramdisks += 1
        elif stype == SIGNATURE:
            signature = body
        pos += 12 + size
    out = {
        "version": version,
        "pcr0": extend_once(image),
        "pcr1": extend_once(bootstrap),
        "pcr2": extend_once(app),
        "crc_stored": crc_stored,
        "crc_computed": crc,
    }
    if signature is not None:
        entries, _ = cbor_dec(signature)
        cert_pem = bytes(entries[0]["signing_certificate"])
        out["pcr8"] = extend_once([pem_to_der(cert_pem)])
        out["signature_valid"] = verify(cert_pem, bytes(entries[0]["signature"]), out["pcr0"])
    return out


def verify(cert_pem, cose, pcr0_hex):
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    arr, _ = cbor_dec(cose)
    protected, _unprotected, payload, sig = arr
    alg = cbor_dec(protected)[0][1]
    digest = {-7: hashes.SHA256(), -35: hashes.SHA384(), -36: hashes.SHA512()}[alg]
    half = len(sig) // 2
    der = encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big"))
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    try:
        key.verify(der, sig_structure(protected, payload), ec.ECDSA(digest))
    except InvalidSignature:
        return False
    return payload == pcr_info(pcr0_hex)


# --- make ------------------------------------------------------------------------------------
def test_image_parts():
    kernel = b"".join(b"lockout test kernel block %04d\n" % i for i in range(64))
    cmdline = b"reboot=k panic=30 pci=off nomodules console=ttyS0 random.trust_cpu=on"
    metadata = json.dumps({
        "ImageName": "lockout-test", "ImageVersion": "1.0",
        "BuildMetadata": {"BuildTime": "2024-01-01T00:00:00Z", "BuildTool": "independent_eif.py",
                          "BuildToolVersion": "1", "OperatingSystem": "Linux",
                          "KernelVersion": "test"},
        "DockerInfo": {}, "CustomMetadata": {"purpose": "lockout unit tests"}},
        separators=(",", ":")).encode()
    ramdisks = [bytes(range(256)) * 8, b"application ramdisk\n" * 100, b"third ramdisk"]
    return kernel, cmdline, metadata, ramdisks


def make(out_path, cert_path=None, key_path=None):
    kernel, cmdline, metadata, ramdisks = test_image_parts()
    sections = [(KERNEL, kernel), (CMDLINE, cmdline), (METADATA, metadata)]
    sections += [(RAMDISK, r) for r in ramdisks]
    if cert_path:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        cert_pem = open(cert_path, "rb").read()
        key = serialization.load_pem_private_key(open(key_path, "rb").read(), None)
        pcr0 = extend_once([kernel, cmdline] + ramdisks)
        protected = cbor_enc({1: -35})
        payload = pcr_info(pcr0)
        r, s = decode_dss_signature(key.sign(sig_structure(protected, payload),
                                             ec.ECDSA(hashes.SHA384())))
        cose = cbor_enc([protected, {}, payload, r.to_bytes(48, "big") + s.to_bytes(48, "big")])
        section = cbor_enc([{"signing_certificate": list(cert_pem), "signature": list(cose)}])
        sections.append((SIGNATURE, section))
    offsets, sizes = [0] * 32, [0] * 32
    pos = HEADER_SIZE
    for i, (_t, body) in enumerate(sections):
        offsets[i], sizes[i] = pos, len(body)
        pos += 12 + len(body)
    header = b".eif" + struct.pack(">HHQQHH", 4, 0, 512 << 20, 2, 0, len(sections))
    header += struct.pack(">32Q", *offsets) + struct.pack(">32Q", *sizes) + struct.pack(">I", 0)
    rest = b"".join(struct.pack(">HHQ", t, 0, len(b)) + b for t, b in sections)
    crc = zlib.crc32(rest, zlib.crc32(header))
    with open(out_path, "wb") as f:
        f.write(header + struct.pack(">I", crc) + rest)


def main(argv):
    if len(argv) == 3 and argv[1] == "measure":
        print(json.dumps(measure(argv[2]), sort_keys=True))
    elif len(argv) == 3 and argv[1] == "make":
        make(argv[2])
    elif len(argv) == 6 and argv[1] == "make" and argv[3] == "--sign":
        make(argv[2], argv[4], argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
