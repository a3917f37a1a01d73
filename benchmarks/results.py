"""`benchmarks/results.json`: what one run measured, where and under what load."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent / "results.json"


def load() -> dict:
    one, five, fifteen = os.getloadavg()
    return {"1min": round(one, 2), "5min": round(five, 2), "15min": round(fifteen, 2)}


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }


class Results:
    def __init__(self, scale: float, database: str):
        self.data = {
            "scale": scale,
            "database": database,
            "machine": machine(),
            "load_average": {"start": load()},
            "metrics": [],
            "skipped": [],
            "failures": [],
        }

    def add(self, name: str, value, unit: str) -> None:
        value = round(value, 3) if isinstance(value, float) else value
        self.data["metrics"].append({"name": name, "value": value, "unit": unit})
        print(f"  {name:<44} {value:>14,} {unit}")

    def extend(self, metrics) -> None:
        for name, value, unit in metrics:
            self.add(name, value, unit)

    def skip(self, name: str, reason: str) -> None:
        self.data["skipped"].append({"name": name, "reason": reason})
        print(f"  {name:<44} skipped: {reason}")

    def fail(self, text: str) -> None:
        self.data["failures"].append(text)
        print(f"  FAILURE: {text}")

    def note(self, key: str, value) -> None:
        self.data[key] = value

    def write(self, path: Path) -> None:
        self.data["load_average"]["end"] = load()
        path.write_text(json.dumps(self.data, indent=2) + "\n")
        print(f"results written to {path}")
