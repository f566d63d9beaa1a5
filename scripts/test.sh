#!/usr/bin/env bash
# Runs every TPRCS test, with all set-up, on a fresh machine of this kind (Debian, .NET SDK 10):
# installs Chromium, PostgreSQL and Redis when missing, builds, runs all test projects, and ends
# with one line "N passed, N failed". Exit status: 0 only when everything built and passed.
set -uo pipefail
cd "$(dirname "$0")/.."

# Chromium drives the browser tests; the PostgreSQL and Redis binaries let the storage tests
# start throwaway servers of their own on loopback (no running service is needed).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/bin/redis-server ] || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} for the tests..."
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null \
    || { echo "Could not install ${missing[*]} (apt-get install ${missing[*]})."; echo "0 passed, 1 failed"; exit 1; }
fi

log=$(mktemp)
if ! dotnet build Tprcs.sln -c Release -nologo -v q -clp:ErrorsOnly; then
  echo "The build failed."
  echo "0 passed, 1 failed"
  exit 1
fi

# A hung test fails the run (with a dump) instead of stalling it.
dotnet test Tprcs.sln -c Release --no-build -nologo --blame-hang-timeout 10m --logger "console;verbosity=normal" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# dotnet test prints one summary line per test assembly: "Passed!  - Failed: 0, Passed: 24, ..."
passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
  echo "dotnet test exited with $status."
fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
  echo "No test ran."
  failed=1
fi
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
