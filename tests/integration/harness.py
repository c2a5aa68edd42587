"""Shared harness for lockout's integration tests: real processes on port 0, real clients.

Every test starts its own `lockout local-aws` in a temporary state directory, reads its ready
file, and talks to it with the AWS CLI, boto3, openssl and lockout's own binaries. Processes
are always stopped (SIGTERM, then SIGKILL) and their logs are kept for assertions such as
"this canary never appears in any log".
"""

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

BIN_DIR = os.environ.get("LOCKOUT_BIN_DIR", "")
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VECTORS_DIR = os.environ.get("LOCKOUT_VECTORS_DIR") or os.path.join(SOURCE_DIR, "..", "shared", "vectors")
REQUIRE_VECTORS = os.environ.get("LOCKOUT_REQUIRE_VECTORS") == "1"


def binary(name):
    path = os.path.join(BIN_DIR, name)
    if not os.path.exists(path):
        raise unittest.SkipTest(f"{name} is not built at {path}")
    return path


def vector(relative):
    path = os.path.join(VECTORS_DIR, relative)
    if not os.path.exists(path):
        msg = f"*** TEST VECTOR MISSING: {path} (set LOCKOUT_VECTORS_DIR)"
        if REQUIRE_VECTORS:
            raise AssertionError(msg)
        print(msg)
        raise unittest.SkipTest(msg)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_file(path, proc, timeout=30.0, what="ready file"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before writing its {what}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what} {path}")


class Process:
    """A child process with its stdout/stderr captured to files."""

    def __init__(self, args, workdir, name, env=None, preexec_fn=None):
        """`preexec_fn` runs in the child before exec (e.g. to set a resource limit)."""
        self.name = name
        self.log_path = os.path.join(workdir, f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True, preexec_fn=preexec_fn)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class LocalAws:
    """`lockout local-aws` on a free port in its own state directory."""

    def __init__(self, workdir, name="local-aws", extra_args=(), state_dir=None):
        self.workdir = workdir
        self.state_dir = state_dir or os.path.join(workdir, f"{name}-state")
        self.ready_path = os.path.join(workdir, f"{name}-ready.json")
        if os.path.exists(self.ready_path):
            os.unlink(self.ready_path)
        args = [binary("lockout"), "local-aws", "--state", self.state_dir, "--port", "0",
                "--ready-file", self.ready_path, *extra_args]
        self.process = Process(args, workdir, name)
        wait_for_file(self.ready_path, self.process.proc)
        with open(self.ready_path) as f:
            self.ready = json.load(f)

    def env(self, principal):
        """Environment for the AWS CLI / boto3 as `principal` (root, admin, instance)."""
        p = self.ready["principals"][principal]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_ENDPOINT_URL_KMS": self.ready["kms_endpoint"],
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.ready["secretsmanager_endpoint"],
            "AWS_ENDPOINT_URL_STS": self.ready["sts_endpoint"],
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.ready["imds_endpoint"] + "/",
            "AWS_REGION": self.ready["region"],
            "AWS_DEFAULT_REGION": self.ready["region"],
            "AWS_ACCESS_KEY_ID": p["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": p["secret_access_key"],
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "1",
            "LOCKOUT_NSM_SOCKET": self.ready["nsm_socket"],
        })
        if "session_token" in p:
            env["AWS_SESSION_TOKEN"] = p["session_token"]
        return env

    def process_env(self, relay=False):
        """Environment for lockout-enclave (the region only) or, with `relay`, lockout-relay
        (also the IMDS and Secrets Manager endpoints): none of the caller's AWS_* variables."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["AWS_REGION"] = self.ready["region"]
        if relay:
            env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = self.ready["imds_endpoint"]
            env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = self.ready["secretsmanager_endpoint"]
        return env

    def boto3_client(self, service, principal):
        import boto3
        import botocore.config
        p = self.ready["principals"][principal]
        endpoint = self.ready["kms_endpoint" if service == "kms" else "secretsmanager_endpoint"]
        return boto3.client(
            service, region_name=self.ready["region"], endpoint_url=endpoint,
            aws_access_key_id=p["access_key_id"], aws_secret_access_key=p["secret_access_key"],
            aws_session_token=p.get("session_token"),
            config=botocore.config.Config(retries={"max_attempts": 1}))

    def stop(self, sig=signal.SIGTERM):
        return self.process.stop(sig)


# ---- clients of lockout-enclave and lockout-relay on tcp:// URIs (docs/PROTOCOL.md) ----

def tcp_address(uri):
    assert uri.startswith("tcp://"), uri
    host, port = uri[len("tcp://"):].rsplit(":", 1)
    return host, int(port)


def connect(uri, timeout=10.0):
    s = socket.create_connection(tcp_address(uri), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_until(sock, terminator):
    data = b""
    while terminator not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def v1_request(uri, payload):
    """One seed-style exchange: new connection, payload, read to `$$$` or EOF."""
    with connect(uri) as s:
        s.sendall(payload)
        return read_until(s, b"$$$")


def v1_sign(uri, message):
    reply = v1_request(uri, json.dumps({"bytes": base64.b64encode(message).decode()}).encode()
                       + b"$$$")
    assert reply.endswith(b"$$$"), reply
    return json.loads(reply[:-3])


class V2:
    """A v2 connection: 4-byte big-endian length + JSON."""

    def __init__(self, uri, timeout=10.0):
        self.sock = connect(uri, timeout)

    def send(self, obj):
        body = json.dumps(obj).encode()
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def recv(self):
        head = self.sock.recv(4, socket.MSG_WAITALL)
        if len(head) < 4:
            return None
        (n,) = struct.unpack(">I", head)
        return json.loads(self.sock.recv(n, socket.MSG_WAITALL))

    def call(self, obj):
        self.send(obj)
        return self.recv()

    def close(self):
        self.sock.close()


def v2_call(uri, obj, timeout=10.0):
    c = V2(uri, timeout)
    try:
        return c.call(obj)
    finally:
        c.close()


def wait_until(predicate, what, timeout=45.0, detail=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{detail()}")


def aws(env, *args, check=True):
    """Runs the AWS CLI; returns (returncode, parsed JSON stdout or None, stderr)."""
    r = subprocess.run(["aws", *args, "--output", "json"], env=env, capture_output=True,
                       text=True, timeout=60)
    out = None
    if r.stdout.strip():
        try:
            out = json.loads(r.stdout)
        except json.JSONDecodeError:
            out = r.stdout
    if check and r.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r.returncode, out, r.stderr


def run(args, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("timeout", 60)
    return subprocess.run(args, **kwargs)


class TempDirTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix=f"lockout-{self.__class__.__name__}-")
        self._stops = []

    def tearDown(self):
        for stop in reversed(self._stops):
            try:
                stop()
            except Exception:  # noqa: BLE001 - best-effort cleanup
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def local_aws(self, **kwargs):
        la = LocalAws(self.tmp, **kwargs)
        self._stops.append(la.stop)
        return la

    def ephemeral_enclave(self, *extra, threads=1, key_type="p256", listen="tcp://127.0.0.1:0",
                          nsm="", env=None):
        """Starts lockout-enclave with an ephemeral key; returns (Process, its listen URI)."""
        self._enclaves = getattr(self, "_enclaves", 0) + 1
        name = f"enclave-{self._enclaves}"
        ready = os.path.join(self.tmp, f"{name}.json")
        args = [binary("lockout-enclave"), "--listen", listen, "--ephemeral-key", key_type,
                "--threads", str(threads), "--ready-file", ready, "--nsm", nsm, *extra]
        p = Process(args, self.tmp, name, env=env)
        self._stops.append(p.stop)
        wait_for_file(ready, p.proc, what="enclave ready file")
        with open(ready) as f:
            info = json.load(f)
        self.assertEqual(info["status"], "ok", info)
        return p, info["listen"]
