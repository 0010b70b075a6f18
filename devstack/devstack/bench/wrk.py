"""Load with ``wrk``, a different body on every request (so no cache anywhere can answer), bounded in
time, loopback only. Used by ``make bench``'s serving-overhead rows."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# Every request: the base email with its words rotated by a per-request counter and the counter
# itself appended, so bodies differ in content (not only in a suffix) while keeping their length.
_LUA = r"""
local words = {WORDS}
local n = #words
local counter = 0
local tid = 0
local headers = {HEADERS}

setup = function(thread)
  thread:set("tid", tostring(math.random(1, 1000000000)))
end

init = function(args)
  tid = tonumber(tid) or 0
end

local function escape(s)
  return (s:gsub('\\', '\\\\'):gsub('"', '\\"'))
end

request = function()
  counter = counter + 1
  local shift = counter % n
  local parts = {}
  for i = 1, n do
    parts[i] = words[((i + shift - 1) % n) + 1]
  end
  local text = escape(table.concat(parts, " ")) .. " " .. tid .. "-" .. counter
  local body = string.format(TEMPLATE, text)
  return wrk.format("POST", nil, headers, body)
end

done = function(summary, latency, requests)
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("textserve-p%d-us %d\n", p, latency:percentile(p)))
  end
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    requests: int
    errors: int


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for these texts


def lua_script(email: str, template: str, headers: dict[str, str]) -> str:
    """``template`` is a JSON body with one ``%s`` where the (already escaped) text goes."""
    words = "{" + ", ".join(_lua_string(w) for w in email.split()) + "}"
    all_headers = {"Content-Type": "application/json", **headers}
    lua_headers = "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in all_headers.items()) + "}"
    return _LUA.replace("{WORDS}", words).replace("{HEADERS}", lua_headers).replace("TEMPLATE", _lua_string(template))


def parse(out: str) -> WrkResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latencies = {int(p): int(us) / 1000 for p, us in re.findall(r"^textserve-p(\d+)-us (\d+)$", out, re.M)}
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(x) for x in m.groups())
    return WrkResult(rps, latencies.get(50), latencies.get(95), latencies.get(99), requests, errors)


def run(
    url: str,
    email: str,
    template: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    host = urlsplit(url).hostname
    assert host in ("127.0.0.1", "localhost"), "load goes to loopback only"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "vary.lua"
        script.write_text(lua_script(email, template, headers or {}))
        cmd = [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    return parse(out)
