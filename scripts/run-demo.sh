#!/usr/bin/env bash
# The main job: the daemon on the embedded default (SQLite) with demo instances — a container,
# and a VM when the VM driver can run here. Runs in the foreground; Ctrl-C stops the daemon
# (the workloads keep running, as they would after any daemon restart).
set -euo pipefail
cd "$(dirname "$0")/.."
STATE_DIR=${1:-$PWD/.tandem}
SOCKET=${2:-$STATE_DIR/tandem.sock}
export TANDEM_SOCKET=$SOCKET
tandem() { bin/tandem "$@"; }

node bin/tandem.cjs daemon --state-dir "$STATE_DIR" --socket "$SOCKET" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon' INT TERM
for _ in $(seq 1 300); do
  tandem ls >/dev/null 2>&1 && break
  kill -0 $daemon 2>/dev/null || { echo "the daemon failed to start" >&2; exit 1; }
  sleep 0.1
done

tandem image ls --json | grep -q '"name": "busybox"' || tandem image build busybox --from busybox
if ! tandem info demo >/dev/null 2>&1; then
  tandem launch busybox demo --memory 64MiB --cpus 0.5 -- \
    sh -c 'while true; do echo "demo container: $(date)"; sleep 5; done'
fi
if curl -s --unix-socket "$SOCKET" http://tandem/v1 | grep -q '"type":"vm","available":true'; then
  tandem info demo-vm >/dev/null 2>&1 || tandem launch busybox demo-vm --vm --memory 256MiB -- \
    sh -c 'while true; do echo "demo vm: $(uname -r)"; sleep 5; done'
else
  echo "(the VM driver cannot run here: no demo VM; see 'curl --unix-socket $SOCKET http://tandem/v1')"
fi
echo
tandem ls
cat <<EOF2

Tandem is running (state: $STATE_DIR, socket: $SOCKET). In another terminal:
  export TANDEM_SOCKET=$SOCKET
  bin/tandem ls; bin/tandem logs -f demo; bin/tandem exec demo -- uname -a
Ctrl-C stops the daemon; the instances keep running.
EOF2
wait $daemon
