"""Over HTTP: gunicorn (2 workers) on a free port against the bench database, loaded by
`wrk` at 8 connections with `X-Forwarded-Proto: https` (as a TLS proxy would send):
requests/s, p50 and p99 for the bag list, a donor trace and the pharmacy worklist."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DURATION = os.environ.get("BENCH_WRK_DURATION", "10s")


def missing() -> str | None:
    """Why the HTTP benchmark cannot run here, or None."""
    if not shutil.which("wrk"):
        return "wrk is not installed (Debian: apt-get install wrk)"
    if not (Path(sys.executable).parent / "gunicorn").exists() and not shutil.which("gunicorn"):
        return "gunicorn is not installed"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gunicorn(port: int):
    binary = Path(sys.executable).parent / "gunicorn"
    env = {**os.environ, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}
    env["GUNICORN_LOG_LEVEL"] = "warning"
    process = subprocess.Popen(
        [
            str(binary if binary.exists() else "gunicorn"),
            "-c",
            "config/gunicorn.py",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,  # one JSON line per request
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/healthz", headers={"X-Forwarded-Proto": "https"}
            )
            with urllib.request.urlopen(request, timeout=2):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit("gunicorn exited before answering") from None
            time.sleep(0.5)
    _stop(process)
    raise SystemExit("gunicorn did not answer /healthz within 60 s")


def _stop(process) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def _probe(port: int, path: str, headers: dict) -> None:
    """The request wrk repeats must answer 200 itself (not a redirect to the login)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"X-Forwarded-Proto": "https", **headers})
    status = conn.getresponse().status
    conn.close()
    if status != 200:
        raise SystemExit(f"gunicorn {path}: HTTP {status}, not 200")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> dict:
    """requests/s, p50 and p99 (ms), and the non-2xx count from `wrk --latency` output."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    done = int(re.search(r"(\d+) requests in", output).group(1))
    errors = int(bad.group(1)) if bad else 0
    return {"rps": rate, "p50": p50, "p99": p99, "errors": errors, "requests": done}


def _seconds(duration: str) -> int:
    return int(duration[:-1]) * (60 if duration.endswith("m") else 1)


def _load(args: list[str], url: str, duration: str) -> dict:
    out = subprocess.run(
        [*args, "-d", duration, url], capture_output=True, text=True, check=True
    ).stdout
    return parse_wrk(out)


def http_metrics(targets: list[tuple[str, str, dict]]) -> list:
    """`targets`: (name, path, headers). Each is loaded for DURATION after a warm-up."""
    port = _free_port()
    process = _gunicorn(port)
    metrics = []
    try:
        for name, path, headers in targets:
            args = [
                "wrk",
                "-t",
                "2",
                "-c",
                "8",
                "--timeout",
                "30s",
                "--latency",
                "-H",
                "X-Forwarded-Proto: https",
            ]
            for key, value in headers.items():
                args += ["-H", f"{key}: {value}"]
            url = f"http://127.0.0.1:{port}{path}"
            _probe(port, path, headers)
            subprocess.run([*args, "-d", "2s", url], capture_output=True, check=True)
            result = _load(args, url, DURATION)
            if not result["requests"]:
                # Nothing answered within the run (a slow page on a loaded machine): once
                # more, four times as long, rather than report 0 requests/s.
                result = _load(args, url, f"{4 * _seconds(DURATION)}s")
            if result["errors"]:
                raise SystemExit(f"wrk {path}: {result['errors']} responses not 2xx/3xx")
            metrics += [
                (f"http.{name}", result["rps"], "req/s"),
                (f"http.{name}.p50", result["p50"], "ms"),
                (f"http.{name}.p99", result["p99"], "ms"),
            ]
    finally:
        _stop(process)
    return metrics
