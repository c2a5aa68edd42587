"""Issue 10 item 4: KMS grants and aliases in a real `lockout local-aws`, driven with boto3.

The recommended key policy (`lockout policy --apply`, PCR0 of the lockout binary) must hold
against each of these paths, for the admin and for the instance role. Grants made while the key
still had a permissive policy outlive a policy change, so the strongest test is a grant created
BEFORE the recommended policy is applied:

* after the policy is applied, nobody may CreateGrant on the key (explicit Deny);
* a grant for Decrypt, used with its grant token: AccessDenied without attestation (the policy's
  explicit Deny applies to grantees); the same grant on a key without that Deny does decrypt,
  so the refusal is the Deny's doing;
* a grant for ReEncryptFrom, then ReEncrypt to a key the grantee may use: refused, so the
  plaintext never reaches a key the grantee can decrypt with (with the policy before issue 10,
  which denied only Decrypt, this leaked the key);
* UpdateAlias pointing the key's alias at another key (a substitution, not a leak): the
  original ciphertext still decrypts for nobody, and the instance role may not move the alias.

Also: grant tokens, RevokeGrant / RetireGrant semantics and errors, UpdateAlias / DeleteAlias,
and grants surviving a restart of local-aws.
"""

import json
import subprocess
import unittest

import botocore.exceptions

import harness

CONTEXT = {"lockout:secret": "lockout/key"}
SECRET = b"pkcs8 stand-in: 32 bytes of key!"


def error_code(e):
    return e.response["Error"]["Code"]


class GrantsTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.lockout = harness.binary("lockout")
        self.la = self.local_aws()
        self.admin_arn = self.la.ready["principals"]["admin"]["arn"]
        self.role_arn = self.la.ready["instance_role_arn"]
        self.kms = {p: self.la.boto3_client("kms", p) for p in ("root", "admin", "instance")}

    # ---- helpers ----
    def protected_key(self, grants=()):
        """A key holding SECRET's ciphertext under the recommended policy, and that ciphertext.
        `grants` ((grantee ARN, [operations]), ...) are created before the policy is applied;
        returns also their CreateGrant responses."""
        key = self.kms["admin"].create_key(Description="protected")["KeyMetadata"]["Arn"]
        blob = self.kms["admin"].encrypt(KeyId=key, Plaintext=SECRET,
                                         EncryptionContext=CONTEXT)["CiphertextBlob"]
        made = [self.kms["admin"].create_grant(KeyId=key, GranteePrincipal=grantee,
                                               Operations=ops) for grantee, ops in grants]
        r = subprocess.run([self.lockout, "policy", "--enclave-role", self.role_arn,
                            "--admin-role", self.admin_arn, "--enclave-binary", self.lockout,
                            "--apply", "--kms-key", key],
                           env=self.la.env("admin"), capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        policy = json.loads(self.kms["admin"].get_key_policy(KeyId=key,
                                                             PolicyName="default")["Policy"])
        self.assertTrue(any(s["Effect"] == "Deny" for s in policy["Statement"]), policy)
        # The grants are still there: a policy change does not remove them.
        listed = {g["GrantId"] for g in self.kms["admin"].list_grants(KeyId=key)["Grants"]}
        self.assertEqual(listed, {g["GrantId"] for g in made})
        return key, blob, made

    def own_key(self, principal_arn):
        """A key that `principal_arn` may use fully (ReEncryptTo, Decrypt): the attacker's key."""
        key = self.kms["admin"].create_key(Description="attacker's key")["KeyMetadata"]["Arn"]
        policy = {"Version": "2012-10-17", "Statement": [
            {"Sid": "Root", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{self.la.ready['account']}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "Use", "Effect": "Allow", "Principal": {"AWS": principal_arn},
             "Action": ["kms:ReEncryptTo", "kms:Decrypt", "kms:Encrypt"], "Resource": "*"}]}
        self.kms["admin"].put_key_policy(KeyId=key, PolicyName="default",
                                         Policy=json.dumps(policy))
        return key

    def assert_denied(self, call, *args, **kwargs):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            call(*args, **kwargs)
        self.assertEqual(error_code(cm.exception), "AccessDeniedException", cm.exception)
        return cm.exception

    def grantee_arn(self, principal):
        return self.admin_arn if principal == "admin" else self.role_arn

    # ---- the recommended policy against each path ----
    def test_decrypt_grant_does_not_override_the_attestation_deny(self):
        key, blob, made = self.protected_key(
            grants=[(self.admin_arn, ["Decrypt"]), (self.role_arn, ["Decrypt"])])
        for principal, g in zip(("admin", "instance"), made):
            with self.subTest(principal=principal):
                e = self.assert_denied(self.kms[principal].decrypt, CiphertextBlob=blob,
                                       EncryptionContext=CONTEXT, GrantTokens=[g["GrantToken"]])
                self.assertIn("explicit deny", str(e))
                e = self.assert_denied(self.kms[principal].decrypt, CiphertextBlob=blob,
                                       EncryptionContext=CONTEXT)
                self.assertIn("explicit deny", str(e))
        # Revoking still works for the admin (kms:Revoke*), so the stale grants can be removed.
        for g in made:
            self.kms["admin"].revoke_grant(KeyId=key, GrantId=g["GrantId"])
        self.assertEqual(self.kms["admin"].list_grants(KeyId=key)["Grants"], [])

    def test_decrypt_grant_works_where_no_deny_applies(self):
        # Control for the test above: the same grant decrypts when the key policy has no Deny.
        key = self.kms["admin"].create_key(Description="no deny")["KeyMetadata"]["Arn"]
        blob = self.kms["admin"].encrypt(KeyId=key, Plaintext=SECRET,
                                         EncryptionContext=CONTEXT)["CiphertextBlob"]
        self.assert_denied(self.kms["instance"].decrypt, CiphertextBlob=blob,
                           EncryptionContext=CONTEXT)
        g = self.kms["admin"].create_grant(KeyId=key, GranteePrincipal=self.role_arn,
                                           Operations=["Decrypt"],
                                           Constraints={"EncryptionContextSubset": CONTEXT})
        out = self.kms["instance"].decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT,
                                           GrantTokens=[g["GrantToken"]])
        self.assertEqual(out["Plaintext"], SECRET)
        # The constraint: another context is refused, as is a blob sealed without one.
        other = self.kms["admin"].encrypt(KeyId=key, Plaintext=SECRET)["CiphertextBlob"]
        self.assert_denied(self.kms["instance"].decrypt, CiphertextBlob=other)
        # Revoked: refused again, with or without the (well-formed) token.
        self.kms["admin"].revoke_grant(KeyId=key, GrantId=g["GrantId"])
        self.assert_denied(self.kms["instance"].decrypt, CiphertextBlob=blob,
                           EncryptionContext=CONTEXT, GrantTokens=[g["GrantToken"]])
        # A token local-aws never issued.
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.kms["instance"].decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT,
                                         GrantTokens=["bm90IGEgdG9rZW4="])
        self.assertEqual(error_code(cm.exception), "InvalidGrantTokenException")

    def test_reencrypt_from_grant_does_not_leak_the_key(self):
        key, blob, made = self.protected_key(
            grants=[(self.admin_arn, ["ReEncryptFrom"]), (self.role_arn, ["ReEncryptFrom"])])
        for principal, g in zip(("admin", "instance"), made):
            with self.subTest(principal=principal):
                mine = self.own_key(self.grantee_arn(principal))
                try:
                    out = self.kms[principal].re_encrypt(
                        CiphertextBlob=blob, SourceEncryptionContext=CONTEXT,
                        DestinationKeyId=mine, GrantTokens=[g["GrantToken"]])
                except botocore.exceptions.ClientError as e:
                    self.assertEqual(error_code(e), "AccessDeniedException", e)
                    self.assertIn("explicit deny", str(e))
                else:
                    leaked = self.kms[principal].decrypt(CiphertextBlob=out["CiphertextBlob"])
                    self.fail(f"{principal} re-encrypted the protected key to its own key "
                              f"(plaintext recovered: {leaked['Plaintext'] == SECRET})")

    def test_reencrypt_from_grant_leaks_where_no_deny_applies(self):
        # Control for the test above: on a key whose policy does not deny ReEncrypt (the seed
        # tutorial's shape), the same grant does move the key to the grantee's own key.
        key = self.kms["admin"].create_key(Description="no deny")["KeyMetadata"]["Arn"]
        blob = self.kms["admin"].encrypt(KeyId=key, Plaintext=SECRET,
                                         EncryptionContext=CONTEXT)["CiphertextBlob"]
        mine = self.own_key(self.role_arn)
        self.assert_denied(self.kms["instance"].re_encrypt, CiphertextBlob=blob,
                           SourceEncryptionContext=CONTEXT, DestinationKeyId=mine)
        g = self.kms["admin"].create_grant(KeyId=key, GranteePrincipal=self.role_arn,
                                           Operations=["ReEncryptFrom"])
        out = self.kms["instance"].re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=CONTEXT,
                                              DestinationKeyId=mine,
                                              GrantTokens=[g["GrantToken"]])
        self.assertEqual(self.kms["instance"].decrypt(CiphertextBlob=out["CiphertextBlob"])
                         ["Plaintext"], SECRET)

    def test_update_alias_substitutes_but_does_not_leak(self):
        key, blob, _ = self.protected_key()
        self.kms["admin"].create_alias(AliasName="alias/lockout", TargetKeyId=key)
        other = self.kms["admin"].create_key(Description="substitute")["KeyMetadata"]["Arn"]
        # The instance role has no kms:UpdateAlias / DeleteAlias.
        self.assert_denied(self.kms["instance"].update_alias, AliasName="alias/lockout",
                           TargetKeyId=other)
        self.assert_denied(self.kms["instance"].delete_alias, AliasName="alias/lockout")
        # The admin may move the alias (kms:Update* on both keys): a substitution path.
        self.kms["admin"].update_alias(AliasName="alias/lockout", TargetKeyId=other)
        described = self.kms["admin"].describe_key(KeyId="alias/lockout")["KeyMetadata"]
        self.assertEqual(described["Arn"], other)
        # The protected ciphertext still decrypts for nobody: not under the alias (now another
        # key) and not under its own key without attestation.
        for principal in ("root", "admin", "instance"):
            with self.subTest(principal=principal):
                with self.assertRaises(botocore.exceptions.ClientError) as cm:
                    self.kms[principal].decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT,
                                                KeyId="alias/lockout")
                self.assertIn(error_code(cm.exception),
                              ("IncorrectKeyException", "AccessDeniedException"))
                self.assert_denied(self.kms[principal].decrypt, CiphertextBlob=blob,
                                   EncryptionContext=CONTEXT)
        self.kms["admin"].update_alias(AliasName="alias/lockout", TargetKeyId=key)
        self.kms["admin"].delete_alias(AliasName="alias/lockout")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.kms["admin"].delete_alias(AliasName="alias/lockout")
        self.assertEqual(error_code(cm.exception), "NotFoundException")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.kms["admin"].update_alias(AliasName="alias/lockout", TargetKeyId=key)
        self.assertEqual(error_code(cm.exception), "NotFoundException")

    def test_nobody_may_create_a_grant_under_the_recommended_policy(self):
        key, _, _ = self.protected_key()
        for principal in ("root", "admin", "instance"):
            for ops in (["Decrypt"], ["ReEncryptFrom"], ["CreateGrant"]):
                with self.subTest(principal=principal, ops=ops):
                    self.assert_denied(self.kms[principal].create_grant, KeyId=key,
                                       GranteePrincipal=self.grantee_arn(principal),
                                       Operations=ops)

    # ---- grant life cycle ----
    def test_retire_revoke_and_errors(self):
        key = self.kms["admin"].create_key(Description="grants")["KeyMetadata"]["Arn"]
        admin = self.kms["admin"]
        g1 = admin.create_grant(KeyId=key, GranteePrincipal=self.role_arn, Operations=["Encrypt"],
                                RetiringPrincipal=self.admin_arn, Name="g1")
        g2 = admin.create_grant(KeyId=key, GranteePrincipal=self.role_arn,
                                Operations=["Encrypt", "RetireGrant"])
        # Same Name and parameters: the same grant.
        again = admin.create_grant(KeyId=key, GranteePrincipal=self.role_arn,
                                   Operations=["Encrypt"], RetiringPrincipal=self.admin_arn,
                                   Name="g1")
        self.assertEqual(again["GrantId"], g1["GrantId"])
        self.assertEqual(len(admin.list_grants(KeyId=key)["Grants"]), 2)
        retirable = admin.list_retirable_grants(RetiringPrincipal=self.admin_arn)["Grants"]
        self.assertEqual([g["GrantId"] for g in retirable], [g1["GrantId"]])
        # The grantee may not retire g1 (no RetireGrant in it) but may retire g2.
        self.assert_denied(self.kms["instance"].retire_grant, GrantToken=g1["GrantToken"])
        self.kms["instance"].retire_grant(GrantToken=g2["GrantToken"])
        # The retiring principal retires g1 by key and id.
        admin.retire_grant(KeyId=key, GrantId=g1["GrantId"])
        self.assertEqual(admin.list_grants(KeyId=key)["Grants"], [])
        for call, kwargs, code in (
                (admin.revoke_grant, {"KeyId": key, "GrantId": g1["GrantId"]},
                 "NotFoundException"),
                (admin.revoke_grant, {"KeyId": key, "GrantId": "not-a-grant-id"},
                 "InvalidGrantIdException"),
                (admin.retire_grant, {"GrantToken": g1["GrantToken"]}, "NotFoundException"),
                (admin.retire_grant, {"GrantToken": "garbage"}, "InvalidGrantTokenException"),
                (admin.create_grant, {"KeyId": key, "GranteePrincipal": "nobody",
                                      "Operations": ["Decrypt"]}, "ValidationException"),
                (admin.create_grant, {"KeyId": key, "GranteePrincipal": self.role_arn,
                                      "Operations": []}, "ValidationException")):
            with self.subTest(call=call.__name__, kwargs=kwargs):
                with self.assertRaises((botocore.exceptions.ClientError,
                                        botocore.exceptions.ParamValidationError)) as cm:
                    call(**kwargs)
                if isinstance(cm.exception, botocore.exceptions.ClientError):
                    self.assertEqual(error_code(cm.exception), code)

    def test_grants_survive_a_restart(self):
        key = self.kms["admin"].create_key(Description="durable")["KeyMetadata"]["Arn"]
        blob = self.kms["admin"].encrypt(KeyId=key, Plaintext=SECRET)["CiphertextBlob"]
        g = self.kms["admin"].create_grant(KeyId=key, GranteePrincipal=self.role_arn,
                                           Operations=["Decrypt"])
        state = self.la.state_dir
        self.la.stop()
        self.la = self.local_aws(name="local-aws-2", state_dir=state)
        self.kms = {p: self.la.boto3_client("kms", p) for p in ("root", "admin", "instance")}
        grants = self.kms["admin"].list_grants(KeyId=key)["Grants"]
        self.assertEqual([x["GrantId"] for x in grants], [g["GrantId"]])
        out = self.kms["instance"].decrypt(CiphertextBlob=blob, GrantTokens=[g["GrantToken"]])
        self.assertEqual(out["Plaintext"], SECRET)


if __name__ == "__main__":
    unittest.main()
