"""Issue 3 items 1 and 7: SIGTERM stops local-aws cleanly, and kill -9 in the middle of a stream
of writes loses no acknowledged write."""

import os
import signal
import subprocess
import threading
import time
import unittest

import botocore.exceptions

import harness


class DurabilityTest(harness.TempDirTestCase):
    def test_sigkill_during_writes_keeps_every_acknowledged_write(self):
        la = self.local_aws()
        sm = la.boto3_client("secretsmanager", "admin")
        kms = la.boto3_client("kms", "admin")
        acknowledged_secrets, acknowledged_keys = [], []
        stop = threading.Event()

        def write_secrets():
            i = 0
            while not stop.is_set():
                name = f"secret-{i}"
                try:
                    sm.create_secret(Name=name, SecretBinary=os.urandom(64))
                except (botocore.exceptions.ClientError,
                        botocore.exceptions.EndpointConnectionError,
                        botocore.exceptions.ConnectionClosedError, ConnectionError):
                    return
                except Exception:  # noqa: BLE001 - the server died mid-request
                    return
                acknowledged_secrets.append(name)
                i += 1

        def write_keys():
            while not stop.is_set():
                try:
                    key = kms.create_key(Description="durable")["KeyMetadata"]["KeyId"]
                    blob = kms.encrypt(KeyId=key, Plaintext=b"durable")["CiphertextBlob"]
                except Exception:  # noqa: BLE001 - the server died mid-request
                    return
                acknowledged_keys.append((key, blob))

        threads = [threading.Thread(target=write_secrets), threading.Thread(target=write_keys)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acknowledged_secrets) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        la.process.proc.send_signal(signal.SIGKILL)  # mid-stream, no chance to flush
        la.process.proc.wait()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        self.assertGreaterEqual(len(acknowledged_secrets), 40)
        self.assertGreater(len(acknowledged_keys), 0)

        again = self.local_aws(name="restarted", state_dir=la.state_dir)
        self.assertEqual(again.ready["principals"]["admin"]["access_key_id"],
                         la.ready["principals"]["admin"]["access_key_id"])
        sm2 = again.boto3_client("secretsmanager", "admin")
        kms2 = again.boto3_client("kms", "admin")
        for name in acknowledged_secrets:
            sm2.get_secret_value(SecretId=name)  # raises if lost
        for key, blob in acknowledged_keys:
            self.assertEqual(kms2.decrypt(CiphertextBlob=blob)["Plaintext"], b"durable")
            self.assertEqual(kms2.describe_key(KeyId=key)["KeyMetadata"]["KeyState"], "Enabled")


    def test_sigterm_stops_cleanly_with_clients_connected_and_keeps_state(self):
        la = self.local_aws()
        sm = la.boto3_client("secretsmanager", "admin")
        kms = la.boto3_client("kms", "admin")
        key = kms.create_key(Description="kept")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/kept", TargetKeyId=key)
        blob = kms.encrypt(KeyId="alias/kept", Plaintext=b"kept",
                           EncryptionContext={"purpose": "sigterm"})["CiphertextBlob"]
        sm.create_secret(Name="kept", SecretBinary=blob)
        policy = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
        # boto3 keeps both keep-alive connections open: shutdown must not wait for them to close.
        nsm_socket = la.ready["nsm_socket"]
        self.assertTrue(os.path.exists(nsm_socket))

        la.process.proc.send_signal(signal.SIGTERM)
        try:
            code = la.process.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("local-aws did not exit within 20 s of SIGTERM:\n" + la.process.log())
        self.assertEqual(code, 0, la.process.log())
        log = la.process.log()
        self.assertIn('"event":"local_aws_stopping"', log)
        self.assertNotIn('"level":"error"', log)
        self.assertFalse(os.path.exists(nsm_socket), "the NSM socket file is left behind")

        again = self.local_aws(name="restarted", state_dir=la.state_dir)
        sm2 = again.boto3_client("secretsmanager", "admin")
        kms2 = again.boto3_client("kms", "admin")
        stored = sm2.get_secret_value(SecretId="kept")["SecretBinary"]
        self.assertEqual(stored, blob)
        out = kms2.decrypt(CiphertextBlob=stored, EncryptionContext={"purpose": "sigterm"})
        self.assertEqual(out["Plaintext"], b"kept")
        self.assertEqual(out["KeyId"].rsplit("/", 1)[1], key)
        aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms2.list_aliases()["Aliases"]}
        self.assertEqual(aliases.get("alias/kept"), key)
        self.assertEqual(kms2.get_key_policy(KeyId=key, PolicyName="default")["Policy"], policy)


if __name__ == "__main__":
    unittest.main()
