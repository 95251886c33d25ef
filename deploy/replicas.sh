#!/usr/bin/env bash
# Replicas of `gpt serve` behind nginx, on loopback only. Replicas keep no state between requests, so an ordinary
# round-robin load balancer spreads them, and when one dies nginx retries on the others (a refused connection
# means nothing ran, so POSTs are retried too).
#
#   deploy/replicas.sh            # 2 replicas: shows requests spread over both, then kills one and shows the
#                                 # survivor serving every request
#   REPLICAS=4 deploy/replicas.sh # N replicas the same way
#
# Needs nginx (Debian: `apt-get install nginx`) and a release build (`swift build -c release --product gpt`).
# Stops everything it started on exit; every request has a time limit.
set -euo pipefail
cd "$(dirname "$0")/.."

REPLICAS=${REPLICAS:-2}
BASE_PORT=${BASE_PORT:-18100}
LB_PORT=${LB_PORT:-18080}
REQUESTS=${REQUESTS:-8}
GPT=${GPT:-.build/release/gpt}
NGINX=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)
if [ -z "$NGINX" ]; then
    echo "replicas.sh: nginx is not installed; on Debian: apt-get install nginx" >&2
    exit 1
fi
[ -x "$GPT" ] || { echo "replicas.sh: no $GPT; run: swift build -c release --product gpt" >&2; exit 1; }

work=$(mktemp -d /tmp/gpt-replicas.XXXXXX)
pids=()
cleanup() {
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# 1. the replicas
upstreams=""
for i in $(seq 1 "$REPLICAS"); do
    port=$((BASE_PORT + i))
    "$GPT" serve --port "$port" --parallel 2 --ctx-per-seq 512 --threads 1 2>"$work/replica$i.log" &
    pids+=($!)
    upstreams+="        server 127.0.0.1:$port max_fails=1 fail_timeout=30s;"$'\n'
done
for i in $(seq 1 "$REPLICAS"); do
    port=$((BASE_PORT + i))
    for _ in $(seq 1 300); do
        curl -sf --max-time 1 "http://127.0.0.1:$port/health" >/dev/null && break
        sleep 0.2
    done
    curl -sf --max-time 1 "http://127.0.0.1:$port/health" >/dev/null || { echo "replica $i did not start"; cat "$work/replica$i.log"; exit 1; }
done
echo "started $REPLICAS replicas on 127.0.0.1:$((BASE_PORT + 1))..$((BASE_PORT + REPLICAS))"

# 2. nginx in front: round robin, no buffering (streams pass through), retry another replica on failure
cat > "$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $work/body;
    proxy_temp_path $work/proxy;
    upstream gpt {
$upstreams    }
    server {
        listen 127.0.0.1:$LB_PORT;
        location / {
            proxy_pass http://gpt;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;  # POSTs too: nothing ran
            add_header X-Replica \$upstream_addr always;
        }
    }
}
EOF
"$NGINX" -c "$work/nginx.conf" -p "$work"
echo "nginx on 127.0.0.1:$LB_PORT"

ask() {  # one completion through nginx; prints the HTTP status and the replica that answered it
    curl -s --max-time 60 -o "$work/body.json" -D "$work/headers" -w '%{http_code}' \
        -H 'Content-Type: application/json' "http://127.0.0.1:$LB_PORT/v1/completions" \
        -d '{"prompt": "Say hello", "max_tokens": 8, "temperature": 0}' >"$work/status" || true
    # nginx lists every replica it tried ("a, b" after a retry); the last one answered
    echo "$(cat "$work/status") $(grep -i '^x-replica:' "$work/headers" | tr -d '\r' | awk '{print $NF}')"
}

# 3. requests spread over the replicas
echo "--- $REQUESTS requests with all replicas up"
for _ in $(seq 1 "$REQUESTS"); do ask; done | tee "$work/round1" | sort | uniq -c
served=$(awk '$1 == 200 {print $2}' "$work/round1" | sort -u | wc -l)
[ "$served" -eq "$REPLICAS" ] || { echo "FAIL: only $served of $REPLICAS replicas answered"; exit 1; }

# 4. kill one replica: the rest serve everything
kill -9 "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
echo "--- killed replica 1 (127.0.0.1:$((BASE_PORT + 1))); $REQUESTS more requests"
for _ in $(seq 1 "$REQUESTS"); do ask; done | tee "$work/round2" | sort | uniq -c
failed=$(awk '$1 != 200' "$work/round2" | wc -l)
[ "$failed" -eq 0 ] || { echo "FAIL: $failed requests failed after the kill"; exit 1; }
echo "OK: requests were spread over $REPLICAS replicas, and the survivors answered all $REQUESTS after one was killed"
