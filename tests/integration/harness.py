# SPDX-License-Identifier: MIT
"""Shared helpers for integration tests: start a real server binary on a free
port, read the port back from its first line, and always stop it by PID."""
import asyncio
import contextlib
import re
import resource
import socket
import subprocess
import sys
import time

RESULTS = {"passed": 0, "failed": 0}
SKIP = 77  # meson's exit code for a skipped test


def skip(reason):
    """Ends the test as skipped, with one line saying what to install."""
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def need(module, package):
    """Imports a module the test cannot run without, or skips the test."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        skip(f"{module} missing: apt-get install {package}, or run scripts/test.sh")


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(n, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


@contextlib.contextmanager
def server(binary, *args, nofile=None, port_arg="0", wrap=()):
    """Runs `binary --port 0 args...` (or another port), after the command
    `wrap` when one is given; yields (proc, port)."""
    def limits():
        if nofile:
            raise_nofile(nofile)
    proc = subprocess.Popen([*wrap, binary, "--port", port_arg, "--bind", "127.0.0.1", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limits)
    try:
        line = ""
        deadline = time.time() + 10
        while time.time() < deadline:
            line = proc.stdout.readline()
            if line or proc.poll() is not None:
                break
        m = re.search(r":(\d+)\s*$", line)
        if not m:
            raise RuntimeError(f"{binary} did not announce a port: {line!r} "
                               f"{proc.stderr.read() if proc.poll() is not None else ''}")
        yield proc, int(m.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def free_port():
    """A loopback port free right now (for servers that take no port 0,
    such as redis-server, or several processes sharing one port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(name, cond, detail=""):
    if cond:
        RESULTS["passed"] += 1
        print(f"ok: {name}")
    else:
        RESULTS["failed"] += 1
        print(f"FAILED: {name} {detail}")


async def bounded(coro, seconds=20):
    return await asyncio.wait_for(coro, seconds)


def run(main, seconds=240, cleanup=None):
    """Runs an async main for at most `seconds`; any exception counts as a
    failure; cleanup() runs whatever happened. Exits 1 on failure."""
    try:
        asyncio.run(asyncio.wait_for(main(), seconds))
    except Exception as e:  # noqa: BLE001 - report and fail, never hang
        import traceback
        traceback.print_exc()
        check("no exception", False, repr(e))
    finally:
        if cleanup:
            cleanup()
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    sys.exit(1 if RESULTS["failed"] or not RESULTS["passed"] else 0)


def test_ca(tmp, name="test"):
    """Makes, with the openssl CLI, a CA and a server certificate it signs
    for localhost and 127.0.0.1, valid two days, in directory tmp; returns
    (ca_file, chain_file, key_file), the chain leaf first as Let's
    Encrypt's fullchain.pem. Skips the test when openssl is missing. Keys
    exist only for the run: none is committed."""
    import shutil
    if not shutil.which("openssl"):
        skip("openssl missing: apt-get install openssl, or run scripts/test.sh")

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)
    ca_key, ca = f"{tmp}/{name}-ca.key", f"{tmp}/{name}-ca.pem"
    key, csr, cert = f"{tmp}/{name}.key", f"{tmp}/{name}.csr", f"{tmp}/{name}.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", f"/CN={name} test CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    ext = f"{tmp}/{name}.ext"
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-out", cert, "-days", "2", "-extfile", ext)
    with open(cert, "a") as chain, open(ca) as c:
        chain.write(c.read())
    return ca, cert, key
