#!/usr/bin/env python3
"""helsesim's load benchmark: one command, one run, one table.

    python3 scripts/loadtest.py [--duration 5] [--patients 100000] [--no-peers] [--no-scale]

Builds helsesim in release mode, installs wrk (Debian's package) when missing, and measures on
this machine, sending traffic only to 127.0.0.1:

1. throughput (wrk, 2 threads, 50 connections) of /healthz, HelseID discovery, kjernejournal
   ping with a verified token, a FHIR read, helseindikator, and token issuance with a fresh
   client assertion and DPoP proof per request (signed beforehand by the load-material example;
   a replayed one would be refused and counted), beside `openssl speed rsa2048` on all cores;
2. start-up to the first 200 from /healthz (certs present), RSS idle (2 s after ready) and
   after the load;
3. at the bundled fixtures and at --patients generated ones (`helsesim fixtures generate`):
   start-up, RSS, p50 latency (1 connection) of helseindikator, PatientTicket,
   Patient?identifier=, $getMedication and a Datadeling read (three rounds in turns with a
   helsesim on the bundled fixtures, the median of each), and the state document's export and
   import;
4. the peers README compares with (unless --no-peers): WireMock serving the same ping as a
   static stub and oauth2-mock-server issuing client_credentials tokens, installed with npm
   into ~/.cache/helsesim-loadtest.

Prints a Markdown table with the issue-18 goals and whether each was met; exits 1 if a wrk run
saw errors or non-2xx answers where none belong.
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BINARY = os.path.join(TARGET, "release", "helsesim")
MATERIAL = os.path.join(TARGET, "release", "examples", "load-material")
CACHE = os.path.expanduser("~/.cache/helsesim-loadtest")
EPJ = "ACME EHR system versjon 42.01"
USER = "17056600574"  # Didrik, a doctor of the bundled Fjordbyen tenant
BUNDLED_PATIENT = "13116900216"  # Kari Kritisk: status 4, a prescription, allergies
FNR = "urn:oid:2.16.578.1.12.4.1.4.1"

failures = []


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def as_root(cmd):
    if os.geteuid() == 0:
        return run(cmd)
    return run(["sudo", "-n"] + cmd)


def ensure_wrk():
    if shutil.which("wrk"):
        return
    print("installing wrk (apt)", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    as_root(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None):
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Helsesim:
    """A release helsesim on a free port, with its own certs folder."""

    def __init__(self, fixtures, certs):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update({
            "HELSESIM_PORT": str(self.port),
            "HELSESIM_TLS_PORT": "0",
            "HELSESIM_PUBLIC_URL": self.base,
            "HELSESIM_FIXTURES": fixtures,
            "HELSESIM_CERTS": certs,
            "HELSESIM_LOG": "warn",
            "HELSESIM_KJ_EXTRA_FIELD": "off",
        })
        env.pop("HELSESIM_STATE_FILE", None)
        started = time.perf_counter()
        self.process = subprocess.Popen([BINARY, "serve"], env=env, stdout=subprocess.DEVNULL)
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"helsesim exited with {self.process.returncode}")
            if time.perf_counter() - started > 120:
                raise SystemExit("helsesim did not answer /healthz in 120 s")
            time.sleep(0.001)
        self.startup_ms = (time.perf_counter() - started) * 1000

    def rss_mib(self, field="VmRSS"):
        return rss_kib(self.process.pid, field) / 1024

    def idle_rss_mib(self):
        """RSS after 2 s without requests: the allocator gives back what start-up freed once
        its purge delay (1 s) has passed."""
        time.sleep(2)
        return self.rss_mib()

    def token(self, request):
        status, body = http("POST", self.base + "/_admin/tokens", json.dumps(request),
                            {"Content-Type": "application/json"})
        if status != 200:
            raise SystemExit(f"/_admin/tokens {request}: {status} {body[:300]!r}")
        return json.loads(body)["access_token"]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def lua_string(text):
    """A Lua long string: the text as is (UTF-8 included; Lua 5.1 has no \\u escapes)."""
    assert "]==]" not in text
    return f"[==[{text}]==]"


def lua_for(method="GET", headers=None, body=None):
    lines = [f'wrk.method = "{method}"']
    for name, value in (headers or {}).items():
        lines.append(f"wrk.headers[ {lua_string(name)} ] = {lua_string(value)}")
    if body is not None:
        lines.append(f"wrk.body = {lua_string(body)}")
    return "\n".join(lines) + "\n"


def seconds(value, unit):
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def wrk(url, script, duration, threads=2, connections=50, expect_errors=False, label=""):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
             "-s", f.name, url],
            check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s|m)\b", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    bad = int(non2xx.group(1)) if non2xx else 0
    if (bad or errors) and not expect_errors:
        failures.append(f"{label or url}: {bad} non-2xx answers, socket errors: "
                        f"{errors.group(1) if errors else 'none'}")
    return {"rate": rate, "p50": seconds(*p50.groups()) if p50 else None, "non2xx": bad}


def openssl_rsa2048(cores, seconds=3):
    out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "-multi", str(cores),
                          "rsa2048"],
                         check=True, capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if re.match(r"\s*rsa\s+2048 bits", l)][-1]
    numbers = re.findall(r"[\d.]+", line.split("bits", 1)[1])
    return float(numbers[2])  # sign, verify (seconds each), sign/s, verify/s


def throughput(sim, fixtures, duration, rounds=3):
    """The issue's throughput rows against one running helsesim (bundled fixtures).

    The machine's speed drifts by tens of percent within minutes, so each ratio is taken within
    a round (each row right after its own `/healthz` run; token issuance between two
    `openssl speed` runs) and the median of the rounds' ratios and rates is reported."""
    kj_system = sim.token({"client_id": "kjernejournal", "audience": "nhn:kjernejournal"})
    sfm_user = sim.token({"client_id": "sfm-ready", "audience": "e-helse:sfm.api",
                          "user": USER})
    kj = {"Authorization": f"Bearer {kj_system}", "X-EPJ-System": EPJ}
    requests = {
        "discovery": (sim.base + "/helseid/.well-known/openid-configuration", lua_for()),
        "ping": (sim.base + "/kjernejournal/v1/ping", lua_for(headers=kj)),
        "fhir_read": (sim.base + "/sfm/fhir/Patient/patient-line",
                      lua_for(headers={"Authorization": f"Bearer {sfm_user}",
                                       "Accept": "application/fhir+json"})),
        "helseindikator": (
            sim.base + "/kjernejournal/v1/helseindikator",
            lua_for("POST", dict(kj, **{"Content-Type": "application/json"}),
                    json.dumps({"fnr": BUNDLED_PATIENT, "samtykke": "HPMOTTATTSAMTYKKE"}))),
    }
    runs = {key: [] for key in ["healthz", *requests, "tokens", "rsa2048"]}
    shares = {key: [] for key in [*requests, "tokens"]}
    cores = os.cpu_count() or 1
    for _ in range(rounds):
        for key, (url, script) in requests.items():
            healthz = wrk(sim.base + "/healthz", lua_for(), duration, label="healthz")
            row = wrk(url, script, duration, label=key)
            runs["healthz"].append(healthz["rate"])
            runs[key].append(row["rate"])
            shares[key].append(row["rate"] / healthz["rate"])
        before = openssl_rsa2048(cores, duration)
        tokens = token_issuance(sim, fixtures, duration)
        after = openssl_rsa2048(cores, duration)
        runs["tokens"].append(tokens["rate"])
        runs["rsa2048"].append((before + after) / 2)
        shares["tokens"].append(tokens["rate"] * 2 / (before + after))
    return {"rates": {key: statistics.median(values) for key, values in runs.items()},
            "shares": {key: statistics.median(values) for key, values in shares.items()},
            "rounds": rounds}


# Each request is formatted once, before the run: wrk shares the cores with helsesim, and
# formatting 2.5 KB per request during the run took CPU from the server it measures.
TOKEN_LUA = r"""
local requests = {}
local counter = 1
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  local n = 0
  for line in io.lines(os.getenv("HELSESIM_MATERIAL")) do
    if n % %THREADS% == id then
      local tab = line:find("\t", 1, true)
      table.insert(requests, wrk.format("POST", nil,
        {["Content-Type"] = "application/x-www-form-urlencoded",
         ["DPoP"] = line:sub(tab + 1)}, line:sub(1, tab - 1)))
    end
    n = n + 1
  end
end
function request()
  local item = requests[counter] or requests[1]
  counter = counter + 1
  return item
end
"""


def token_issuance(sim, fixtures, duration):
    """Client credentials with private_key_jwt and DPoP, one fresh assertion per request."""
    count = int(6000 * duration)
    with tempfile.NamedTemporaryFile(suffix=".tsv", delete=False) as f:
        material = f.name
    try:
        run([MATERIAL, sim.base, fixtures, "pts", str(count), material])
        os.environ["HELSESIM_MATERIAL"] = material
        result = wrk(sim.base + "/helseid/connect/token", TOKEN_LUA.replace("%THREADS%", "2"),
                     duration, label="token issuance")
    finally:
        os.environ.pop("HELSESIM_MATERIAL", None)
        os.unlink(material)
    if result["rate"] * duration > count * 0.95:
        failures.append("token issuance ran out of signed material: raise the count")
    return result


def latencies(sim, patient, duration):
    """p50 with one connection of the per-patient reads (status, ticket, search, medication)."""
    kj_system = sim.token({"client_id": "kjernejournal", "audience": "nhn:kjernejournal"})
    sfm_user = sim.token({"client_id": "sfm-ready", "audience": "e-helse:sfm.api",
                          "user": USER})
    sfm = {"Authorization": f"Bearer {sfm_user}", "Accept": "application/fhir+json"}
    status, ticket = http("POST", sim.base + "/sfm/api/PatientTicket",
                          json.dumps({"patientPid": patient}),
                          dict(sfm, **{"Content-Type": "application/json",
                                       "Accept": "application/json"}))
    if status != 200:
        raise SystemExit(f"PatientTicket {patient}: {status} {ticket[:300]!r}")
    ticket = json.loads(ticket)["patientTicket"]
    status, found = http("GET", f"{sim.base}/sfm/fhir/Patient?identifier={FNR}|{patient}",
                         headers=sfm)
    resource = json.loads(found)["entry"][0]["resource"]
    get_medication = json.dumps({"resourceType": "Parameters", "parameter": [
        {"name": "patient", "resource": resource},
        {"name": "SamtykkeKjernejournal", "valueCode": "HPMOTTATTSAMTYKKE"}]},
        ensure_ascii=False)
    one = dict(threads=1, connections=1)
    rows = {}
    rows["helseindikator"] = wrk(
        sim.base + "/kjernejournal/v1/helseindikator",
        lua_for("POST", {"Authorization": f"Bearer {kj_system}", "X-EPJ-System": EPJ,
                         "Content-Type": "application/json"},
                json.dumps({"fnr": patient, "samtykke": "HPMOTTATTSAMTYKKE"})),
        duration, label="helseindikator", **one)
    rows["ticket"] = wrk(sim.base + "/sfm/api/PatientTicket",
                         lua_for("POST", dict(sfm, **{"Content-Type": "application/json"}),
                                 json.dumps({"patientPid": patient})),
                         duration, label="PatientTicket", **one)
    rows["search"] = wrk(f"{sim.base}/sfm/fhir/Patient?identifier={FNR}%7C{patient}",
                         lua_for(headers=sfm), duration, label="Patient?identifier=", **one)
    rows["get_medication"] = wrk(
        sim.base + "/sfm/fhir/Patient/$getMedication",
        lua_for("POST", dict(sfm, **{"Content-Type": "application/fhir+json"}), get_medication),
        duration, label="$getMedication", **one)
    rows["datadeling"] = wrk(f"{sim.base}/sfm/fhir/MedicationStatement?patientTicket={ticket}",
                             lua_for(headers=sfm), duration, label="Datadeling", **one)
    return rows


def state_round_trip(sim):
    started = time.perf_counter()
    status, document = http("GET", sim.base + "/_admin/state")
    exported = time.perf_counter() - started
    if status != 200:
        failures.append(f"GET /_admin/state: {status}")
        return None
    started = time.perf_counter()
    status, body = http("PUT", sim.base + "/_admin/state", document,
                        {"Content-Type": "application/json"})
    imported = time.perf_counter() - started
    if status >= 300:
        failures.append(f"PUT /_admin/state: {status} {body[:200]!r}")
    return {"export_s": exported, "import_s": imported, "mib": len(document) / 2**20}


def scale_phase(certs, patients, duration, bundled_fixtures):
    out = tempfile.mkdtemp(prefix="helsesim-scale-")
    try:
        generated = subprocess.run(
            [BINARY, "fixtures", "generate", "--patients", str(patients), "--out", out,
             "--from", bundled_fixtures], check=True, capture_output=True, text=True).stdout
        # The same (bundled) patient as at the bundled fixtures: only the store's size differs.
        patient = BUNDLED_PATIENT
        if not re.search(r"status 4: (\S+)", generated):
            failures.append(f"fixtures generate named no status-4 patient: {generated}")
        sim = Helsesim(out, certs)
        try:
            result = {"startup_ms": sim.startup_ms, "rss_ready": sim.rss_mib(),
                      "rss_idle": sim.idle_rss_mib(), "patient": patient}
            bundled = Helsesim(bundled_fixtures, certs)
            try:
                result["latency_bundled"], result["latency"] = paired_latencies(
                    bundled, sim, patient, duration)
            finally:
                bundled.stop()
            result["state"] = state_round_trip(sim)
            result["rss_peak"] = sim.rss_mib("VmHWM")
            return result
        finally:
            sim.stop()
    finally:
        shutil.rmtree(out, ignore_errors=True)


def paired_latencies(small, big, patient, duration, rounds=3):
    """The p50s of `latencies` at both sizes, measured in turns (small, big, small, ...) and
    the median of each taken: the machine's speed drifts by tens of percent within minutes, and
    measuring one size after the other compared the drift as much as the sizes."""
    runs = {"small": [], "big": []}
    for _ in range(rounds):
        runs["small"].append(latencies(small, patient, duration))
        runs["big"].append(latencies(big, patient, duration))

    def medians(measured):
        return {key: {"p50": statistics.median(run[key]["p50"] for run in measured)}
                for key in measured[0]}
    return medians(runs["small"]), medians(runs["big"])


def peers(duration):
    """WireMock (a static stub of the ping) and oauth2-mock-server (client_credentials)."""
    os.makedirs(CACHE, exist_ok=True)
    bins = os.path.join(CACHE, "node_modules", ".bin")
    if not (os.path.exists(os.path.join(bins, "wiremock"))
            and os.path.exists(os.path.join(bins, "oauth2-mock-server"))):
        run(["npm", "install", "--prefix", CACHE, "--no-audit", "--no-fund", "--silent",
             "wiremock@3", "oauth2-mock-server@8"])
    result = {}
    port = free_port()
    # Each peer in its own process group: npm's wrapper starts java (or node) as a child, which
    # must stop with it.
    # Its root folder (mappings/, __files/) in the cache, not wherever the script was started.
    wiremock = subprocess.Popen([os.path.join(bins, "wiremock"), "--port", str(port),
                                 "--disable-banner", "--no-request-journal",
                                 "--root-dir", os.path.join(CACHE, "wiremock")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/__admin/mappings", wiremock)
        stub = {"request": {"method": "GET", "url": "/kjernejournal/v1/ping"},
                "response": {"status": 200, "body": ""}}
        http("POST", base + "/__admin/mappings", json.dumps(stub),
             {"Content-Type": "application/json"})
        wrk(base + "/kjernejournal/v1/ping", lua_for(), 2, label="WireMock warm-up")
        result["wiremock_ping"] = wrk(base + "/kjernejournal/v1/ping", lua_for(), duration,
                                      label="WireMock ping")
    finally:
        stop_group(wiremock)
    port = free_port()
    oauth = subprocess.Popen([os.path.join(bins, "oauth2-mock-server"), "-p", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/.well-known/openid-configuration", oauth)
        body = "grant_type=client_credentials&client_id=pts&scope=nhn%3Apts%2Fapi"
        result["oauth2_mock_tokens"] = wrk(
            base + "/token",
            lua_for("POST", {"Content-Type": "application/x-www-form-urlencoded"}, body),
            duration, label="oauth2-mock-server token")
    finally:
        stop_group(oauth)
    return result


def stop_group(process):
    """Stops a peer and every process it started."""
    try:
        os.killpg(process.pid, 15)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def wait_for(url, process):
    deadline = time.time() + 120
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the peer exited with {process.returncode}")
        try:
            if http("GET", url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in 120 s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--no-peers", action="store_true", help="skip WireMock and "
                        "oauth2-mock-server")
    parser.add_argument("--no-scale", action="store_true", help="skip the generated patients")
    parser.add_argument("--no-build", action="store_true", help="use the release build as is")
    args = parser.parse_args()

    ensure_wrk()
    if not args.no_build:
        run(["cargo", "build", "--release", "--locked", "--bin", "helsesim",
             "--example", "load-material"], cwd=ROOT)
    fixtures = os.path.join(ROOT, "fixtures")
    certs = tempfile.mkdtemp(prefix="helsesim-certs-")
    report = {"cores": os.cpu_count()}
    try:
        run([BINARY, "certs", "--certs", certs], stdout=subprocess.DEVNULL)
        startups = []
        for i in range(5):
            sim = Helsesim(fixtures, certs)
            startups.append(sim.startup_ms)
            if i == 0:
                report["rss_idle"] = sim.idle_rss_mib()
            sim.stop()
        report["startup_ms"] = statistics.median(startups)
        sim = Helsesim(fixtures, certs)
        try:
            report["throughput"] = throughput(sim, fixtures, args.duration)
            report["rsa2048_sign_per_s"] = report["throughput"]["rates"]["rsa2048"]
            report["rss_load"] = sim.rss_mib("VmHWM")
            report["latency"] = latencies(sim, BUNDLED_PATIENT, max(2, args.duration // 2))
            report["state"] = state_round_trip(sim)
        finally:
            sim.stop()
        if not args.no_scale:
            report["scale"] = scale_phase(certs, args.patients, max(1, args.duration // 5),
                                          fixtures)
        if not args.no_peers:
            report["peers"] = peers(args.duration)
    finally:
        shutil.rmtree(certs, ignore_errors=True)
    print_report(report, args)
    with open(os.path.join(TARGET, "loadtest.json"), "w") as f:
        json.dump(report, f, indent=1)
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)


def print_report(r, args):
    t = r["throughput"]["rates"]
    rows = []

    def goal(name, value, target, ok):
        rows.append(f"| {name} | {value} | {target} | {'yes' if ok else '**no**'} |")

    def share(key):
        return r["throughput"]["shares"][key] if key != "healthz" else 1

    print(f"\n{r['cores']} cores; wrk -t2 -c50 -d{args.duration}s, "
          f"{r['throughput']['rounds']} rounds (medians); openssl speed rsa2048 "
          f"(all cores): {r['rsa2048_sign_per_s']:.0f} signatures/s\n")
    print("| request | requests/s | of /healthz |\n| --- | ---: | ---: |")
    names = {"healthz": "`GET /healthz`", "discovery": "HelseID discovery",
             "ping": "kjernejournal ping, token verified",
             "fhir_read": "SFM FHIR read (`Patient/{id}`), token verified",
             "helseindikator": "kjernejournal helseindikator, token verified",
             "tokens": "token issuance: private_key_jwt + DPoP, fresh assertion each"}
    for key, name in names.items():
        of = " of `openssl speed rsa2048`" if key == "tokens" else ""
        print(f"| {name} | {t[key]:,.0f} | {share(key):.0%}{of} |")
    if "peers" in r:
        p = r["peers"]
        print(f"| WireMock 3: the ping as a static stub | {p['wiremock_ping']['rate']:,.0f} | |")
        print(f"| oauth2-mock-server 8: client_credentials, no client authentication | "
              f"{p['oauth2_mock_tokens']['rate']:,.0f} | |")
    print()
    goal("discovery / healthz", f"{share('discovery'):.0%}", "≥ 60 %", share("discovery") >= .6)
    goal("ping / healthz", f"{share('ping'):.0%}", "≥ 40 %", share("ping") >= .4)
    goal("FHIR read / healthz", f"{share('fhir_read'):.0%}", "≥ 40 %", share("fhir_read") >= .4)
    tokens = t["tokens"]
    goal("tokens/s", f"{tokens:,.0f}", "≥ 2,500", tokens >= 2500)
    goal("tokens / RSA signatures", f"{share('tokens'):.0%}", "≥ 70 %", share("tokens") >= .7)
    goal("start-up (certs present), median of 5", f"{r['startup_ms']:.0f} ms", "≤ 50 ms",
         r["startup_ms"] <= 50)
    goal("RSS idle", f"{r['rss_idle']:.1f} MiB", "≤ 16 MiB", r["rss_idle"] <= 16)
    goal("RSS peak under load", f"{r['rss_load']:.1f} MiB", "≤ 40 MiB", r["rss_load"] <= 40)
    if "scale" in r:
        s = r["scale"]
        n = f"{args.patients:,}"
        goal(f"start-up at {n} patients", f"{s['startup_ms']:.0f} ms", "≤ 2 s",
             s["startup_ms"] <= 2000)
        goal(f"RSS at {n} patients, idle (at ready: {s['rss_ready']:.0f} MiB)",
             f"{s['rss_idle']:.0f} MiB", "≤ 300 MiB", s["rss_idle"] <= 300)
        # No goal: an import holds the old state, the document and the new state at once.
        rows.append(f"| RSS at {n} patients, peak during the state import | "
                    f"{s['rss_peak']:.0f} MiB | (none) | |")
        if s["state"]:
            both = s["state"]["export_s"] + s["state"]["import_s"]
            goal(f"state export + import at {n} ({s['state']['mib']:.0f} MiB)",
                 f"{s['state']['export_s']:.2f} + {s['state']['import_s']:.2f} s", "≤ 5 s",
                 both <= 5)
        labels = {"helseindikator": "helseindikator", "ticket": "PatientTicket",
                  "search": "`Patient?identifier=`", "get_medication": "`$getMedication`",
                  "datadeling": "Datadeling `MedicationStatement?patientTicket=`"}
        for key, label in labels.items():
            small, big = s["latency_bundled"][key]["p50"], s["latency"][key]["p50"]
            goal(f"p50 {label}: bundled → {n}", f"{small * 1e6:.0f} → {big * 1e6:.0f} µs",
                 "≤ 1.2×", big <= small * 1.2)
    print("| goal | measured | target | met |\n| --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
