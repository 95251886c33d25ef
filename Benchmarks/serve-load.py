#!/usr/bin/env python3
"""Bounded load test of `gpt serve` and `llama-server -np N` on loopback, in one run.

For each server and each client count C (default 1, 8, 16) it starts the server with C slots, runs C concurrent
streaming clients that each send --requests completions of --tokens tokens (ignore_eos, so every answer has the
same length), and reports aggregate generated tokens/s (all tokens / wall time), p50/p99 time to first token,
failed requests and the server's RSS before and after. Loopback only; every request has a timeout and the whole
run a deadline, so it stops by itself. Standard library only.

  python3 Benchmarks/serve-load.py                      # both servers, 1 8 16 clients
  python3 Benchmarks/serve-load.py --clients 1,8 --skip-llama
"""
import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.expanduser("~/.cache/swiftgpt")
PROMPTS = ["Write a story about a lighthouse keeper.", "Explain how rain forms.", "List ideas for a garden.",
           "Describe a busy market in the morning.", "Tell me about the history of bridges."]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_port(proc, port, deadline):
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become healthy")


def start(kind, args, clients, port):
    ctx = args.ctx_per_seq
    if kind == "swiftgpt":
        cmd = [args.gpt, "serve", "--model", args.model, "--port", str(port), "--parallel", str(clients),
               "--ctx-per-seq", str(ctx), "--threads", str(args.threads)]
    else:
        cmd = [args.llama_server, "-m", args.model, "--port", str(port), "--host", "127.0.0.1", "-np", str(clients),
               "-c", str(ctx * clients), "-t", str(args.threads), "-cb", "--no-webui"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(proc, port, time.time() + 180)
    return proc, " ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd)


def one_request(port, prompt, tokens, timeout):
    """(time to first token, generated tokens, seconds) of one streaming completion."""
    t0 = time.time()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    body = json.dumps({"prompt": prompt, "max_tokens": tokens, "temperature": 0.8, "seed": 1, "stream": True,
                       "ignore_eos": True, "stream_options": {"include_usage": True}})
    c.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:200]!r}")
    ttft, pieces, usage = None, 0, None
    for raw in r:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        if event.get("usage"):
            usage = event["usage"].get("completion_tokens")
        for choice in event.get("choices") or []:
            if choice.get("text"):
                pieces += 1
                if ttft is None:
                    ttft = time.time() - t0
    c.close()
    return ttft if ttft is not None else time.time() - t0, usage or pieces, time.time() - t0


def run_level(port, clients, args):
    results, failures, lock = [], [], threading.Lock()

    def client(i):
        for r in range(args.requests):
            try:
                out = one_request(port, PROMPTS[(i + r) % len(PROMPTS)] + f" (client {i}, request {r})",
                                  args.tokens, args.request_timeout)
                with lock:
                    results.append(out)
            except Exception as e:  # counted, reported
                with lock:
                    failures.append(repr(e))

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1, args.level_timeout - (time.time() - t0)))
    wall = time.time() - t0
    unfinished = clients * args.requests - len(results) - len(failures)
    ttfts = sorted(r[0] for r in results)

    def pct(p):
        return ttfts[min(len(ttfts) - 1, int(round(p / 100 * (len(ttfts) - 1))))] * 1000 if ttfts else float("nan")

    tokens = sum(r[1] for r in results)
    per_seq = statistics.mean(r[1] / max(r[2] - r[0], 1e-9) for r in results) if results else 0
    return {"clients": clients, "requests": len(results), "failed": len(failures) + unfinished,
            "tokens": tokens, "seconds": wall, "aggregate": tokens / wall, "per_sequence": per_seq,
            "ttft_p50": pct(50), "ttft_p99": pct(99), "errors": failures[:3]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--gpt", default=os.path.join(ROOT, ".build", "release", "gpt"))
    p.add_argument("--llama-server", default=os.path.join(CACHE, "llama.cpp", "bin", "llama-server"))
    p.add_argument("--clients", default="1,8,16")
    p.add_argument("--requests", type=int, default=3, help="requests per client at each level")
    p.add_argument("--tokens", type=int, default=64, help="tokens generated per request")
    p.add_argument("--ctx-per-seq", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--port", type=int, default=18431)
    p.add_argument("--request-timeout", type=float, default=120)
    p.add_argument("--level-timeout", type=float, default=300)
    p.add_argument("--skip-llama", action="store_true")
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args()
    kinds = ["swiftgpt"] + ([] if args.skip_llama else ["llama-server"])
    if "llama-server" in kinds and not os.path.exists(args.llama_server):
        sys.exit(f"no {args.llama_server}: run scripts/build-llama.sh, or pass --skip-llama")
    rows = []
    for kind in kinds:
        for clients in [int(c) for c in args.clients.split(",")]:
            proc, command = start(kind, args, clients, args.port)
            try:
                one_request(args.port, "Warm up.", 8, args.request_timeout)
                before = rss_mib(proc.pid)
                row = run_level(args.port, clients, args)
                row.update(server=kind, rss_before=before, rss_after=rss_mib(proc.pid), command=command)
                rows.append(row)
                print(f"{kind:12s} clients={clients:2d}  {row['aggregate']:7.1f} t/s aggregate  "
                      f"{row['per_sequence']:6.1f} t/s per sequence  ttft p50 {row['ttft_p50']:6.0f} ms "
                      f"p99 {row['ttft_p99']:6.0f} ms  failed {row['failed']}  "
                      f"rss {row['rss_before']:.0f} -> {row['rss_after']:.0f} MiB", file=sys.stderr)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    print("| server | clients | requests | failed | aggregate t/s | per-sequence t/s | TTFT p50 ms | TTFT p99 ms "
          "| RSS before MiB | RSS after MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['server']} | {r['clients']} | {r['requests']} | {r['failed']} | {r['aggregate']:.1f} | "
              f"{r['per_sequence']:.1f} | {r['ttft_p50']:.0f} | {r['ttft_p99']:.0f} | {r['rss_before']:.0f} | "
              f"{r['rss_after']:.0f} |")
    by = {(r["server"], r["clients"]): r["aggregate"] for r in rows}
    for c in [int(c) for c in args.clients.split(",")]:
        if ("llama-server", c) in by and ("swiftgpt", c) in by:
            print(f"\nclients={c}: SwiftGPT / llama-server = {by[('swiftgpt', c)] / by[('llama-server', c)]:.2f}x")
    if ("swiftgpt", 1) in by and ("swiftgpt", 8) in by:
        print(f"SwiftGPT 8 clients / 1 client = {by[('swiftgpt', 8)] / by[('swiftgpt', 1)]:.2f}x")
    for r in rows:
        print(f"- {r['server']} x{r['clients']}: `{r['command']}`")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    sys.exit(1 if any(r["failed"] for r in rows) else 0)


if __name__ == "__main__":
    main()
