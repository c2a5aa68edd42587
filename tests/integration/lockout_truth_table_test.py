"""Issue 3 item 9: the lock-out truth table against a real `lockout local-aws`.

For the seed tutorial's policy and the recommended one, each named case tries kms:Decrypt of
the same ciphertext and expects allow or deny:
  root, admin, instance role without attestation: deny
  instance role with a document from the right binary: allow (and openssl opens the envelope)
  from a modified binary, in debug mode, tampered, expired, from a foreign root: deny
and each way around Decrypt — ReEncrypt to a key the caller may use, a grant of Decrypt or
ReEncryptFrom, PutKeyPolicy — for the instance role, the admin and root: the seed policy lets
the instance role re-encrypt and the admin grant itself the key and rewrite the policy; the
recommended policy denies every one of them.
"The right binary" is the `lockout` executable itself: the local NSM service measures whatever
process talks to it, so `lockout nsm attest` yields documents for lockout's own PCR0, and a copy
of the binary with one byte appended yields a different PCR0.
"""

import json
import os
import shutil
import unittest

import botocore.exceptions

import harness

ADMIN_ACTIONS = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*",
                 "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*",
                 "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
                 "kms:CancelKeyDeletion"]
RECOMMENDED_ADMIN_ACTIONS = ["kms:CreateAlias", "kms:Describe*", "kms:Enable*", "kms:List*",
                             "kms:UpdateAlias", "kms:UpdateKeyDescription", "kms:Revoke*",
                             "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                             "kms:UntagResource", "kms:ScheduleKeyDeletion",
                             "kms:CancelKeyDeletion"]
PCR0_KEY = "kms:RecipientAttestation:ImageSha384"


def seed_policy(admin_arn, role_arn, pcr0):
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Allow access for Key Administrators", "Effect": "Allow",
         "Principal": {"AWS": admin_arn}, "Action": ADMIN_ACTIONS, "Resource": "*"},
        {"Sid": "Allow use of the key", "Effect": "Allow", "Principal": {"AWS": role_arn},
         "Action": ["kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
         "Resource": "*"},
        {"Sid": "Enable decrypt from enclave", "Effect": "Allow", "Principal": {"AWS": role_arn},
         "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEqualsIgnoreCase": {PCR0_KEY: pcr0}}}]}


def recommended_policy(admin_arn, role_arn, pcr0):
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": admin_arn},
         "Action": RECOMMENDED_ADMIN_ACTIONS, "Resource": "*"},
        {"Sid": "EncryptForEnclave", "Effect": "Allow", "Principal": {"AWS": role_arn},
         "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"},
        {"Sid": "DecryptOnlyInEnclave", "Effect": "Allow", "Principal": {"AWS": role_arn},
         "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEqualsIgnoreCase": {PCR0_KEY: pcr0}}},
        {"Sid": "DenyDecryptWithoutAttestation", "Effect": "Deny", "Principal": "*",
         "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringNotEqualsIgnoreCase": {PCR0_KEY: pcr0}}},
        {"Sid": "DenyReEncrypt", "Effect": "Deny", "Principal": "*", "Action": "kms:ReEncrypt*",
         "Resource": "*"},
        {"Sid": "DenyGrants", "Effect": "Deny", "Principal": "*", "Action": "kms:CreateGrant",
         "Resource": "*"},
        {"Sid": "DenyPolicyChange", "Effect": "Deny", "Principal": "*",
         "Action": "kms:PutKeyPolicy", "Resource": "*"}]}


class LockoutTruthTableTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.lockout = harness.binary("lockout")
        self.la = self.local_aws(
            extra_args=["--debug-nsm-socket", os.path.join(self.tmp, "nsm-debug.sock")])
        self.foreign = self.local_aws(name="foreign-aws")
        self.rsa_pem = os.path.join(self.tmp, "rsa.pem")
        self.pub_der = os.path.join(self.tmp, "rsa.pub.der")
        harness.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                     "rsa_keygen_bits:2048", "-out", self.rsa_pem], check=True)
        harness.run(["openssl", "pkey", "-in", self.rsa_pem, "-pubout", "-outform", "DER",
                     "-out", self.pub_der], check=True)
        self.modified = os.path.join(self.tmp, "lockout-modified")
        shutil.copy(self.lockout, self.modified)
        with open(self.modified, "ab") as f:
            f.write(b"\0")  # one byte more: same behaviour, different measurement

    def pcr0_of(self, exe, socket_path):
        r = harness.run([exe, "nsm", "describe-pcr", "0", "--nsm", "unix://" + socket_path])
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["data"]

    def document(self, exe, socket_path, name):
        path = os.path.join(self.tmp, name + ".cbor")
        r = harness.run([exe, "nsm", "attest", "--nsm", "unix://" + socket_path,
                         "--public-key-der", self.pub_der, "--out", path])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(path, "rb") as f:
            return f.read()

    def run_table(self, make_policy, leaks):
        ready = self.la.ready
        admin_arn = ready["principals"]["admin"]["arn"]
        role_arn = ready["instance_role_arn"]
        nsm = ready["nsm_socket"]
        pcr0 = self.pcr0_of(self.lockout, nsm)
        self.assertNotEqual(pcr0, self.pcr0_of(self.modified, nsm))

        admin = self.la.boto3_client("kms", "admin")
        key_id = admin.create_key(Description="truth table")["KeyMetadata"]["KeyId"]
        blob = admin.encrypt(KeyId=key_id, Plaintext=b"the signing key")["CiphertextBlob"]
        policy_text = json.dumps(make_policy(admin_arn, role_arn, pcr0.upper()))
        admin.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy_text,
                             BypassPolicyLockoutSafetyCheck=True)
        # An attacker's key: the account and the instance role may re-encrypt to it and decrypt.
        root_arn = ready["principals"]["root"]["arn"]
        probe = admin.create_key(Description="probe", Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": root_arn}, "Action": "kms:*",
                 "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": role_arn},
                 "Action": ["kms:ReEncryptTo", "kms:Decrypt"], "Resource": "*"}]}))
        probe_id = probe["KeyMetadata"]["KeyId"]

        good = self.document(self.lockout, nsm, "good")
        tampered = bytearray(good)
        tampered[len(tampered) // 2] ^= 0x01
        expired_path = harness.vector("attestation/evervault-nondebug-2022-10-13.cbor")
        with open(expired_path, "rb") as f:
            expired = f.read()
        cases = [
            ("root", "root", None, False),
            ("admin", "admin", None, False),
            ("instance role without attestation", "instance", None, False),
            ("instance role, document from the right binary", "instance", good, True),
            ("instance role, document from a modified binary", "instance",
             self.document(self.modified, nsm, "modified"), False),
            ("instance role, debug-mode enclave", "instance",
             self.document(self.lockout, os.path.join(self.tmp, "nsm-debug.sock"), "debug"), False),
            ("instance role, tampered document", "instance", bytes(tampered), False),
            ("instance role, expired document (real AWS, 2022)", "instance", expired, False),
            ("instance role, document from a foreign root", "instance",
             self.document(self.lockout, self.foreign.ready["nsm_socket"], "foreign"), False),
        ]
        for name, principal, doc, allowed in cases:
            with self.subTest(case=name):
                kms = self.la.boto3_client("kms", principal)
                kwargs = {"CiphertextBlob": blob}
                if doc is not None:
                    kwargs["Recipient"] = {"AttestationDocument": doc,
                                           "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}
                if allowed:
                    resp = kms.decrypt(**kwargs)
                    self.assertNotIn("Plaintext", resp)
                    env_path = os.path.join(self.tmp, "envelope.der")
                    with open(env_path, "wb") as f:
                        f.write(resp["CiphertextForRecipient"])
                    out = harness.run(["openssl", "cms", "-decrypt", "-inform", "DER", "-in",
                                       env_path, "-inkey", self.rsa_pem])
                    self.assertEqual(out.stdout, b"the signing key")
                else:
                    with self.assertRaises(botocore.exceptions.ClientError) as cm:
                        kms.decrypt(**kwargs)
                    self.assertEqual(cm.exception.response["Error"]["Code"],
                                     "AccessDeniedException")

        self.run_leaks(key_id, blob, probe_id, policy_text, leaks)

    def run_leaks(self, key_id, blob, probe_id, policy_text, leaks):
        """Each way around Decrypt; `leaks` names the cases that must succeed."""
        grantees = {"root": self.la.ready["principals"]["root"]["arn"],
                    "admin": self.la.ready["principals"]["admin"]["arn"],
                    "instance": self.la.ready["instance_role_arn"]}

        def reencrypt(principal, tokens=()):
            kms = self.la.boto3_client("kms", principal)
            moved = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=probe_id,
                                   GrantTokens=list(tokens))
            return kms.decrypt(CiphertextBlob=moved["CiphertextBlob"])["Plaintext"]

        def grant(principal, operation):
            kms = self.la.boto3_client("kms", principal)
            g = kms.create_grant(KeyId=key_id, GranteePrincipal=grantees[principal],
                                 RetiringPrincipal=grantees[principal], Operations=[operation])
            try:
                if operation == "Decrypt":
                    return kms.decrypt(CiphertextBlob=blob,
                                       GrantTokens=[g["GrantToken"]])["Plaintext"]
                return reencrypt(principal, [g["GrantToken"]])
            finally:
                kms.retire_grant(GrantToken=g["GrantToken"])

        def put_policy(principal):
            kms = self.la.boto3_client("kms", principal)
            kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy_text,
                               BypassPolicyLockoutSafetyCheck=True)
            return b"the signing key"  # rewriting would let it grant itself Decrypt

        cases = []
        for principal in ("root", "admin", "instance"):
            cases += [(f"{principal}: ReEncrypt to its own key, then Decrypt",
                       lambda p=principal: reencrypt(p)),
                      (f"{principal}: CreateGrant(Decrypt) to itself, then Decrypt",
                       lambda p=principal: grant(p, "Decrypt")),
                      (f"{principal}: CreateGrant(ReEncryptFrom) to itself, then ReEncrypt",
                       lambda p=principal: grant(p, "ReEncryptFrom")),
                      (f"{principal}: PutKeyPolicy", lambda p=principal: put_policy(p))]
        for name, attempt in cases:
            with self.subTest(case=name):
                if name in leaks:
                    self.assertEqual(attempt(), b"the signing key")
                else:
                    with self.assertRaises(botocore.exceptions.ClientError) as cm:
                        attempt()
                    self.assertEqual(cm.exception.response["Error"]["Code"],
                                     "AccessDeniedException")
        self.assertEqual(self.la.boto3_client("kms", "admin").list_grants(KeyId=key_id)["Grants"],
                         [])

    def test_seed_policy(self):
        self.run_table(seed_policy, leaks={
            "instance: ReEncrypt to its own key, then Decrypt",
            "admin: CreateGrant(Decrypt) to itself, then Decrypt",
            "admin: CreateGrant(ReEncryptFrom) to itself, then ReEncrypt",
            "admin: PutKeyPolicy"})

    def test_recommended_policy(self):
        self.run_table(recommended_policy, leaks=set())


if __name__ == "__main__":
    unittest.main()
