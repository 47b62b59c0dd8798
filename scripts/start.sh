#!/usr/bin/env bash
# Sets up (see setup.sh), then runs pneumo's main job on its embedded defaults: the server with
# the shipped model (models/default), history in SQLite under ./pneumo-data, the web UI and API
# on http://127.0.0.1:8080/. Extra arguments go to `pneumo serve` (e.g. --listen 0.0.0.0:8080).
#
# On a store with no accounts yet (a fresh data directory), it first creates the admin account
# `admin` and prints its one-time password, once: log in with it and choose a new one. There is
# no default password anywhere; a lost one is replaced with `build/pneumo user passwd admin`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# The store `pneumo serve` will use: the same --store / --data-dir arguments, if given.
store_args=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --store | --data-dir) store_args+=("${args[i]}" "${args[i + 1]:-}"); i=$((i + 1)) ;;
    --store=* | --data-dir=*) store_args+=("${args[i]%%=*}" "${args[i]#*=}") ;;
  esac
done
if first=$(build/pneumo user add admin --role admin --only-if-no-users "${store_args[@]}"); then
  if [ -n "$first" ]; then
    password=$(printf '%s\n' "$first" | tail -n 1)
    echo "start: created the first admin account."
    echo "start:   user:               admin"
    echo "start:   one-time password:  $password"
    echo "start: log in at the web UI with it now; you will be asked to choose a new password."
  fi
else
  echo "start: could not check or create the first admin account (see above)" >&2
  exit 1
fi
exec build/pneumo serve "$@"
