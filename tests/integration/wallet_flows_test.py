"""docs/WALLET.md "Flows", executed as written against an ephemeral secp256k1 enclave.

The block between the wallet-flows markers runs in one bash (set -euo pipefail) with the build's
binaries first on PATH and ENCLAVE set to a lockout-enclave started here with
--ephemeral-key secp256k1. Then its output is checked:

* the address: computed here, independently of lockout, from the public key the enclave published
  in its ready file (Keccak-256 in pure Python below, checked against its published empty-input
  digest; EIP-55 checksum likewise), and equal to what `lockout eth address` printed;
* the transaction: `raw` is an EIP-1559 (0x02) transaction whose hash, recomputed here, is
  `hash`; its sender is recovered by lockout itself (`lockout eth sign-tx` recovers it from `raw`
  with src/eth's RecoverSender, not from the enclave's reply) and must equal the address above;
* personal_sign and EIP-712: 65-byte signatures with v 27/28 whose `signer`, recovered by lockout
  over the digest it computed, is the address above.
Python has no Keccak-256 or secp256k1 recovery here (no Ethereum libraries): the signatures are
recovered by lockout; the address they are compared with is computed here.
"""

import base64
import json
import os
import re
import subprocess
import unittest

import harness

DOC = os.path.join(harness.SOURCE_DIR, "docs", "WALLET.md")


def flows_block():
    with open(DOC) as f:
        text = f.read()
    m = re.search(r"<!-- wallet-flows:begin -->\n```sh\n(.*?)```\n<!-- wallet-flows:end -->",
                  text, re.S)
    if m is None:
        raise AssertionError("docs/WALLET.md has no wallet-flows block")
    return m.group(1)


# Keccak-256 (the original Keccak padding 0x01, not SHA-3's 0x06), from the Keccak reference.
_RC = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
       0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
       0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
       0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
       0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
       0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56],
        [27, 20, 39, 8, 14]]
_M = (1 << 64) - 1


def _rol(v, n):
    return ((v << n) | (v >> (64 - n))) & _M if n else v


def _keccak_f(a):
    for rc in _RC:
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        a = [[a[x][y] ^ d[x] for y in range(5)] for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol(a[x][y], _ROT[x][y])
        a = [[b[x][y] ^ (~b[(x + 1) % 5][y] & b[(x + 2) % 5][y]) for y in range(5)]
             for x in range(5)]
        a[0][0] ^= rc
    return a


def keccak256(data):
    rate = 136
    padded = bytearray(data) + b"\x01" + b"\x00" * ((rate - (len(data) + 1) % rate) % rate)
    padded[-1] |= 0x80
    a = [[0] * 5 for _ in range(5)]
    for off in range(0, len(padded), rate):
        block = padded[off:off + rate]
        for i in range(rate // 8):
            x, y = i % 5, i // 5
            a[x][y] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        a = _keccak_f(a)
    out = b"".join(a[i % 5][i // 5].to_bytes(8, "little") for i in range(4))
    return out


def checksum_address(raw20):
    hex_addr = raw20.hex()
    h = keccak256(hex_addr.encode()).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(h[i], 16) >= 8 else c
                          for i, c in enumerate(hex_addr))


def address_of_pem(pem):
    body = "".join(line for line in pem.splitlines() if "-----" not in line)
    der = base64.b64decode(body)
    point = der[-65:]  # an SPKI for a secp256k1 key ends with the uncompressed point
    assert point[0] == 4, "not an uncompressed point"
    return checksum_address(keccak256(point[1:])[12:])


class WalletFlowsTest(harness.TempDirTestCase):
    def test_keccak_and_eip55_here_match_published_values(self):
        self.assertEqual(keccak256(b"").hex(),
                         "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        self.assertEqual(keccak256(b"cow").hex(),
                         "c85ef7d79691fe79573b1a7064c19c1a9819ebdbd1faaab1a8ec92344438aaf4")
        self.assertEqual(checksum_address(bytes.fromhex("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")),
                         "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")

    def test_the_documented_flows_run_as_written(self):
        bin_dir = os.path.dirname(harness.binary("lockout"))
        _, uri = self.ephemeral_enclave(key_type="secp256k1")
        with open(os.path.join(self.tmp, "enclave-1.json")) as f:
            expected = address_of_pem(json.load(f)["public_key_pem"])
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_") and not k.startswith("LOCKOUT_")}
        env.update({"PATH": bin_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
                    "HOME": self.tmp, "ENCLAVE": uri})
        work = os.path.join(self.tmp, "flows")
        os.mkdir(work)
        proc = subprocess.run(["bash", "-c", "set -euo pipefail\n" + flows_block()], env=env,
                              cwd=work, capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")

        def load(name):
            with open(os.path.join(work, name)) as f:
                return json.load(f)

        self.assertEqual(load("address.json"), {"address": expected})
        signed = load("signed.json")
        raw = bytes.fromhex(signed["raw"][2:])
        self.assertEqual(raw[0], 2, "not an EIP-1559 transaction")
        self.assertEqual(signed["hash"], "0x" + keccak256(raw).hex())
        self.assertEqual(signed["from"], expected)  # recovered from raw by lockout, not the enclave
        for name in ("personal.json", "typed.json"):
            reply = load(name)
            sig = bytes.fromhex(reply["signature"][2:])
            self.assertEqual(len(sig), 65, name)
            self.assertIn(sig[64], (27, 28), name)
            self.assertEqual(reply["signer"], expected, name)

    def test_a_transaction_from_another_address_is_refused(self):
        lockout = harness.binary("lockout")
        _, uri = self.ephemeral_enclave(key_type="secp256k1")
        tx = os.path.join(self.tmp, "tx.json")
        with open(tx, "w") as f:
            json.dump({"nonce": "0x0", "gas": "0x5208", "gasPrice": "0x1", "chainId": "0x1",
                       "from": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}, f)
        r = harness.run([lockout, "eth", "sign-tx", "--enclave", uri, tx], text=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("bad request", r.stderr)
        with open(tx, "w") as f:
            f.write('{"nonce": "0x0"}')
        r = harness.run([lockout, "eth", "sign-tx", "--enclave", uri, tx], text=True)
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_other_key_types_are_refused(self):
        lockout = harness.binary("lockout")
        _, uri = self.ephemeral_enclave(key_type="p256")
        r = harness.run([lockout, "eth", "address", "--enclave", uri], text=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("bad request", r.stderr)


if __name__ == "__main__":
    unittest.main()
