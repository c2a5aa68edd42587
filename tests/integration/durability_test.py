"""Issue 3 item 7: kill -9 in the middle of a stream of writes loses no acknowledged write."""

import os
import signal
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


if __name__ == "__main__":
    unittest.main()
