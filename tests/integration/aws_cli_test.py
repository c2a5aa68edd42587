"""Issue 3 item 8: the real AWS CLI and boto3 against `lockout local-aws` on port 0."""

import base64
import json
import os
import unittest

import harness
from harness import aws


class AwsCliTest(harness.TempDirTestCase):
    def test_kms_and_secrets_manager_with_the_aws_cli(self):
        la = self.local_aws()
        env = la.env("admin")
        _, key, _ = aws(env, "kms", "create-key", "--description", "cli test")
        key_id = key["KeyMetadata"]["KeyId"]
        self.assertEqual(key["KeyMetadata"]["KeyState"], "Enabled")
        self.assertTrue(key["KeyMetadata"]["Arn"].startswith("arn:aws:kms:us-east-1:"))

        plaintext = os.path.join(self.tmp, "plain.bin")
        with open(plaintext, "wb") as f:
            f.write(b"attack at dawn")
        _, enc, _ = aws(env, "kms", "encrypt", "--key-id", key_id, "--plaintext",
                        f"fileb://{plaintext}", "--encryption-context", "purpose=test")
        blob = os.path.join(self.tmp, "blob.bin")
        with open(blob, "wb") as f:
            f.write(base64.b64decode(enc["CiphertextBlob"]))
        _, dec, _ = aws(env, "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}",
                        "--encryption-context", "purpose=test")
        self.assertEqual(base64.b64decode(dec["Plaintext"]), b"attack at dawn")
        self.assertEqual(dec["KeyId"], key["KeyMetadata"]["Arn"])

        # The wrong encryption context is InvalidCiphertextException, as on AWS.
        rc, _, err = aws(env, "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}",
                         "--encryption-context", "purpose=other", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("InvalidCiphertextException", err)

        _, pol, _ = aws(env, "kms", "get-key-policy", "--key-id", key_id, "--policy-name",
                        "default")
        policy = json.loads(pol["Policy"])
        self.assertEqual(policy["Statement"][0]["Principal"]["AWS"],
                         f"arn:aws:iam::{la.ready['account']}:root")
        policy["Statement"][0]["Sid"] = "Renamed"
        aws(env, "kms", "put-key-policy", "--key-id", key_id, "--policy-name", "default",
            "--policy", json.dumps(policy))
        _, pol2, _ = aws(env, "kms", "get-key-policy", "--key-id", key_id, "--policy-name",
                         "default")
        self.assertEqual(json.loads(pol2["Policy"])["Statement"][0]["Sid"], "Renamed")

        _, created, _ = aws(env, "secretsmanager", "create-secret", "--name", "cli-secret",
                            "--secret-binary", f"fileb://{blob}")
        self.assertIn(":secret:cli-secret-", created["ARN"])
        _, got, _ = aws(env, "secretsmanager", "get-secret-value", "--secret-id", "cli-secret")
        with open(blob, "rb") as f:
            self.assertEqual(base64.b64decode(got["SecretBinary"]), f.read())
        self.assertEqual(got["VersionStages"], ["AWSCURRENT"])

    def test_wrong_secret_key_and_unknown_key_id_are_rejected_like_aws(self):
        la = self.local_aws()
        env = la.env("admin")
        env["AWS_SECRET_ACCESS_KEY"] = "x" * 40
        rc, _, err = aws(env, "kms", "list-keys", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("InvalidSignatureException", err)
        env = la.env("admin")
        env["AWS_ACCESS_KEY_ID"] = "AKIA" + "Z" * 16
        rc, _, err = aws(env, "kms", "list-keys", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("UnrecognizedClientException", err)


class Boto3Test(harness.TempDirTestCase):
    def test_boto3_decrypt_with_recipient_opens_with_openssl_cms(self):
        la = self.local_aws()
        kms = la.boto3_client("kms", "root")
        key_id = kms.create_key(Description="boto3")["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"enclave-only secret")["CiphertextBlob"]

        key_pem = os.path.join(self.tmp, "rsa.pem")
        pub_der = os.path.join(self.tmp, "rsa.pub.der")
        doc_path = os.path.join(self.tmp, "doc.cbor")
        self.assertEqual(harness.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                                      "rsa_keygen_bits:2048", "-out", key_pem]).returncode, 0)
        self.assertEqual(harness.run(["openssl", "pkey", "-in", key_pem, "-pubout", "-outform",
                                      "DER", "-out", pub_der]).returncode, 0)
        r = harness.run([harness.binary("lockout"), "nsm", "attest", "--nsm",
                         "unix://" + la.ready["nsm_socket"], "--public-key-der", pub_der,
                         "--out", doc_path])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(doc_path, "rb") as f:
            doc = f.read()

        resp = kms.decrypt(CiphertextBlob=blob, Recipient={
            "AttestationDocument": doc, "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"})
        self.assertNotIn("Plaintext", resp)
        envelope = os.path.join(self.tmp, "envelope.der")
        with open(envelope, "wb") as f:
            f.write(resp["CiphertextForRecipient"])
        out = harness.run(["openssl", "cms", "-decrypt", "-inform", "DER", "-in", envelope,
                           "-inkey", key_pem])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, b"enclave-only secret")

    def test_boto3_secrets_manager_versions(self):
        la = self.local_aws()
        sm = la.boto3_client("secretsmanager", "admin")
        sm.create_secret(Name="rotating", SecretString="one")
        sm.put_secret_value(SecretId="rotating", SecretString="two")
        self.assertEqual(sm.get_secret_value(SecretId="rotating")["SecretString"], "two")
        prev = sm.get_secret_value(SecretId="rotating", VersionStage="AWSPREVIOUS")
        self.assertEqual(prev["SecretString"], "one")
        with self.assertRaises(sm.exceptions.ResourceNotFoundException):
            sm.get_secret_value(SecretId="missing")


if __name__ == "__main__":
    unittest.main()
