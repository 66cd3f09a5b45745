# Shared by the deploy/bench-*.sh scripts (sourced, not run).
# start_gateway BIN CONFIG LOG: starts `BIN serve --config CONFIG` in the background, logging to
# LOG, sets $server to its pid and returns once 127.0.0.1:2525 accepts connections (10 s at most).
start_gateway() {
  "$1" serve --config "$2" >"$3" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/2525) 2>/dev/null && return 0
    sleep 0.1
  done
  echo "the gateway did not start listening; see $3" >&2
  return 1
}
