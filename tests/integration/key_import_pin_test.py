"""Issue 14 item 7, key import and pinning, with real processes.

`lockout local-aws`, a KMS key locked to the built lockout-enclave's PCR0 and to the PCR16 of a
signing policy that pins an imported secp256k1 key by its address, then lockout-relay and
lockout-enclave on loopback TCP:

* `lockout create-key --import -` (the raw hex key on stdin) stores the key, prints its address
  and the pin line; the enclave booted with the pinning policy loads it and signs;
* the stored ciphertext replaced by another key's, made the same way under the same KMS key and
  encryption context (what anyone with kms:Encrypt and secretsmanager:PutSecretValue could do):
  KMS decrypts it for the enclave, but the enclave refuses it: health "failed" with reason "key
  does not match the policy's pin" and both addresses in the detail, and signing is refused;
* a key given on the command line is refused before anything is read or sent.
"""

import json
import os
import subprocess

import harness
import runtime_test

SECRET = runtime_test.SECRET
ED25519_A = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
# A widely published example key (web3.py / eth-account documentation) and its address.
KEY_HEX = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
KEY_ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
# Private key 1 (public key G): the attacker's.
OTHER_KEY_HEX = "00" * 31 + "01"
OTHER_ADDRESS = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
PIN_MISMATCH = "key does not match the policy's pin"


class KeyImportPinTest(runtime_test.RuntimeTestCase):

    def import_key(self, key_hex, *extra):
        r = subprocess.run([self.lockout, "create-key", "--kms-key", self.key_arn, "--secret",
                            SECRET, "--import", "-", "--json", *extra],
                           input=key_hex + "\n", env=self.la.env("instance"),
                           capture_output=True, text=True, timeout=60)
        self.outputs.append(r.stdout + r.stderr)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("WARNING: An imported key existed outside the enclave", r.stderr)
        return json.loads(r.stdout)

    def test_the_pinned_key_signs_and_a_swapped_ciphertext_is_refused(self):
        secrets = self.la.boto3_client("secretsmanager", "admin")
        # The attacker's ciphertext: another key, same KMS key, same secret name (context).
        other = self.import_key(OTHER_KEY_HEX)
        self.assertEqual(other["address"], OTHER_ADDRESS)
        swapped = secrets.get_secret_value(SecretId=SECRET)["SecretBinary"]

        mine = self.import_key(KEY_HEX, "--overwrite")
        self.assertEqual((mine["key_type"], mine["address"], mine["imported"]),
                         ("secp256k1", KEY_ADDRESS, True), mine)
        self.assertEqual(mine["policy_pin"], {"eth_address": KEY_ADDRESS.lower()})
        policy = os.path.join(self.tmp, "policy.json")
        with open(policy, "w") as f:
            json.dump({"version": 1, "allow_unauthenticated_v1": True,
                       "clients": [{"name": "gateway", "algorithm": "ed25519",
                                    "public_key": ED25519_A, "ops": ["sign", "public_key"],
                                    "keys": ["*"]}],
                       "key": {"eth_address": KEY_ADDRESS}}, f)
        self.lock_to("--enclave-binary", self.enclave_bin, "--signing-policy", policy)

        _, relay = self.start_relay()
        enclave, uri = self.start_enclave(relay["listen"], "--signing-policy", policy)
        self.wait_loaded(uri)
        self.assertEqual(self.health(uri)["key_type"], "secp256k1")
        self.assert_signs(uri, mine["public_key_pem"])
        enclave.stop()

        # Swap the stored ciphertext and restart: KMS releases the other key, the pin refuses it.
        secrets.put_secret_value(SecretId=SECRET, SecretBinary=swapped)
        enclave, uri = self.start_enclave(relay["listen"], "--signing-policy", policy)
        h = harness.wait_until(
            lambda: (lambda h: h if h["status"] == "failed" else None)(self.health(uri)),
            "health to report the pin failure", detail=self.all_logs)
        self.assertEqual(h["reason"], PIN_MISMATCH, h)
        self.assertIn("eth_address " + KEY_ADDRESS, h["detail"])
        self.assertIn("eth_address " + OTHER_ADDRESS, h["detail"])
        self.assertNotIn("key_type", h)
        self.assertEqual(harness.v1_sign(uri, runtime_test.SEED_MESSAGE)["success"], "False")
        reply = harness.v2_call(uri, {"id": 1, "op": "sign", "message": "aGk="})
        self.assertEqual((reply["ok"], reply["error"]), (False, "key not loaded"), reply)
        self.assertIn('"key_pin_mismatch"', enclave.log())
        self.assertIsNone(enclave.proc.poll())
        # Neither private key reached any log or output.
        for text in self.outputs + [self.all_logs()]:
            self.assertNotIn(KEY_HEX[2:], text)
            self.assertNotIn("4c0883a6", text)

    def test_a_key_on_the_command_line_is_refused(self):
        r = self.cli("instance", "create-key", "--kms-key", self.key_arn, "--secret", SECRET,
                     "--import", KEY_HEX)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("not the key itself", r.stderr)
        self.assertNotIn(KEY_HEX[2:], r.stdout + r.stderr)
        r = self.cli("instance", "create-key", "--kms-key", self.key_arn, "--secret", SECRET,
                     "--import", os.path.join(self.tmp, "absent.hex"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("absent.hex", r.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
