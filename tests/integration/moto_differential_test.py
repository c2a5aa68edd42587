"""Issue 3 item 8: the same requests to `lockout local-aws` and to moto_server.

For the operations both implement, the responses must have the same fields (names and JSON
types) and failures the same error code. Where moto differs from real AWS (and we follow AWS),
the difference is listed in MOTO_DEVIATIONS with the reason; such fields are left out of the
comparison, and the test fails if a listed deviation disappears, so the list stays true.
"""

import os
import re
import subprocess
import time
import unittest

import boto3
import botocore.config
import botocore.exceptions

import harness

# (operation, field path) -> why moto differs from AWS there. The test computes every difference
# between the two responses and requires this table to list exactly those: a new difference
# fails, and so does a listed one that went away.
MOTO_DEVIATIONS = {
    ("CreateKey", "KeyMetadata.KeyUsage"): "AWS always returns KeyUsage; moto omits it here",
    ("CreateKey", "KeyMetadata.MultiRegion"): "AWS returns MultiRegion (false); moto omits it",
    ("CreateKey", "KeyMetadata.SigningAlgorithms"):
        "moto lists SigningAlgorithms for a SYMMETRIC_DEFAULT key; AWS only for signing keys",
    ("DescribeKey", "KeyMetadata.KeyUsage"): "as CreateKey",
    ("DescribeKey", "KeyMetadata.MultiRegion"): "as CreateKey",
    ("DescribeKey", "KeyMetadata.SigningAlgorithms"): "as CreateKey",
    ("Encrypt", "EncryptionAlgorithm"): "AWS Encrypt returns EncryptionAlgorithm; moto omits it",
    ("Decrypt", "EncryptionAlgorithm"): "AWS Decrypt returns EncryptionAlgorithm; moto omits it",
    ("Encrypt(disabled)", "__outcome__"):
        "AWS refuses a disabled key with DisabledException; moto encrypts anyway",
    ("GetKeyPolicy", "PolicyName"): "AWS GetKeyPolicy returns PolicyName; moto omits it",
    ("ScheduleKeyDeletion", "KeyState"): "AWS returns KeyState (PendingDeletion); moto omits it",
    ("ScheduleKeyDeletion", "PendingWindowInDays"): "AWS returns PendingWindowInDays; moto omits it",
    ("ListGrants", "Grants[].CreationDate"):
        "AWS's GrantListEntry has CreationDate; moto omits it",
    ("ListGrants", "Grants[].IssuingAccount"):
        "AWS's GrantListEntry has IssuingAccount (arn:aws:iam::ACCT:root); moto omits it",
    ("ListRetirableGrants", "Grants[].CreationDate"): "as ListGrants",
    ("ListRetirableGrants", "Grants[].IssuingAccount"): "as ListGrants",
    ("DescribeSecret", "LastAccessedDate"):
        "AWS reports LastAccessedDate (day precision) once the secret was read; moto omits it",
}

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


KMS_OPS = {"CreateKey", "DescribeKey", "Encrypt", "Decrypt", "GenerateDataKey", "GenerateRandom",
           "CreateAlias", "GetKeyPolicy", "DisableKey", "EnableKey", "ScheduleKeyDeletion",
           "CancelKeyDeletion"}
GRANT_OPS = {"CreateGrant", "ListGrants", "ListRetirableGrants", "RevokeGrant", "RetireGrant",
             "UpdateAlias", "DeleteAlias"}
SM_OPS = {"CreateSecret", "GetSecretValue", "PutSecretValue", "DescribeSecret", "DeleteSecret"}


def flatten(value, path=""):
    """{field path: JSON type} of a response; map keys that are ids become '*'."""
    out = {}
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "ResponseMetadata":
                continue
            key = "*" if UUID_RE.match(k) else k
            out.update(flatten(v, f"{path}.{key}" if path else key))
    elif isinstance(value, list):
        out[path] = "list"
        for v in value[:1]:
            out.update(flatten(v, path + "[]"))
    else:
        out[path] = type(value).__name__
    return out


class MotoDifferentialTest(harness.TempDirTestCase):
    def setUp(self):
        super().setUp()
        if subprocess.run(["which", "moto_server"], capture_output=True).returncode != 0:
            self.skipTest("moto_server is not installed")
        self.la = self.local_aws()
        port = harness.free_port()
        self.moto = harness.Process(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                                    self.tmp, "moto")
        self._stops.append(self.moto.stop)
        self.moto_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                import urllib.request
                urllib.request.urlopen(self.moto_url + "/moto-api/", timeout=1)
                break
            except Exception:  # noqa: BLE001 - still starting
                time.sleep(0.1)

    differences = None

    def clients(self, service):
        self.differences = {}
        ours = self.la.boto3_client(service, "admin")
        theirs = boto3.client(service, region_name="us-east-1", endpoint_url=self.moto_url,
                              aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                              aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                              config=botocore.config.Config(retries={"max_attempts": 1}))
        return ours, theirs

    def call(self, client, op, **kwargs):
        try:
            return "ok", getattr(client, op)(**kwargs)
        except botocore.exceptions.ClientError as e:
            return "error", e.response["Error"]["Code"]

    def compare(self, op, ours, theirs):
        """Records every difference between our response and moto's for `op`."""
        if ours[0] != theirs[0] or (ours[0] == "error" and ours[1] != theirs[1]):
            self.differences[(op, "__outcome__")] = f"ours {ours[0]} {ours[1] if ours[0] == 'error' else ''} vs moto {theirs[0]} {theirs[1] if theirs[0] == 'error' else ''}"
            return
        if ours[0] == "error":
            return
        a, b = flatten(ours[1]), flatten(theirs[1])
        for path in sorted(set(a) | set(b)):
            if a.get(path) != b.get(path):
                self.differences[(op, path)] = f"ours {a.get(path)} vs moto {b.get(path)}"

    def check_differences(self, ops_prefix):
        listed = {k for k in MOTO_DEVIATIONS if k[0].split("(")[0] in ops_prefix}
        found = set(self.differences)
        report = "\n".join(f"  {k}: {v}" for k, v in sorted(self.differences.items()))
        self.assertEqual(found, listed,
                         "differences between local-aws and moto changed:\n" + report)

    def test_kms_shared_operations(self):
        ours, theirs = self.clients("kms")
        ko = ours.create_key(Description="diff")
        kt = theirs.create_key(Description="diff")
        self.compare("CreateKey", ("ok", ko), ("ok", kt))
        ido, idt = ko["KeyMetadata"]["KeyId"], kt["KeyMetadata"]["KeyId"]
        self.compare("DescribeKey", self.call(ours, "describe_key", KeyId=ido),
                     self.call(theirs, "describe_key", KeyId=idt))
        eo = self.call(ours, "encrypt", KeyId=ido, Plaintext=b"x" * 32,
                       EncryptionContext={"a": "b"})
        et = self.call(theirs, "encrypt", KeyId=idt, Plaintext=b"x" * 32,
                       EncryptionContext={"a": "b"})
        self.compare("Encrypt", eo, et)
        self.compare("Decrypt",
                     self.call(ours, "decrypt", CiphertextBlob=eo[1]["CiphertextBlob"],
                               EncryptionContext={"a": "b"}),
                     self.call(theirs, "decrypt", CiphertextBlob=et[1]["CiphertextBlob"],
                               EncryptionContext={"a": "b"}))
        self.compare("GenerateDataKey",
                     self.call(ours, "generate_data_key", KeyId=ido, KeySpec="AES_256"),
                     self.call(theirs, "generate_data_key", KeyId=idt, KeySpec="AES_256"))
        self.compare("GenerateRandom", self.call(ours, "generate_random", NumberOfBytes=16),
                     self.call(theirs, "generate_random", NumberOfBytes=16))
        self.compare("CreateAlias",
                     self.call(ours, "create_alias", AliasName="alias/diff", TargetKeyId=ido),
                     self.call(theirs, "create_alias", AliasName="alias/diff", TargetKeyId=idt))
        self.compare("CreateAlias(duplicate)",
                     self.call(ours, "create_alias", AliasName="alias/diff", TargetKeyId=ido),
                     self.call(theirs, "create_alias", AliasName="alias/diff", TargetKeyId=idt))
        self.compare("GetKeyPolicy",
                     self.call(ours, "get_key_policy", KeyId=ido, PolicyName="default"),
                     self.call(theirs, "get_key_policy", KeyId=idt, PolicyName="default"))
        self.compare("DisableKey", self.call(ours, "disable_key", KeyId=ido),
                     self.call(theirs, "disable_key", KeyId=idt))
        self.compare("Encrypt(disabled)",
                     self.call(ours, "encrypt", KeyId=ido, Plaintext=b"x"),
                     self.call(theirs, "encrypt", KeyId=idt, Plaintext=b"x"))
        self.compare("EnableKey", self.call(ours, "enable_key", KeyId=ido),
                     self.call(theirs, "enable_key", KeyId=idt))
        missing = "11111111-2222-3333-4444-555555555555"
        self.compare("DescribeKey(missing)", self.call(ours, "describe_key", KeyId=missing),
                     self.call(theirs, "describe_key", KeyId=missing))
        self.compare("ScheduleKeyDeletion",
                     self.call(ours, "schedule_key_deletion", KeyId=ido, PendingWindowInDays=7),
                     self.call(theirs, "schedule_key_deletion", KeyId=idt,
                               PendingWindowInDays=7))
        self.compare("CancelKeyDeletion", self.call(ours, "cancel_key_deletion", KeyId=ido),
                     self.call(theirs, "cancel_key_deletion", KeyId=idt))
        self.check_differences(KMS_OPS)

    def test_kms_grants_and_aliases(self):
        ours, theirs = self.clients("kms")
        ido = ours.create_key(Description="diff")["KeyMetadata"]["KeyId"]
        idt = theirs.create_key(Description="diff")["KeyMetadata"]["KeyId"]
        ido2 = ours.create_key(Description="diff2")["KeyMetadata"]["KeyId"]
        idt2 = theirs.create_key(Description="diff2")["KeyMetadata"]["KeyId"]
        grantee = "arn:aws:iam::111122223333:role/grantee"
        retiring = "arn:aws:iam::111122223333:user/admin"

        def grant(client, key):
            return self.call(client, "create_grant", KeyId=key, GranteePrincipal=grantee,
                             RetiringPrincipal=retiring, Operations=["Decrypt", "Encrypt"],
                             Constraints={"EncryptionContextSubset": {"a": "b"}}, Name="g")
        go, gt = grant(ours, ido), grant(theirs, idt)
        self.compare("CreateGrant", go, gt)
        self.compare("ListGrants", self.call(ours, "list_grants", KeyId=ido),
                     self.call(theirs, "list_grants", KeyId=idt))
        self.compare("ListRetirableGrants",
                     self.call(ours, "list_retirable_grants", RetiringPrincipal=retiring),
                     self.call(theirs, "list_retirable_grants", RetiringPrincipal=retiring))
        self.compare("RevokeGrant",
                     self.call(ours, "revoke_grant", KeyId=ido, GrantId=go[1]["GrantId"]),
                     self.call(theirs, "revoke_grant", KeyId=idt, GrantId=gt[1]["GrantId"]))
        missing = "a" * 64
        self.compare("RevokeGrant(missing)",
                     self.call(ours, "revoke_grant", KeyId=ido, GrantId=missing),
                     self.call(theirs, "revoke_grant", KeyId=idt, GrantId=missing))
        go, gt = grant(ours, ido), grant(theirs, idt)
        self.compare("RetireGrant",
                     self.call(ours, "retire_grant", KeyId=ido, GrantId=go[1]["GrantId"]),
                     self.call(theirs, "retire_grant", KeyId=idt, GrantId=gt[1]["GrantId"]))
        self.call(ours, "create_alias", AliasName="alias/diff", TargetKeyId=ido)
        self.call(theirs, "create_alias", AliasName="alias/diff", TargetKeyId=idt)
        self.compare("UpdateAlias",
                     self.call(ours, "update_alias", AliasName="alias/diff", TargetKeyId=ido2),
                     self.call(theirs, "update_alias", AliasName="alias/diff", TargetKeyId=idt2))
        self.compare("UpdateAlias(missing)",
                     self.call(ours, "update_alias", AliasName="alias/none", TargetKeyId=ido2),
                     self.call(theirs, "update_alias", AliasName="alias/none", TargetKeyId=idt2))
        self.compare("UpdateAlias(to an alias)",
                     self.call(ours, "update_alias", AliasName="alias/diff",
                               TargetKeyId="alias/diff"),
                     self.call(theirs, "update_alias", AliasName="alias/diff",
                               TargetKeyId="alias/diff"))
        self.compare("DeleteAlias", self.call(ours, "delete_alias", AliasName="alias/diff"),
                     self.call(theirs, "delete_alias", AliasName="alias/diff"))
        self.compare("DeleteAlias(missing)",
                     self.call(ours, "delete_alias", AliasName="alias/diff"),
                     self.call(theirs, "delete_alias", AliasName="alias/diff"))
        self.check_differences(GRANT_OPS)

    def test_secrets_manager_shared_operations(self):
        o, t = self.clients("secretsmanager")
        self.compare("CreateSecret", self.call(o, "create_secret", Name="s1", SecretString="v1"),
                     self.call(t, "create_secret", Name="s1", SecretString="v1"))
        self.compare("CreateSecret(duplicate)",
                     self.call(o, "create_secret", Name="s1", SecretString="v1"),
                     self.call(t, "create_secret", Name="s1", SecretString="v1"))
        self.compare("GetSecretValue", self.call(o, "get_secret_value", SecretId="s1"),
                     self.call(t, "get_secret_value", SecretId="s1"))
        self.compare("PutSecretValue",
                     self.call(o, "put_secret_value", SecretId="s1", SecretBinary=b"\x00\x01"),
                     self.call(t, "put_secret_value", SecretId="s1", SecretBinary=b"\x00\x01"))
        self.compare("GetSecretValue(missing)", self.call(o, "get_secret_value", SecretId="nope"),
                     self.call(t, "get_secret_value", SecretId="nope"))
        self.compare("DescribeSecret", self.call(o, "describe_secret", SecretId="s1"),
                     self.call(t, "describe_secret", SecretId="s1"))
        self.compare("DeleteSecret",
                     self.call(o, "delete_secret", SecretId="s1", RecoveryWindowInDays=7),
                     self.call(t, "delete_secret", SecretId="s1", RecoveryWindowInDays=7))
        self.compare("GetSecretValue(deleted)", self.call(o, "get_secret_value", SecretId="s1"),
                     self.call(t, "get_secret_value", SecretId="s1"))
        self.check_differences(SM_OPS)


if __name__ == "__main__":
    unittest.main()
