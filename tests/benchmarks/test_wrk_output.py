"""What the HTTP benchmark reads from `wrk --latency` (benchmarks.http.parse_wrk)."""

import pytest

from benchmarks.http import parse_wrk

OUTPUT = """Running 10s test @ http://127.0.0.1:40123/api/v1/bags/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   115.20ms   20.10ms    1.85s    70.00%
    Req/Sec    34.00     10.00    50.00     60.00%
  Latency Distribution
     50%  115.00ms
     75%  125.00ms
     90%  140.00ms
     99%    1.85s
  680 requests in 10.00s, 12.20MB read
  Non-2xx or 3xx responses: 3
Requests/sec:     68.00
Transfer/sec:      1.22MB
"""


def test_rate_percentiles_in_milliseconds_and_failed_responses():
    assert parse_wrk(OUTPUT) == {
        "rps": 68.0,
        "p50": 115.0,
        "p99": 1850.0,
        "errors": 3,
        "requests": 680,
    }


def test_microseconds_and_no_failures():
    output = OUTPUT.replace("115.00ms", "950.00us").replace("  Non-2xx or 3xx responses: 3\n", "")
    result = parse_wrk(output)
    assert result["p50"] == pytest.approx(0.95)
    assert result["errors"] == 0
