#!/usr/bin/env bash
# Builds the Debian package (`cargo deb`) from the binary the test run built and checks it:
#   1. the contents (`dpkg-deb -c`): every path the package must install, with its mode;
#   2. the conffiles: the config and every policy profile;
#   3. lintian: no errors (overrides, each with its reason, in deploy/debian/lintian-overrides);
#   4. the unit: `systemd-analyze verify`, and `systemd-analyze security` under a threshold;
#   5. an install into a throwaway root (`dpkg -x`): `aupgate check-config` on the installed
#      config, `aupgate policy lint` on each installed profile;
#   6. the installed binary serving from the installed config and profiles (its addresses and
#      state directory moved into the throwaway root): ready on /readyz, a SIGHUP reloads, a
#      SIGTERM stops it within the unit's TimeoutStopSec, which must exceed shutdown_grace.
#
# CI builds one cargo profile (dev): the package holds that binary, stripped (`--profile dev`;
# cargo-deb 3.8.0 warns that it prefers release builds, which take RocksDB 25+ minutes here).
# Needs cargo-deb (.ci/run installs it into ~/.cache/aupgate-tools), dpkg-deb, lintian,
# systemd-analyze and curl. Run alone after `cargo build`: deploy/debian/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aupgate-target}"
export PATH="$HOME/.cache/aupgate-tools/bin:$PATH"
for tool in cargo-deb dpkg-deb lintian systemd-analyze curl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "deploy/debian/check.sh: $tool is missing (.ci/run installs it)" >&2
    exit 1
  fi
done
[ -x "$CARGO_TARGET_DIR/debug/aupgate" ] || cargo build --bin aupgate

work="$(mktemp -d)"
gateway=""
cleanup() {
  if [ -n "$gateway" ] && kill -0 "$gateway" 2>/dev/null; then
    kill -KILL "$gateway" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "deploy/debian/check.sh: FAIL: $*" >&2
  exit 1
}

echo "== building the package"
cargo deb --no-build --profile dev --output "$work/" 2>&1 | grep -v "dev profile is not supported\|To enable debug symbols" || true
deb="$(ls "$work"/aupgate_*.deb)"
echo "$deb"

echo "== contents"
dpkg-deb -c "$deb" | awk '{print $1, $6}' > "$work/contents"
cat "$work/contents"
expect() { # MODE PATH
  grep -qxF -e "$1 ./$2" "$work/contents" || fail "the package lacks $2 with mode $1"
}
expect -rwxr-xr-x usr/bin/aupgate
expect -rw-r--r-- usr/lib/systemd/system/aupgate.service
expect -rw-r--r-- usr/lib/sysusers.d/aupgate.conf
expect -rw-r----- etc/aupgate/aupgate.toml
expect -rw-r--r-- usr/share/doc/aupgate/copyright
expect -rw-r--r-- usr/share/doc/aupgate/changelog.Debian.gz
expect -rw-r--r-- usr/share/doc/aupgate/README.md
expect -rw-r--r-- usr/share/doc/aupgate/operations.md
expect -rw-r--r-- usr/share/lintian/overrides/aupgate
for profile in policies/*.toml; do
  expect -rw-r--r-- "etc/aupgate/policies/$(basename "$profile")"
done

echo "== conffiles"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles > "$work/conffiles"
cat "$work/conffiles"
grep -qxF /etc/aupgate/aupgate.toml "$work/conffiles" || fail "aupgate.toml is not a conffile"
for profile in policies/*.toml; do
  grep -qxF "/etc/aupgate/policies/$(basename "$profile")" "$work/conffiles" || fail "$profile is not a conffile"
done

echo "== lintian"
lintian_status=0
lintian --fail-on error --display-info "$deb" > "$work/lintian.log" 2>&1 || lintian_status=$?
grep -v "running with root privileges" "$work/lintian.log" || true
[ "$lintian_status" -eq 0 ] || fail "lintian reports errors (status $lintian_status)"

echo "== install into a throwaway root"
root="$work/root"
dpkg -x "$deb" "$root"
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$work" ./postinst ./prerm ./postrm
for script in postinst prerm postrm; do
  sh -n "$work/$script" || fail "$script is not valid sh"
done
unit="$root/usr/lib/systemd/system/aupgate.service"

echo "== the unit"
# verify checks that each command exists on this host: check a copy that runs the extracted
# binary (the copy differs from the unit in that path only).
mkdir "$work/unit"
sed "s#/usr/bin/aupgate#$root/usr/bin/aupgate#g" "$unit" > "$work/unit/aupgate.service"
systemd-analyze verify "$work/unit/aupgate.service" || fail "systemd-analyze verify"
systemd-analyze security --offline=yes --threshold=25 "$work/unit/aupgate.service" | tail -1 \
  || fail "the unit's exposure is above 2.5"
grep -qx "ExecStart=/usr/bin/aupgate serve --config /etc/aupgate/aupgate.toml" "$unit" \
  || fail "ExecStart does not run the installed binary on the installed config"
grep -qx "StateDirectory=aupgate" "$unit" || fail "StateDirectory"
grep -qx 'data_dir = "/var/lib/aupgate"' "$root/etc/aupgate/aupgate.toml" \
  || fail "data_dir is not the unit's StateDirectory"
grep -qx 'directory = "/etc/aupgate/policies"' "$root/etc/aupgate/aupgate.toml" \
  || fail "[policy] directory is not the installed profiles"
seconds() { # "45s" / "30s" / "2min" -> seconds
  case "$1" in
    *min) echo $(( ${1%min} * 60 )) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}
stop_timeout="$(seconds "$(sed -n 's/^TimeoutStopSec=//p' "$unit")")"
grace="$(seconds "$(sed -n 's/^shutdown_grace = "\(.*\)"$/\1/p' "$root/etc/aupgate/aupgate.toml")")"
[ "$grace" -lt "$stop_timeout" ] || fail "shutdown_grace ${grace}s is not below TimeoutStopSec ${stop_timeout}s"
echo "shutdown_grace ${grace}s < TimeoutStopSec ${stop_timeout}s"

echo "== the installed config and profiles"
"$root/usr/bin/aupgate" check-config "$root/etc/aupgate/aupgate.toml"
for profile in "$root"/etc/aupgate/policies/*.toml; do
  "$root/usr/bin/aupgate" policy lint "$profile"
done

echo "== the installed gateway serving"
# The installed config with its listeners on free loopback ports and its state in the work
# directory; everything else as installed.
state="$work/state"
mkdir "$state"
sed -e "s#\"0.0.0.0:[0-9]*\"#\"127.0.0.1:0\"#" \
    -e "s#^address = \"127.0.0.1:8025\"#address = \"127.0.0.1:0\"#" \
    -e "s#/var/lib/aupgate#$state#g" \
    -e "s#/etc/aupgate/policies#$root/etc/aupgate/policies#" \
    "$root/etc/aupgate/aupgate.toml" > "$work/serve.toml"
"$root/usr/bin/aupgate" check-config "$work/serve.toml"
"$root/usr/bin/aupgate" serve --config "$work/serve.toml" --log-json 2> "$work/serve.log" &
gateway=$!
admin=""
for _ in $(seq 1 300); do
  admin="$(grep 'admin API listening' "$work/serve.log" | grep -o '"address":"[0-9.]\+:[0-9]\+"' | grep -o '[0-9.]\+:[0-9]\+' || true)"
  [ -n "$admin" ] && break
  kill -0 "$gateway" 2>/dev/null || { cat "$work/serve.log"; fail "the gateway exited at start"; }
  sleep 0.1
done
[ -n "$admin" ] || { cat "$work/serve.log"; fail "no admin listener in the log"; }
ready=""
for _ in $(seq 1 100); do
  ready="$(curl -fsS "http://$admin/readyz" 2>/dev/null || true)"
  [ "$ready" = ok ] && break
  sleep 0.1
done
[ "$ready" = ok ] || fail "/readyz answered '$ready'"
echo "/readyz: $ready"
kill -HUP "$gateway"
for _ in $(seq 1 100); do
  grep -q "policy profiles and DKIM keys reloaded" "$work/serve.log" && break
  sleep 0.1
done
grep -q "policy profiles and DKIM keys reloaded" "$work/serve.log" || fail "SIGHUP did not reload"
kill -0 "$gateway" || fail "SIGHUP stopped the gateway"
echo "SIGHUP: reloaded, still serving"
started="$(date +%s)"
kill -TERM "$gateway"
status=0
timeout "$stop_timeout" tail --pid="$gateway" -f /dev/null || fail "SIGTERM: still running after ${stop_timeout}s"
wait "$gateway" || status=$?
gateway=""
[ "$status" -eq 0 ] || { cat "$work/serve.log"; fail "SIGTERM: exit status $status"; }
grep -q '"message":"stopped"' "$work/serve.log" || fail "SIGTERM: no orderly stop in the log"
echo "SIGTERM: stopped in $(( $(date +%s) - started ))s, exit status 0"

echo "deploy/debian/check.sh: the package is fine"
