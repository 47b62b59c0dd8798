# Shell helpers for the deploy tests (sourced).

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

failures=0
pass() { echo "ok    $*"; }
fail() { echo "FAIL  $*"; failures=$((failures + 1)); }
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
# refute DESCRIPTION COMMAND...: passes when the command fails.
refute() {
  local what=$1
  shift
  if "$@"; then fail "$what"; else pass "$what"; fi
}
finish() {
  if ((failures)); then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}

# free_ports N: N distinct TCP ports on 127.0.0.1 that nothing listens on now.
free_ports() {
  local n=$1 ports=() p
  while ((${#ports[@]} < n)); do
    p=$((20000 + RANDOM % 40000))
    [[ " ${ports[*]} " == *" $p "* ]] && continue
    ss -Htln "sport = :$p" | grep -q . && continue
    ports+=("$p")
  done
  echo "${ports[@]}"
}

# "${unprivileged[@]}" CMD...: runs CMD as nobody when we are root (to prove it needs no
# privilege), as ourselves otherwise. A prefix rather than a function, so that `... &` gives the
# program's own pid (setpriv and env exec it).
unprivileged=(env)
if [ "$(id -u)" -eq 0 ]; then
  unprivileged=(setpriv --reuid=65534 --regid=65534 --clear-groups --reset-env -- env PATH="$PATH")
fi
