"""Issue 14 item 6: keys born in the enclave, with real processes.

`lockout local-aws`, a KMS key locked by `lockout policy --apply` to the PCR0 of the built
lockout-enclave, lockout-relay and lockout-enclave on loopback TCP, the enclave started with
--secret NAME for a secret that does not exist yet:

* `lockout create-key --in-enclave` makes the enclave generate a secp256k1 key, KMS-encrypt it,
  store it through the relay and answer with the public key in an attestation document that the
  CLI verifies against the local NSM root; it prints the key and its address;
* the enclave signs with it at once; the stored secret is a KMS ciphertext (not the key);
* a restarted enclave loads the stored key through KMS Decrypt (the policy's attestation pin) and
  has the same public key;
* a second generate_key is refused (a key is loaded), and the relay refuses to overwrite the
  secret (write-once);
* no process log carries the private key's PKCS#8 or the stored ciphertext's plaintext;
* `create-key --in-enclave --hd`: the enclave generates a 64-byte HD seed and answers with the
  master key, address, xpub and pin, attested; a restarted enclave loads the seed and signs with
  a path; each signature verifies against the child key derived here from the attested xpub
  (hd_derive.py, public derivation), and the stored seed (opened here with the emulator's key
  material, as only this test can) is the xpub's and appears in no log or output.
"""

import base64
import hashlib
import hmac
import json
import os
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import harness
from hd_derive import bip32_public_child, xpub_fields
from runtime_test import SECRET, RuntimeTestCase


class EnclaveKeygenTest(RuntimeTestCase):
    def create_in_enclave(self, uri, key_type="secp256k1", *extra):
        return self.cli("admin", "create-key", "--in-enclave", "--enclave", uri, "--kms-key",
                        self.key_arn, "--secret", SECRET, "--key-type", key_type, "--root-cert",
                        self.la.ready["nsm_root_cert"], *extra)

    def test_hd_seed_born_in_the_enclave_signs_by_path_after_a_restart(self):
        self.lock_to("--enclave-binary", self.enclave_bin)
        _, relay_info = self.start_relay()
        relay_uri = relay_info["listen"]
        enclave, uri = self.start_enclave(relay_uri)

        r = self.create_in_enclave(uri, "secp256k1", "--hd")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.all_logs())
        out = dict(re.findall(r"^([a-z -]+(?: \(m\))?): (.*)$", r.stdout, re.M))
        self.assertEqual(out["hd seed"].split(" ")[0], "yes", r.stdout)
        self.assertEqual(out["key type"], "secp256k1", r.stdout)
        self.assertEqual(out["kms key"], self.key_arn, r.stdout)
        self.assertTrue(out["attestation"].startswith("verified"), r.stdout)
        xpub, address = out["xpub (m)"], out["address"]
        self.assertEqual(out["signing-policy pin"],
                         f'"key": {{"eth_address":"{address.lower()}"}}', r.stdout)
        self.assertIn("never left the enclave", r.stderr)
        depth, _, master_key = xpub_fields(xpub)
        self.assertEqual(depth, 0)
        self.assertEqual(self.health(uri)["status"], "ok")

        # The stored secret is a KMS ciphertext of a "lockout-hd-seed" v1 secp256k1 seed whose
        # BIP-32 master is the attested xpub's.
        sm = self.la.boto3_client("secretsmanager", "admin")
        stored = sm.get_secret_value(SecretId=SECRET)["SecretBinary"]
        plain = self.open_with_emulator_material(stored, {"lockout:secret": SECRET})
        self.assertEqual((plain[:15], plain[15], plain[16], plain[17], len(plain)),
                         (b"lockout-hd-seed", 1, 1, 64, 18 + 64))
        seed = plain[18:]
        i = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
        _, master_chain, _ = xpub_fields(xpub)
        self.assertEqual(i[32:], master_chain)
        self.assertEqual(ec.derive_private_key(int.from_bytes(i[:32], "big"), ec.SECP256K1())
                         .public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint),
                         master_key)

        # A restarted enclave loads the seed (KMS Decrypt to the attested enclave) and signs with
        # paths; every signature verifies against the child derived from the attested xpub.
        enclave.stop()
        enclave2, uri2 = self.start_enclave(relay_uri)
        self.wait_loaded(uri2)
        self.assertEqual(self.health(uri2)["hd"]["curve"], "secp256k1")
        for path in ("m/0/7", "m/44/60/0/0/1"):
            signed = self.cli("admin", "sign", "--enclave", uri2, "--path", path, "--message",
                              "born in the enclave")
            self.assertEqual(signed.returncode, 0, signed.stdout + signed.stderr)
            sig = bytes.fromhex(json.loads(signed.stdout)["signature"])
            child = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256K1(), bip32_public_child(xpub, path))
            child.verify(sig, b"born in the enclave", ec.ECDSA(hashes.SHA256()))  # raises
        no_path = harness.v2_call(uri2, {"id": 1, "op": "sign",
                                         "message": base64.b64encode(b"x").decode()})
        self.assertEqual(no_path["error"], "path required", no_path)
        enclave2.stop()

        # The seed in no form in any process log or client output.
        texts = self.outputs + [self.all_logs()]
        for canary in (seed.hex(), seed.hex().upper(), base64.b64encode(seed).decode()[:40],
                       base64.b64encode(plain).decode()[:40], plain[:18].hex(), "xprv"):
            for text in texts:
                self.assertNotIn(canary, text)

    def test_key_born_in_the_enclave_signs_survives_a_restart_and_is_written_once(self):
        self.lock_to("--enclave-binary", self.enclave_bin)
        _, relay_info = self.start_relay()
        relay_uri = relay_info["listen"]
        enclave, uri = self.start_enclave(relay_uri)
        health = self.health(uri)
        self.assertNotEqual(health["status"], "ok", health)  # no secret yet

        r = self.create_in_enclave(uri)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.all_logs())
        out = json.loads(r.stdout)
        self.assertEqual(out["key_type"], "secp256k1")
        self.assertEqual(out["secret"], SECRET)
        self.assertEqual(out["kms_key"], self.key_arn)
        self.assertTrue(out["attestation"]["verified"])
        self.assertRegex(out["address"], r"^0x[0-9a-fA-F]{40}$")
        self.assertIn("0", out["attestation"]["pcrs"])

        # Loaded at once, and it signs.
        self.assertEqual(self.health(uri)["status"], "ok")
        self.assert_signs(uri, out["public_key_pem"])
        first = harness.v2_call(uri, {"id": 1, "op": "public_key"})

        # Stored: a KMS ciphertext the admin can read but not decrypt into the key.
        sm = self.la.boto3_client("secretsmanager", "admin")
        stored = sm.get_secret_value(SecretId=SECRET)["SecretBinary"]
        self.assertGreater(len(stored), 100)

        # A second generation is refused while a key is loaded.
        again = self.create_in_enclave(uri)
        self.assertEqual(again.returncode, 1, again.stdout + again.stderr)
        self.assertIn("key loaded", again.stderr)

        # The relay writes the secret once: put_secret for an existing secret is refused.
        reply = harness.v1_request(relay_uri, json.dumps(
            {"request_type": "put_secret", "secret_name": SECRET,
             "secret": base64.b64encode(b"not a key").decode()}).encode() + b"$$$")
        self.assertEqual(json.loads(reply[:-3]), {"error": "secret exists"})
        self.assertEqual(sm.get_secret_value(SecretId=SECRET)["SecretBinary"], stored)

        # A restarted enclave loads the stored key (KMS Decrypt to the attested enclave).
        enclave.stop()
        _, uri2 = self.start_enclave(relay_uri)
        self.wait_loaded(uri2)
        second = harness.v2_call(uri2, {"id": 1, "op": "public_key"})
        self.assertEqual(second["spki_der"], first["spki_der"])
        self.assert_signs(uri2, out["public_key_pem"])

        logs = self.all_logs()
        self.assertNotIn(base64.b64encode(stored).decode()[:40], logs)
        with open(os.path.join(self.tmp, "enclave-2.log")) as f:
            self.assertIn("key_generated", f.read())

    def test_a_key_policy_without_encrypt_for_the_role_stores_nothing(self):
        # A key policy that denies the instance role kms:Encrypt: nothing may be stored.
        account = self.key_arn.split(":")[4]
        self.kms.put_key_policy(KeyId=self.key_arn, PolicyName="default", Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Sid": "root", "Effect": "Allow",
                           "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                           "Action": "kms:*", "Resource": "*"},
                          {"Sid": "noencrypt", "Effect": "Deny",
                           "Principal": {"AWS": self.role_arn},
                           "Action": "kms:Encrypt", "Resource": "*"}]}))
        _, relay_info = self.start_relay()
        _, uri = self.start_enclave(relay_info["listen"])
        r = self.create_in_enclave(uri, key_type="p256")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("kms refused the request", r.stderr)
        sm = self.la.boto3_client("secretsmanager", "admin")
        with self.assertRaises(sm.exceptions.ResourceNotFoundException):
            sm.get_secret_value(SecretId=SECRET)
        self.assertNotEqual(self.health(uri)["status"], "ok")


if __name__ == "__main__":
    import unittest
    unittest.main()
