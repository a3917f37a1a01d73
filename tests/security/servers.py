"""Real gunicorn servers for the tests that need them: DEBUG off, the production
settings, plain HTTP on 127.0.0.1 (so SECURE_SSL_REDIRECT=0)."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "test-only-" + "x" * 50

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": SECRET_KEY,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "0",
    "AUDIT_CHECKPOINT_KEY": "test-checkpoint-key",
    "LOG_LEVEL": "WARNING",
    "REQUEST_LOG": "0",
}


def free_port() -> int:
    """A free TCP port on 127.0.0.1 above 18000."""
    for _ in range(200):
        port = random.randint(18000, 28999)  # noqa: S311 — not security
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port above 18000")


def environment(**extra) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_ALLOW_ASYNC", "PYTEST"))
    }
    env.update(PRODUCTION_ENV)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def manage(*args, env: dict[str, str], timeout=180) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@contextlib.contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 2, log: Path | None = None):
    """Start `gunicorn -c config/gunicorn.py config.wsgi` on a free port; yield its base
    URL once /healthz answers; stop it (the whole process group) afterwards."""
    port = free_port()
    env = env | {"BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers)}
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode} (log: {log})")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer /healthz in 60 s (log: {log})")
            time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        if log:
            out.close()
