#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""examples/chat-client driven in tmux as a person uses it (send-keys,
capture-pane): three clients chat through examples/chat, a line being typed
survives incoming messages, pings are answered while the user types, `exit`
and ^D quit cleanly, a server shutdown (1001) is reported and ends the
client, --reconnect comes back after a server restart, and the client works
against examples/echo's /chat route; over wss:// with `scripts/run-chat.sh
--tls` (its self-signed certificate trusted with --cafile, refused without
it). A tmux server of its own (-L), killed
at the end; every process stopped by PID.
Usage: test_chat_client.py CHAT_CLIENT CHAT_BIN ECHO_BIN"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from harness import check, skip, server, RESULTS

if not shutil.which("tmux"):
    skip("tmux missing: apt-get install tmux, or run scripts/test.sh")

client_bin, chat_bin, echo_bin = sys.argv[1:4]
SOCK = f"wschat-test-{os.getpid()}"
LOG = os.path.join(os.environ.get("TMPDIR", "/tmp"), SOCK)


def tmux(*args, check_rc=True):
    r = subprocess.run(["tmux", "-L", SOCK, *args], capture_output=True, text=True, timeout=10)
    if check_rc and r.returncode != 0:
        raise RuntimeError(f"tmux {args}: {r.stderr}")
    return r.stdout


def start_client(pane, url, *flags):
    # The pane outlives the client (sleep), so its last screen can be read;
    # the tmux server is killed at the end.
    cmd = " ".join([client_bin, url, *flags]) + f"; echo EXIT=$? > {LOG}-{pane}; sleep 300"
    tmux("new-session", "-d", "-s", pane, "-x", "120", "-y", "40", cmd)


def screen(pane):
    return tmux("capture-pane", "-p", "-S", "-", "-t", pane, check_rc=False)


def wait_for(pane, text, seconds=8, count=1):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if screen(pane).count(text) >= count:
            return True
        time.sleep(0.05)
    return False


def exit_status(pane, seconds=8):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with open(f"{LOG}-{pane}") as f:
                return int(f.read().strip().split("=")[1])
        except (OSError, ValueError, IndexError):
            time.sleep(0.05)
    return None


def type_line(pane, text):
    tmux("send-keys", "-t", pane, "-l", text)
    tmux("send-keys", "-t", pane, "Enter")


def prompt_line(pane):
    lines = [l for l in screen(pane).splitlines() if l.strip()]
    return lines[-1] if lines else ""


def chat_scenario():
    with server(chat_bin, "--ping-period", "300", "--idle-timeout", "1500") as (proc, port):
        url = f"ws://127.0.0.1:{port}/chat"
        for name in ("alice", "bob", "carol"):
            start_client(name, url, "--name", name)
            check(f"{name} sees the welcome", wait_for(name, "You are connected! There are"))
        type_line("alice", "hello from alice")
        for name in ("alice", "bob", "carol"):
            check(f"{name} sees alice's line", wait_for(name, "[alice]: hello from alice"))
        # bob is halfway through a line when carol speaks: bob's line stays.
        tmux("send-keys", "-t", "bob", "-l", "half typed")
        time.sleep(0.3)
        type_line("carol", "carol interrupts")
        check("bob sees carol while typing", wait_for("bob", "[carol]: carol interrupts"))
        time.sleep(0.2)
        check("bob's half-typed line is intact below it", prompt_line("bob").endswith("> half typed"),
              repr(prompt_line("bob")))
        # Idle typing for longer than the server's idle timeout: the client
        # answers the server's pings while the user types.
        time.sleep(2.5)
        tmux("send-keys", "-t", "bob", "-l", " and finished")
        tmux("send-keys", "-t", "bob", "Enter")
        check("bob's finished line reaches alice after an idle wait",
              wait_for("alice", "[bob]: half typed and finished"))
        check("no client was timed out", all("closed by the server" not in screen(n)
                                             for n in ("alice", "bob", "carol")))
        # exit (any case) and ^D quit cleanly.
        type_line("alice", "ExIt")
        check("exit says goodbye", wait_for("alice", "Connection closed. Goodbye!"))
        check("exit ends with status 0", exit_status("alice") == 0)
        check("exit was not sent as a message", "[alice]: ExIt" not in screen("bob"))
        tmux("send-keys", "-t", "carol", "C-d")
        check("^D says goodbye", wait_for("carol", "Connection closed. Goodbye!"))
        check("^D ends with status 0", exit_status("carol") == 0)
        # The server goes away: bob is told the code and reason, and exits non-zero.
        proc.send_signal(signal.SIGTERM)
        check("a server shutdown is reported with its code",
              wait_for("bob", "Connection closed by the server: 1001"))
        check("and ends the client with a non-zero status", exit_status("bob") not in (0, None))


def reconnect_scenario():
    with server(chat_bin) as (proc, port):
        url = f"ws://127.0.0.1:{port}/chat"
        start_client("dave", url, "--name", "dave", "--reconnect")
        check("dave joins", wait_for("dave", "You are connected!"))
        proc.kill()  # no close frame: an abnormal end
        check("dave says it reconnects", wait_for("dave", "reconnecting in"))
    # A new server on the same port (nothing else took it meanwhile, most likely).
    try:
        with server(chat_bin, port_arg=str(port)) as (proc2, _):
            check("dave is back after the restart",
                  wait_for("dave", "You are connected! There are 1 users here.", 40, count=2))
            type_line("dave", "I am back")
            check("and can chat", wait_for("dave", "[dave]: I am back"))
            type_line("dave", "exit")
            check("dave leaves cleanly", exit_status("dave") == 0)
    except RuntimeError as e:  # the port was taken in between: say so, do not pass silently
        check("restart on the same port", False, str(e))


def echo_scenario():
    with server(echo_bin) as (proc, port):
        start_client("erin", f"ws://127.0.0.1:{port}/chat")
        check("against examples/echo /chat", wait_for("erin", "You are connected!"))
        type_line("erin", "ping me")
        check("echo's answer is printed", wait_for("erin", "You said: ping me"))
        type_line("erin", "exit")
        check("echo client leaves cleanly", exit_status("erin") == 0)
    start_client("frank", "ws://127.0.0.1:1/chat")
    check("a refused connection is reported", wait_for("frank", "Cannot connect to ws://127.0.0.1:1/chat"))
    check("and exits non-zero", exit_status("frank") == 1)


def tls_scenario():
    """The main command with --tls on this build tree: a certificate made
    for localhost, the https:// address printed; the terminal client over
    wss:// trusting that certificate, and refusing the server without it."""
    if not shutil.which("openssl"):
        skip("openssl missing: apt-get install openssl, or run scripts/test.sh")
    build = os.path.dirname(os.path.dirname(os.path.abspath(chat_bin)))
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "run-chat.sh")
    proc = subprocess.Popen([script, "--tls", "--port", "0", "--bind", "127.0.0.1"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, "RUN_CHAT_BUILD": build})
    try:
        out, port, deadline = "", None, time.time() + 20
        while port is None and time.time() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
            out += line
            m = re.search(r"Responding at https://\S+:(\d+)$", line.strip())
            port = m and int(m.group(1))
        check("run-chat.sh --tls prints the https:// address", port is not None, out)
        check("and how to trust its certificate", "--ignore-certificate-errors-spki-list=" in out)
        if port is None:
            return
        url, cert = f"wss://localhost:{port}/chat", os.path.join(build, "dev-tls", "cert.pem")
        start_client("gina", url, "--name", "gina", "--cafile", cert)
        check("chat-client over wss:// with --cafile joins", wait_for("gina", "You are connected!"))
        type_line("gina", "secure hello")
        check("and chats", wait_for("gina", "[gina]: secure hello"))
        type_line("gina", "exit")
        check("and leaves cleanly", exit_status("gina") == 0)
        start_client("hal", url, "--name", "hal")
        check("without --cafile the self-signed certificate is refused",
              wait_for("hal", f"Cannot connect to {url}?name=hal: certificate: self-signed certificate"),
              screen("hal"))
        check("and the client exits non-zero", exit_status("hal") == 1)
    finally:
        proc.kill()
        proc.wait()


try:
    for scenario in (chat_scenario, reconnect_scenario, echo_scenario, tls_scenario):
        try:
            scenario()
        except Exception as e:  # noqa: BLE001 - report, then go on with the next
            check(f"{scenario.__name__} ran", False, repr(e))
finally:
    subprocess.run(["tmux", "-L", SOCK, "kill-server"], capture_output=True)
    for name in ("alice", "bob", "carol", "dave", "erin", "frank", "gina", "hal"):
        try:
            os.unlink(f"{LOG}-{name}")
        except OSError:
            pass
print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
sys.exit(1 if RESULTS["failed"] or not RESULTS["passed"] else 0)
