#!/usr/bin/env bash
# Builds the container image's runtime stage on a machine without an image registry and runs
# its smoke test: serve, the image's HEALTHCHECK, one message relayed, a graceful stop.
#
# - The base: docker.io/library/debian:bookworm-slim if podman has it; otherwise a minimal
#   bookworm made with debootstrap from the Debian mirror, imported under that name.
# - The binary: the build stage of deploy/Containerfile needs the rust image and 25-40 minutes
#   of release build; here the runtime stage is built (the Containerfile's own lines, from its
#   second FROM on) around a binary built on this machine (AUPGATE, default the dev build in
#   $CARGO_TARGET_DIR), stripped.
# - The run: the image's config with a tenant for loopback and smarthost relay to an
#   `smtp-sink` on the host (host network: nothing else may listen on 2525, 2587, 2465, 8025).
# - The Kubernetes pod, as far as it goes without a cluster: the StatefulSet's init script run in
#   the image on the ConfigMap and the Secret of deploy/kubernetes/ (placeholders replaced, a DKIM
#   key added), then the gateway on the config it wrote: ready, the key loaded, and a backup made
#   with the Secret's admin token, as `kubectl exec` would.
#
# Needs root, podman with runc, debootstrap, smtp-sink (postfix), swaks, openssl and python3 with
# PyYAML. Not part of .ci/run (a container runtime inside CI is not a given).
# Usage: deploy/container/smoke.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aupgate-target}"
binary="${AUPGATE:-$CARGO_TARGET_DIR/debug/aupgate}"
base=docker.io/library/debian:bookworm-slim
image=localhost/aupgate:smoke
name=aupgate-smoke
# This machine's crun refuses its hybrid cgroups and may not raise RLIMIT_NOFILE: runc, and
# limits below the hard ones.
podman=(podman --runtime runc)
limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

for tool in podman runc debootstrap smtp-sink swaks openssl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "smoke.sh: $tool is missing" >&2; exit 1; }
done
[ -x "$binary" ] || { echo "smoke.sh: no binary at $binary (cargo build, or AUPGATE=...)" >&2; exit 1; }
for port in 2525 2587 2465 8025; do
  if ss -ltnH "sport = :$port" | grep -q .; then
    echo "smoke.sh: port $port is taken on this host" >&2
    exit 1
  fi
done

work="$(mktemp -d)"
sink_pid=""
cleanup() {
  "${podman[@]}" rm -f "$name" >/dev/null 2>&1 || true
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "smoke.sh: FAIL: $*" >&2
  "${podman[@]}" logs "$name" 2>&1 | tail -20 >&2 || true
  exit 1
}

if ! "${podman[@]}" image exists "$base"; then
  echo "== $base: debootstrap (minbase bookworm) and import"
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null
  tar -C "$work/rootfs" -c . | "${podman[@]}" import - "$base" >/dev/null
  rm -rf "$work/rootfs"
fi

echo "== the runtime stage of deploy/Containerfile"
context="$work/context"
mkdir -p "$context/deploy/container" "$context/policies"
cp "$binary" "$context/aupgate"
strip "$context/aupgate"
cp deploy/container/aupgate.toml "$context/deploy/container/"
cp policies/*.toml "$context/policies/"
sed -n "\#^FROM $base#,\$p" deploy/Containerfile \
  | sed 's#^COPY --from=build /src/target/release/aupgate /usr/bin/aupgate#COPY aupgate /usr/bin/aupgate#' \
  > "$context/Containerfile"
grep -q '^COPY aupgate /usr/bin/aupgate$' "$context/Containerfile" || fail "the runtime stage's COPY of the binary changed"
"${podman[@]}" build --format docker --pull=never --network host "${limits[@]}" \
  -t "$image" -f "$context/Containerfile" "$context" | tail -1

echo "== run: the image's config, a loopback tenant, relay to smtp-sink"
mkdir "$work/sink"
smtp-sink -u root -d "$work/sink/%M." 127.0.0.1:12526 16 &
sink_pid=$!
sed -e 's/^mode = "mx"$/mode = "smarthost"\nsmarthost = { host = "127.0.0.1", port = 12526 }/' \
  deploy/container/aupgate.toml > "$work/smoke.toml"
cat >> "$work/smoke.toml" <<'EOF'

[[tenant]]
id = "smoke"
name = "Smoke test"
networks = ["127.0.0.0/8"]
domains = ["smoke.example"]
EOF
grep -q 'mode = "smarthost"' "$work/smoke.toml" || fail "could not point the relay at the sink"
"${podman[@]}" run -d --name "$name" --network host "${limits[@]}" \
  -v "$work/smoke.toml:/etc/aupgate/aupgate.toml:ro" "$image" >/dev/null
for _ in $(seq 1 100); do
  "${podman[@]}" healthcheck run "$name" >/dev/null 2>&1 && break
  sleep 0.2
done
"${podman[@]}" healthcheck run "$name" >/dev/null 2>&1 || fail "the HEALTHCHECK never passed"
echo "HEALTHCHECK: healthy"
[ "$("${podman[@]}" exec "$name" id -u)" != 0 ] || fail "the gateway runs as root"

swaks --server 127.0.0.1:2525 --from sender@smoke.example --to someone@dest.example \
  --header "Subject: aupgate container smoke test" --body "one message" > "$work/swaks.log" 2>&1 \
  || { cat "$work/swaks.log"; fail "the message was not accepted"; }
grep -q '<[-~]  250 2.0.0' "$work/swaks.log" || { cat "$work/swaks.log"; fail "no 250 after DATA"; }
grep '<[-~]  250 2.0.0' "$work/swaks.log"
for _ in $(seq 1 100); do
  grep -rqs "Subject: aupgate container smoke test" "$work/sink" && break
  sleep 0.1
done
grep -rqs "Subject: aupgate container smoke test" "$work/sink" || fail "the sink never got the message"
echo "relayed: the sink has the message"

started="$(date +%s)"
"${podman[@]}" stop -t 45 "$name" >/dev/null
status="$("${podman[@]}" inspect "$name" --format '{{.State.ExitCode}}')"
[ "$status" = 0 ] || fail "exit status $status after SIGTERM"
"${podman[@]}" logs "$name" 2>&1 | grep -q "stopped" || fail "no orderly stop in the log"
echo "SIGTERM: stopped in $(( $(date +%s) - started ))s, exit status 0"
"${podman[@]}" rm "$name" >/dev/null

echo "== the Kubernetes pod: init script, then the gateway on the config it wrote"
pod="$work/pod"
mkdir -p "$pod/base" "$pod/secret" "$pod/run" "$pod/data" "$pod/keys"
token="$(openssl rand -hex 32)"
"$binary" dkim generate smoke.example --selector s1 --algorithm ed25519 \
  --config <(printf '[server]\ndata_dir = "%s"\n' "$pod/keys") > /dev/null
cp "$pod/keys/dkim/smoke.example/s1.pem" "$pod/secret/dkim_smoke.example_s1.pem"
TOKEN="$token" TOKEN_SHA="$(printf %s "$token" | sha256sum | cut -d' ' -f1)" \
TRACE_KEY="$(openssl rand -base64 32)" POD="$pod" python3 - <<'PY'
import os, yaml
pod = os.environ["POD"]
docs = {}
for name in ["configmap", "secret", "statefulset"]:
    for doc in yaml.safe_load_all(open(f"deploy/kubernetes/{name}.yaml")):
        docs[doc["kind"]] = doc
open(f"{pod}/base/aupgate.toml", "w").write(docs["ConfigMap"]["data"]["aupgate.toml"])
secret = docs["Secret"]["stringData"]
open(f"{pod}/secret/secrets.toml", "w").write(
    secret["secrets.toml"]
    .replace("REPLACE-with-sha256-of-admin-token", os.environ["TOKEN_SHA"])
    .replace("REPLACE-with-openssl-rand-base64-32", os.environ["TRACE_KEY"]))
spec = docs["StatefulSet"]["spec"]["template"]["spec"]
open(f"{pod}/init.sh", "w").write(spec["initContainers"][0]["command"][2])
open(f"{pod}/args", "w").write(" ".join(spec["containers"][0]["args"]) + "\n")
PY
chown -R 10025:10025 "$pod/run" "$pod/data"
chmod 0440 "$pod/secret/"*
chgrp 10025 "$pod/secret/"*
mounts=(-v "$pod/base:/etc/aupgate/base:ro" -v "$pod/secret:/etc/aupgate/secret:ro"
        -v "$pod/run:/run/aupgate" -v "$pod/data:/var/lib/aupgate")
"${podman[@]}" run --rm --network host "${limits[@]}" "${mounts[@]}" -v "$pod/init.sh:/init.sh:ro" \
  --entrypoint /bin/sh "$image" /init.sh || fail "the init script failed"
[ "$(stat -c %a "$pod/data/dkim/smoke.example/s1.pem")" = 600 ] || fail "the DKIM key is not installed 0600"
echo "init: config checked, DKIM key installed"
read -r -a args < "$pod/args"
"${podman[@]}" run -d --name "$name" --network host "${limits[@]}" "${mounts[@]}" \
  -e AUPGATE_TOKEN="$token" "$image" "${args[@]}" >/dev/null
for _ in $(seq 1 100); do
  [ "$(curl -fsS http://127.0.0.1:8025/readyz 2>/dev/null)" = ok ] && break
  sleep 0.2
done
[ "$(curl -fsS http://127.0.0.1:8025/readyz 2>/dev/null)" = ok ] || fail "/readyz on the pod's admin port"
"${podman[@]}" logs "$name" 2>&1 | grep -q '"keys":1' || fail "the DKIM key was not loaded"
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8025/api/v1/tenants)" = 401 ] \
  || fail "the API answers without a token"
"${podman[@]}" exec "$name" aupgate admin backup pod-smoke > "$work/backup.log" \
  || { cat "$work/backup.log"; fail "aupgate admin backup with the Secret's token"; }
head -1 "$work/backup.log"
[ -f "$pod/data/backups/pod-smoke/store/CURRENT" ] || fail "no store checkpoint on the volume"
"${podman[@]}" stop -t 45 "$name" >/dev/null
echo "pod: ready, DKIM key loaded, API closed without a token, backup on the volume"
echo "smoke.sh: the image serves"
