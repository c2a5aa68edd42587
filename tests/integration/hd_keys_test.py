"""Issue 14 item 5, HD keys end to end, with real processes.

`lockout local-aws`, a KMS key locked to the built lockout-enclave's PCR0 and to the PCR16 of a
signing policy whose client "gw" may use the paths m/0', m/0'/* and m/44'/60'/0'/0/*, then
lockout-relay (with --audit-log) and lockout-enclave (--audit) on loopback TCP:

* `lockout create-key --import-seed -` stores BIP-32 test vector 1's seed as an HD seed secret;
  its printed xpub is the vector's master xpub; the enclave loads it ("hd" in its ready file);
* `lockout sign --path` with two paths gives two signatures, each verified here (Python
  `cryptography`) against the public key of the vector's published xpub for that path;
* a path outside gw's "paths" is refused ("path not allowed"), with rule hd_path in the relay's
  audit log; a request without a path is "path required";
* the seed of the BIP-39 test mnemonic ("abandon ×11 about", `create-key --import-mnemonic -`):
  `lockout eth address --path m/44'/60'/0'/0/0` is the published address, which is also derived
  here independently (PBKDF2-HMAC-SHA512, BIP-32 with hmac and `cryptography`, Keccak-256);
* a single-key secret: a request naming a path is "path needs an hd key".
"""

import hashlib
import json
import os
import subprocess

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import harness
from hd_derive import bip32_private, bip32_public_child, xpub_public_key
import lockout_client as lc
import runtime_test
from wallet_flows_test import checksum_address, keccak256

SECRET = runtime_test.SECRET
SEED1 = "000102030405060708090a0b0c0d0e0f"
# BIP-32 test vector 1: published extended public keys.
XPUB_M = ("xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsef"
          "D265TMg7usUDFdp6W1EGMcet8")
XPUBS = {
    "m/0'": "xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgw"
            "Q9xv5ski8PX9rL2dZXvgGDnw",
    "m/0'/1": "xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq5"
              "27Hqck2AxYysAA7xmALppuCkwQ",
}
MNEMONIC = ("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
            "abandon about")
# m/44'/60'/0'/0/0 of that mnemonic (empty passphrase), as every wallet shows it.
MNEMONIC_ADDRESS = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
ETH_PATH = "m/44'/60'/0'/0/0"
# The first Trezor BIP-39 vector's seed: MNEMONIC with the passphrase "TREZOR"
# (tests/hd/testdata/bip39_vectors.json).
TREZOR_SEED = ("c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1"
               "c92f2cf141630c7a3c4ab7c81b2f001698e7463b04")


class HdKeysTest(runtime_test.RuntimeTestCase):

    def setUp(self):
        super().setUp()
        self.gw_file = os.path.join(self.tmp, "gw.key")
        r = harness.run([self.lockout, "client-key", "create", "--out", self.gw_file, "--name",
                         "gw", "--json"], text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.gw = lc.ClientKey.load(self.gw_file)
        entry = self.gw.policy_entry(ops=("sign", "public_key", "health"))
        entry["paths"] = ["m/0'", "m/0'/*", "m/44'/60'/0'/0/*"]
        self.policy = os.path.join(self.tmp, "policy.json")
        with open(self.policy, "w") as f:
            json.dump({"version": 1, "allow_unauthenticated_v1": True, "clients": [entry]}, f)

    def store(self, flag, secret_text, *extra):
        r = subprocess.run([self.lockout, "create-key", "--kms-key", self.key_arn, "--secret",
                            SECRET, flag, "-", "--json", "--overwrite", *extra],
                           input=secret_text + "\n", env=self.la.env("instance"),
                           capture_output=True, text=True, timeout=60)
        self.outputs.append(r.stdout + r.stderr)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def start_stack(self):
        n = len(self._stops)
        ready = os.path.join(self.tmp, f"relay-{n}.json")
        self.audit_log = os.path.join(self.tmp, f"audit-{n}.jsonl")  # one chain per relay
        relay = harness.Process([self.relay_bin, "--listen", "tcp://127.0.0.1:0",
                                 "--allow-secret", SECRET, "--audit-log", self.audit_log,
                                 "--ready-file", ready], self.tmp, f"relay-{n}",
                                env=self.la.process_env(relay=True))
        self._stops.append(relay.stop)
        harness.wait_for_file(ready, relay.proc, what="relay ready file")
        with open(ready) as f:
            relay_uri = json.load(f)["listen"]
        enclave, uri = self.start_enclave(relay_uri, "--signing-policy", self.policy, "--audit")
        self.wait_loaded(uri)
        return relay, enclave, uri

    def lockout_cli(self, *args):
        r = subprocess.run([self.lockout, *args], capture_output=True, text=True, timeout=60)
        self.outputs.append(r.stdout + r.stderr)
        return r

    def call(self, uri, request):
        return harness.v2_call(uri, self.gw.sign_request(request))

    def test_hd_seed_secret_paths_policy_audit_and_errors(self):
        stored = self.store("--import-seed", SEED1)
        self.assertEqual((stored["hd"], stored["key_type"], stored["xpub"], stored["imported"]),
                         (True, "secp256k1", XPUB_M, True), stored)
        self.lock_to("--enclave-binary", self.enclave_bin, "--signing-policy", self.policy)
        relay, enclave, uri = self.start_stack()
        self.assertEqual(self.health(uri)["hd"]["curve"], "secp256k1")

        # Two paths, two keys; each signature verifies against the vector's xpub for its path.
        for path, xpub in XPUBS.items():
            r = self.lockout_cli("sign", "--enclave", uri, "--client-key", self.gw_file,
                                 "--path", path, "--message", "hello hd")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            sig = bytes.fromhex(json.loads(r.stdout)["signature"])
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(),
                                                              xpub_public_key(xpub))
            key.verify(sig, b"hello hd", ec.ECDSA(hashes.SHA256()))  # raises if wrong
            if path == "m/0'/1":  # public derivation (hd_derive) agrees with the vector
                self.assertEqual(bip32_public_child(XPUBS["m/0'"], "m/1"),
                                 key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
            pk = self.call(uri, {"id": 1, "op": "public_key", "path": path})
            self.assertEqual(pk["path"], path, pk)
            self.assertEqual(bytes.fromhex(pk["public_key_raw"]),
                             key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))

        # Outside the policy: refused, named in the log and the audit trail.
        r = self.lockout_cli("sign", "--enclave", uri, "--client-key", self.gw_file, "--path",
                             "m/1'", "--message", "not allowed")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("path not allowed", r.stderr)
        reply = self.call(uri, {"id": 2, "op": "sign", "message": lc.b64(b"x"),
                                "path": "m/0'/1/2"})
        self.assertEqual(reply["error"], "path not allowed", reply)
        reply = self.call(uri, {"id": 3, "op": "sign", "message": lc.b64(b"x")})
        self.assertEqual(reply["error"], "path required", reply)
        self.assertEqual(harness.v1_sign(uri, b"v1 has no path")["success"], "False")
        self.assertIn('"hd_path"', enclave.log())

        def refusals():
            if not os.path.exists(self.audit_log):
                return None
            with open(self.audit_log) as f:
                lines = [json.loads(line) for line in f if '"hd_path"' in line]
            return lines if len(lines) >= 2 else None
        records = harness.wait_until(refusals, "the hd_path refusals in the audit log", 30,
                                     self.all_logs)
        self.assertTrue(all("refused" in json.dumps(rec) for rec in records), records)
        enclave.stop()
        relay.stop()

        # The BIP-39 test mnemonic: the published Ethereum address, derived here too.
        self.store("--import-mnemonic", MNEMONIC)
        relay, enclave, uri = self.start_stack()
        r = self.lockout_cli("eth", "address", "--enclave", uri, "--client-key", self.gw_file,
                             "--path", ETH_PATH)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["address"], MNEMONIC_ADDRESS)
        seed = hashlib.pbkdf2_hmac("sha512", MNEMONIC.encode(), b"mnemonic", 2048)
        k = bip32_private(seed, ETH_PATH)
        point = ec.derive_private_key(k, ec.SECP256K1()).public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint)
        self.assertEqual(checksum_address(keccak256(point[1:])[-20:]), MNEMONIC_ADDRESS)
        r = self.lockout_cli("eth", "personal-sign", "--enclave", uri, "--client-key",
                             self.gw_file, "--path", "m/44'/60'/0'/0/3", "--message", "hi")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        k3 = bip32_private(seed, "m/44'/60'/0'/0/3")
        point3 = ec.derive_private_key(k3, ec.SECP256K1()).public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint)
        self.assertEqual(json.loads(r.stdout)["signer"],
                         checksum_address(keccak256(point3[1:])[-20:]))
        enclave.stop()
        relay.stop()

        # A single key: a path is an error, no path signs.
        r = self.cli("instance", "create-key", "--kms-key", self.key_arn, "--secret", SECRET,
                     "--type", "secp256k1", "--overwrite", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        relay, enclave, uri = self.start_stack()
        reply = self.call(uri, {"id": 4, "op": "sign", "message": lc.b64(b"x"), "path": "m/0'"})
        self.assertEqual(reply["error"], "path needs an hd key", reply)
        reply = self.call(uri, {"id": 5, "op": "sign", "message": lc.b64(b"x")})
        self.assertTrue(reply["ok"], reply)
        self.assertIsNone(enclave.proc.poll())

        # No seed or mnemonic reached any log or output.
        for text in self.outputs + [self.all_logs()]:
            self.assertNotIn(SEED1, text)
            self.assertNotIn("abandon about", text)

    def test_mnemonic_passphrase_from_a_file(self):
        # The first Trezor BIP-39 vector ("abandon x11 about", passphrase TREZOR): the seed
        # stored is the vector's.
        words = os.path.join(self.tmp, "words.txt")
        with open(words, "w") as f:
            f.write(MNEMONIC + "\n")
        passphrase = os.path.join(self.tmp, "passphrase.txt")
        with open(passphrase, "w") as f:
            f.write("TREZOR\n")  # as echo or an editor writes it: the final newline is ignored
        self.store("--import-mnemonic", MNEMONIC, "--mnemonic-passphrase-file", passphrase)
        sm = self.la.boto3_client("secretsmanager", "admin")
        plain = self.open_with_emulator_material(
            sm.get_secret_value(SecretId=SECRET)["SecretBinary"], {"lockout:secret": SECRET})
        self.assertEqual(plain[:18], b"lockout-hd-seed\x01\x01\x40")
        self.assertEqual(plain[18:].hex(), TREZOR_SEED)
        # Stored the other way round (mnemonic from a file, passphrase on stdin): the same.
        r = subprocess.run([self.lockout, "create-key", "--kms-key", self.key_arn, "--secret",
                            SECRET, "--import-mnemonic", words, "--mnemonic-passphrase-file",
                            "-", "--overwrite"], input="TREZOR\n", env=self.la.env("instance"),
                           capture_output=True, text=True, timeout=60)
        self.outputs.append(r.stdout + r.stderr)
        self.assertEqual(r.returncode, 0, r.stderr)
        plain = self.open_with_emulator_material(
            sm.get_secret_value(SecretId=SECRET)["SecretBinary"], {"lockout:secret": SECRET})
        self.assertEqual(plain[18:].hex(), TREZOR_SEED)
        # An empty file is the empty passphrase: the seed every wallet derives with none.
        empty = os.path.join(self.tmp, "empty.txt")
        open(empty, "w").close()
        self.store("--import-mnemonic", MNEMONIC, "--mnemonic-passphrase-file", empty)
        plain = self.open_with_emulator_material(
            sm.get_secret_value(SecretId=SECRET)["SecretBinary"], {"lockout:secret": SECRET})
        self.assertEqual(plain[18:], hashlib.pbkdf2_hmac("sha512", MNEMONIC.encode(),
                                                         b"mnemonic", 2048))

        base = [self.lockout, "create-key", "--kms-key", self.key_arn, "--secret", SECRET]
        parse_only = dict(os.environ, LOCKOUT_PARSE_ONLY="1")

        def refused(args, env, stdin="", code=2, echoes=False):
            r = subprocess.run(base + args, env=env, input=stdin, capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, code, r.stdout + r.stderr)
            if not echoes:
                self.assertNotIn("TREZOR", r.stdout + r.stderr)
            return r.stderr

        # The passphrase itself is not an option (it would be in ps and the shell history).
        for flag in ("--mnemonic-passphrase", "--passphrase"):
            # (CLI11 names the arguments it did not expect: the typed passphrase among them.)
            refused(["--import-mnemonic", words, flag, "TREZOR"], parse_only, echoes=True)
        # It belongs to a mnemonic; and stdin can feed only one of the two.
        refused(["--hd", "--mnemonic-passphrase-file", empty], parse_only)
        refused(["--import-seed", words, "--mnemonic-passphrase-file", empty], parse_only)
        err = refused(["--import-mnemonic", "-", "--mnemonic-passphrase-file", "-"], parse_only)
        self.assertIn("cannot both read stdin", err)
        # A passphrase typed where FILE goes: not found, and not echoed.
        err = refused(["--import-mnemonic", words, "--mnemonic-passphrase-file", "TREZOR"],
                      self.la.env("instance"), code=1)
        self.assertIn("--mnemonic-passphrase-file", err)
        # Not printable ASCII (BIP-39's NFKD is not done here): refused, nothing stored.
        before = sm.get_secret_value(SecretId=SECRET)["VersionId"]
        err = refused(["--import-mnemonic", words, "--mnemonic-passphrase-file", "-",
                       "--overwrite"], self.la.env("instance"), stdin="TR\u00c9ZOR", code=1)
        self.assertIn("printable ASCII", err)
        self.assertEqual(sm.get_secret_value(SecretId=SECRET)["VersionId"], before)


if __name__ == "__main__":
    import unittest
    unittest.main()
