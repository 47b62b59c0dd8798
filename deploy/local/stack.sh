#!/usr/bin/env bash
# The whole pneumo system on one machine, as ordinary processes of the user who runs it:
#
#   deploy/local/stack.sh up        # start what is not running; returns when everything answers
#   deploy/local/stack.sh status    # each component, its pid, whether it answers
#   deploy/local/stack.sh down      # stop everything it started (data stays)
#   deploy/local/stack.sh config    # only write the rendered configuration files
#   deploy/local/stack.sh token     # a bearer token of the stack's admin (last line of stdout)
#
# Components: Redis (password, appendonly) on 127.0.0.1:6380; two `pneumo serve` sharing it on
# :8081 and :8082; nginx with TLS on :8443 (self-signed certificate) and a redirect on :8088,
# stub_status on :8089; Prometheus on :9090 with deploy/prometheus's rules; Alertmanager :9093;
# exporters: node :9100, Redis :9121, nginx :9113, blackbox (readiness probes) :9115.
#
# Everything lives under the state folder, PNEUMO_STACK_DIR (default ./pneumo-stack): configs,
# data (Redis, Prometheus, Alertmanager survive down/up), logs/NAME.log, run/NAME.pid. The
# Redis password and the certificate are made on the first run and kept there; the servers read
# the password from redis/password (--store-password-file), so ps does not show it.
#
# Accounts: the first up creates the admin `stack-admin` in Redis and keeps its one-time password
# in STATE/admin/one-time-password (the first web login asks for a new one). `token` prints an API
# token of that admin, made once and kept in STATE/admin/token while it stays active.
#
# Settings (environment; the first `up` saves them in STATE/stack.env, later runs reuse them):
#   PNEUMO_REDIS_PORT PNEUMO_SERVER1_PORT PNEUMO_SERVER2_PORT PNEUMO_HTTPS_PORT PNEUMO_HTTP_PORT
#   PNEUMO_NGINX_STATUS_PORT PNEUMO_PROMETHEUS_PORT PNEUMO_ALERTMANAGER_PORT
#   PNEUMO_NODE_EXPORTER_PORT PNEUMO_REDIS_EXPORTER_PORT PNEUMO_NGINX_EXPORTER_PORT
#   PNEUMO_BLACKBOX_PORT       ports, defaults as above
#   PNEUMO_TRAINER_PORT        where Prometheus looks for `pneumo train --metrics-port` (8000)
#   PNEUMO_BINARY              the pneumo binary (build/pneumo); PNEUMO_MODEL a model folder
#   PNEUMO_SERVE_ARGS          more `pneumo serve` flags, e.g. "--max-queue 64"
#   PNEUMO_SCRAPE_INTERVAL PNEUMO_EVALUATION_INTERVAL   Prometheus's, 15s
#   PNEUMO_ALERT_FOR           if set, replaces every alert's `for:` (tests use 2s)
#   PNEUMO_ALERT_WEBHOOK_URL   where Alertmanager posts (http://127.0.0.1:5001/alerts)
#   PNEUMO_ALERT_GROUP_WAIT    Alertmanager's group_wait (30s)
#   PNEUMO_UPLOAD_RATE PNEUMO_UPLOAD_BURST   nginx's upload limit per client (10r/s, 20)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
deploy=$repo/deploy

settings=(
  PNEUMO_REDIS_PORT=6380
  PNEUMO_SERVER1_PORT=8081
  PNEUMO_SERVER2_PORT=8082
  PNEUMO_HTTPS_PORT=8443
  PNEUMO_HTTP_PORT=8088
  PNEUMO_NGINX_STATUS_PORT=8089
  PNEUMO_PROMETHEUS_PORT=9090
  PNEUMO_ALERTMANAGER_PORT=9093
  PNEUMO_NODE_EXPORTER_PORT=9100
  PNEUMO_REDIS_EXPORTER_PORT=9121
  PNEUMO_NGINX_EXPORTER_PORT=9113
  PNEUMO_BLACKBOX_PORT=9115
  PNEUMO_TRAINER_PORT=8000
  PNEUMO_BINARY=$repo/build/pneumo
  PNEUMO_MODEL=
  PNEUMO_SERVE_ARGS=
  PNEUMO_SCRAPE_INTERVAL=15s
  PNEUMO_EVALUATION_INTERVAL=15s
  PNEUMO_ALERT_FOR=
  PNEUMO_ALERT_WEBHOOK_URL=http://127.0.0.1:5001/alerts
  PNEUMO_ALERT_GROUP_WAIT=30s
  PNEUMO_UPLOAD_RATE=10r/s
  PNEUMO_UPLOAD_BURST=20
)

# name | port settings (the first is the one it answers on) | program
components=(
  "redis|PNEUMO_REDIS_PORT|redis-server"
  "pneumo-1|PNEUMO_SERVER1_PORT|pneumo"
  "pneumo-2|PNEUMO_SERVER2_PORT|pneumo"
  "nginx|PNEUMO_HTTPS_PORT PNEUMO_HTTP_PORT PNEUMO_NGINX_STATUS_PORT|nginx"
  "redis-exporter|PNEUMO_REDIS_EXPORTER_PORT|prometheus-redis-exporter"
  "nginx-exporter|PNEUMO_NGINX_EXPORTER_PORT|prometheus-nginx-exporter"
  "node-exporter|PNEUMO_NODE_EXPORTER_PORT|prometheus-node-exporter"
  "blackbox-exporter|PNEUMO_BLACKBOX_PORT|prometheus-blackbox-exporter"
  "alertmanager|PNEUMO_ALERTMANAGER_PORT|prometheus-alertmanager"
  "prometheus|PNEUMO_PROMETHEUS_PORT|prometheus"
)

die() { echo "stack.sh: $*" >&2; exit 1; }
note() { echo "stack.sh: $*" >&2; }

usage() {
  sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

# --- settings --------------------------------------------------------------------------------

state_dir() {
  local dir=${PNEUMO_STACK_DIR:-./pneumo-stack}
  mkdir -p "$dir"
  STATE=$(cd "$dir" && pwd)
}

# Environment first, then what the first `up` saved, then the defaults above.
load_settings() {
  declare -gA saved=()
  if [ -f "$STATE/stack.env" ]; then
    local key value
    while IFS='=' read -r key value; do
      [[ $key =~ ^PNEUMO_[A-Z0-9_]+$ ]] && saved[$key]=$value
    done <"$STATE/stack.env"
  fi
  local kv name value
  for kv in "${settings[@]}"; do
    name=${kv%%=*}
    if [ -n "${!name+set}" ]; then value=${!name}
    elif [ -n "${saved[$name]+set}" ]; then value=${saved[$name]}
    else value=${kv#*=}
    fi
    printf -v "$name" '%s' "$value"
    export "${name?}"
  done
}

save_settings() {
  local kv name
  for kv in "${settings[@]}"; do
    name=${kv%%=*}
    printf '%s=%s\n' "$name" "${!name}"
  done >"$STATE/stack.env.tmp"
  mv "$STATE/stack.env.tmp" "$STATE/stack.env"
}

# --- processes -------------------------------------------------------------------------------

field() { local IFS='|'; local parts=($1); echo "${parts[$2]}"; }

pid_of() { [ -f "$STATE/run/$1.pid" ] && cat "$STATE/run/$1.pid" || true; }

# The file a program's process runs (links resolved: redis-server is redis-check-rdb).
program_file() {
  if [ "$1" = pneumo ]; then readlink -f "$PNEUMO_BINARY"; else readlink -f "$(command -v "$1")"; fi
}

# A process that exists and is not a zombie (a killed orphan stays one until init reaps it).
pid_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# Running: the recorded pid is alive and runs the expected program (not a recycled pid). A
# binary rebuilt since the start shows as "FILE (deleted)".
running() {
  local name=$1 program=$2 pid exe
  pid=$(pid_of "$name")
  [ -n "$pid" ] && pid_alive "$pid" || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [ "${exe% (deleted)}" = "$(program_file "$program")" ]
}

port_busy() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

port_holder() {
  ss -Htlnp "sport = :$1" 2>/dev/null | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -1 |
    sed 's/users:(("\([^"]*\)",pid=\([0-9]*\)/\1, pid \2/'
}

# Starts a program in its own session (a Ctrl-C in this terminal does not reach it), output
# appended to logs/NAME.log, pid in run/NAME.pid.
launch() {
  local name=$1
  shift
  echo "--- $(date -Is) starting: ${*//$redis_password/***}" >>"$STATE/logs/$name.log"
  (cd "$STATE" && exec setsid "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null) &
  echo $! >"$STATE/run/$name.pid"
}

# Whether a component answers on its port: a real request, not only an open socket.
answers() {
  local name=$1
  case $name in
    redis)
      REDISCLI_AUTH=$redis_password timeout 3 redis-cli -h 127.0.0.1 -p "$PNEUMO_REDIS_PORT" \
        --no-auth-warning ping 2>/dev/null | grep -q PONG ;;
    pneumo-1) curl -sf -m 3 -o /dev/null "http://127.0.0.1:$PNEUMO_SERVER1_PORT/readyz" ;;
    pneumo-2) curl -sf -m 3 -o /dev/null "http://127.0.0.1:$PNEUMO_SERVER2_PORT/readyz" ;;
    nginx) curl -skf -m 3 -o /dev/null "https://127.0.0.1:$PNEUMO_HTTPS_PORT/static/favicon.svg" ;;
    redis-exporter) curl -sf -m 3 -o /dev/null "http://127.0.0.1:$PNEUMO_REDIS_EXPORTER_PORT/metrics" ;;
    nginx-exporter) curl -sf -m 3 -o /dev/null "http://127.0.0.1:$PNEUMO_NGINX_EXPORTER_PORT/metrics" ;;
    node-exporter) curl -sf -m 3 -o /dev/null "http://127.0.0.1:$PNEUMO_NODE_EXPORTER_PORT/metrics" ;;
    blackbox-exporter) curl -sf -m 3 -o /dev/null "http://127.0.0.1:$PNEUMO_BLACKBOX_PORT/metrics" ;;
    alertmanager) curl -sf -m 3 -o /dev/null "http://127.0.0.1:$PNEUMO_ALERTMANAGER_PORT/-/ready" ;;
    prometheus) curl -sf -m 3 -o /dev/null "http://127.0.0.1:$PNEUMO_PROMETHEUS_PORT/-/ready" ;;
  esac
}

address_of() {
  case $1 in
    redis) echo "127.0.0.1:$PNEUMO_REDIS_PORT" ;;
    pneumo-1) echo "http://127.0.0.1:$PNEUMO_SERVER1_PORT/" ;;
    pneumo-2) echo "http://127.0.0.1:$PNEUMO_SERVER2_PORT/" ;;
    nginx) echo "https://127.0.0.1:$PNEUMO_HTTPS_PORT/ (http :$PNEUMO_HTTP_PORT, stub_status :$PNEUMO_NGINX_STATUS_PORT)" ;;
    redis-exporter) echo "http://127.0.0.1:$PNEUMO_REDIS_EXPORTER_PORT/metrics" ;;
    nginx-exporter) echo "http://127.0.0.1:$PNEUMO_NGINX_EXPORTER_PORT/metrics" ;;
    node-exporter) echo "http://127.0.0.1:$PNEUMO_NODE_EXPORTER_PORT/metrics" ;;
    blackbox-exporter) echo "http://127.0.0.1:$PNEUMO_BLACKBOX_PORT/" ;;
    alertmanager) echo "http://127.0.0.1:$PNEUMO_ALERTMANAGER_PORT/" ;;
    prometheus) echo "http://127.0.0.1:$PNEUMO_PROMETHEUS_PORT/" ;;
  esac
}

wait_until_answers() {
  local name=$1 program=$2 seconds=$3 i
  for ((i = 0; i < seconds * 4; i++)); do
    answers "$name" && return 0
    # Only whether the pid lives: for the first moments after launch it is still the subshell
    # (bash, then setsid) that becomes the program, so `running`'s check of the executable
    # would call a starting program dead.
    if ! pid_alive "$(pid_of "$name")"; then
      note "$name exited while starting; the end of $STATE/logs/$name.log:"
      tail -n 20 "$STATE/logs/$name.log" >&2
      return 1
    fi
    sleep 0.25
  done
  note "$name does not answer after ${seconds}s (log: $STATE/logs/$name.log)"
  return 1
}

# --- configuration ---------------------------------------------------------------------------

sed_value() { printf '%s' "$1" | sed 's/[\\/&|]/\\&/g'; }

ensure_secrets() {
  mkdir -p "$STATE/redis" "$STATE/nginx/tls"
  if [ ! -s "$STATE/redis/password" ]; then
    (umask 077 && openssl rand -hex 24 >"$STATE/redis/password")
  fi
  redis_password=$(<"$STATE/redis/password")
  if [ ! -s "$STATE/nginx/tls/cert.pem" ] || [ ! -s "$STATE/nginx/tls/key.pem" ]; then
    (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -days 825 -subj "/CN=localhost/O=pneumo local stack" \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$STATE/nginx/tls/key.pem" -out "$STATE/nginx/tls/cert.pem" 2>/dev/null) ||
      die "openssl could not make the self-signed certificate"
  fi
}

write_targets() {
  local dir=$STATE/prometheus/targets
  mkdir -p "$dir"
  t() { printf '# written by deploy/local/stack.sh\n- targets: [%s]\n%s' "$2" "${3:-}" >"$dir/$1.yml"; }
  t pneumo "\"127.0.0.1:$PNEUMO_SERVER1_PORT\", \"127.0.0.1:$PNEUMO_SERVER2_PORT\""
  t pneumo-readiness "\"127.0.0.1:$PNEUMO_SERVER1_PORT\", \"127.0.0.1:$PNEUMO_SERVER2_PORT\"" \
    "  labels:
    __blackbox: \"127.0.0.1:$PNEUMO_BLACKBOX_PORT\"
"
  t pneumo-trainer "\"127.0.0.1:$PNEUMO_TRAINER_PORT\""
  t node "\"127.0.0.1:$PNEUMO_NODE_EXPORTER_PORT\""
  t redis "\"127.0.0.1:$PNEUMO_REDIS_EXPORTER_PORT\""
  t nginx "\"127.0.0.1:$PNEUMO_NGINX_EXPORTER_PORT\""
  t blackbox "\"127.0.0.1:$PNEUMO_BLACKBOX_PORT\""
  t alertmanager "\"127.0.0.1:$PNEUMO_ALERTMANAGER_PORT\""
  t prometheus "\"127.0.0.1:$PNEUMO_PROMETHEUS_PORT\""
}

write_configs() {
  ensure_secrets
  mkdir -p "$STATE/logs" "$STATE/run" "$STATE/redis/data" "$STATE/pneumo-1" "$STATE/pneumo-2" \
    "$STATE/nginx/conf/snippets" "$STATE/nginx/logs" "$STATE/nginx/run" "$STATE/nginx/temp" \
    "$STATE/prometheus/rules" "$STATE/prometheus/data" "$STATE/alertmanager/data" \
    "$STATE/node-exporter" "$STATE/blackbox"

  # Redis: password, loopback only, every write in the append-only file before the answer
  # (appendfsync always: a 201 from pneumo survives a Redis crash). set-proc-title no keeps the
  # command line, which names this folder, as it was.
  (umask 077 && cat >"$STATE/redis/redis.conf" <<EOF
# written by deploy/local/stack.sh
bind 127.0.0.1
port $PNEUMO_REDIS_PORT
protected-mode yes
requirepass $redis_password
dir $STATE/redis/data
appendonly yes
appendfsync always
save ""
daemonize no
set-proc-title no
logfile ""
EOF
  )

  # nginx: every template rendered with this stack's ports and paths.
  local server_lines
  server_lines="  server 127.0.0.1:$PNEUMO_SERVER1_PORT max_fails=3 fail_timeout=10s;
  server 127.0.0.1:$PNEUMO_SERVER2_PORT max_fails=3 fail_timeout=10s;"
  local user_directive="# not started as root: workers run as the user who started nginx"
  [ "$(id -u)" -ne 0 ] || user_directive="user $(id -un) $(id -gn);  # started as root: every component runs as root"
  local suffix=":$PNEUMO_HTTPS_PORT"
  [ "$PNEUMO_HTTPS_PORT" != 443 ] || suffix=
  (
    export PNEUMO_UPSTREAM_SERVERS=$server_lines
    export PNEUMO_HTTP_LISTEN=127.0.0.1:$PNEUMO_HTTP_PORT
    export PNEUMO_HTTPS_LISTEN=127.0.0.1:$PNEUMO_HTTPS_PORT
    export PNEUMO_STATUS_LISTEN=127.0.0.1:$PNEUMO_NGINX_STATUS_PORT
    export PNEUMO_HTTPS_PORT_SUFFIX=$suffix
    export PNEUMO_SERVER_NAME="localhost 127.0.0.1"
    export PNEUMO_TLS_CERT=$STATE/nginx/tls/cert.pem
    export PNEUMO_TLS_KEY=$STATE/nginx/tls/key.pem
    export PNEUMO_WEB_ROOT=$repo/web
    export PNEUMO_HSTS="max-age=31536000; includeSubDomains"
    export PNEUMO_NGINX_CONF_DIR=$STATE/nginx/conf
    export PNEUMO_NGINX_LOG_DIR=$STATE/nginx/logs
    export PNEUMO_NGINX_USER_DIRECTIVE=$user_directive
    export PNEUMO_NGINX_WORKERS=auto
    render=$deploy/local/render.sh
    "$render" "$deploy/nginx/nginx.conf.template" >"$STATE/nginx/conf/nginx.conf"
    "$render" "$deploy/nginx/pneumo.conf.template" >"$STATE/nginx/conf/pneumo.conf"
    for f in "$deploy"/nginx/snippets/*.conf; do
      "$render" "$f" >"$STATE/nginx/conf/snippets/$(basename "$f")"
    done
  )

  # Prometheus: the repository's config with this stack's intervals; rules as they are, or
  # with every `for:` replaced (PNEUMO_ALERT_FOR); targets with this stack's ports.
  sed -E "s/^(  scrape_interval: )[^ ]+/\1$(sed_value "$PNEUMO_SCRAPE_INTERVAL")/;
          s/^(  evaluation_interval: )[^ ]+/\1$(sed_value "$PNEUMO_EVALUATION_INTERVAL")/" \
    "$deploy/prometheus/prometheus.yml" >"$STATE/prometheus/prometheus.yml"
  rm -f "$STATE/prometheus/rules/"*.yml
  for f in "$deploy"/prometheus/rules/*.yml; do
    if [ -n "$PNEUMO_ALERT_FOR" ]; then
      sed -E "s/^( +for: ).*/\1$(sed_value "$PNEUMO_ALERT_FOR")/" "$f" >"$STATE/prometheus/rules/$(basename "$f")"
    else
      cp "$f" "$STATE/prometheus/rules/"
    fi
  done
  write_targets
  cp "$deploy/prometheus/blackbox.yml" "$STATE/blackbox/blackbox.yml"

  sed -E "s|http://127.0.0.1:5001/alerts|$(sed_value "$PNEUMO_ALERT_WEBHOOK_URL")|g;
          s/^(  group_wait: )[^ ]+/\1$(sed_value "$PNEUMO_ALERT_GROUP_WAIT")/" \
    "$deploy/alertmanager/alertmanager.yml" >"$STATE/alertmanager/alertmanager.yml"
}

start_component() {
  local name=$1
  case $name in
    redis) launch redis redis-server "$STATE/redis/redis.conf" ;;
    pneumo-1 | pneumo-2)
      local port=$PNEUMO_SERVER1_PORT
      [ "$name" = pneumo-1 ] || port=$PNEUMO_SERVER2_PORT
      # The password from its file, not in the URL: the command line is public (ps).
      local args=(serve --config /dev/null --listen "127.0.0.1:$port" --data-dir "$STATE/$name"
        --store "redis://127.0.0.1:$PNEUMO_REDIS_PORT/0" --store-password-file "$STATE/redis/password")
      [ -z "$PNEUMO_MODEL" ] || args+=(--model "$PNEUMO_MODEL")
      # shellcheck disable=SC2206  # extra flags are words, as typed
      [ -z "$PNEUMO_SERVE_ARGS" ] || args+=($PNEUMO_SERVE_ARGS)
      launch "$name" "$PNEUMO_BINARY" "${args[@]}" ;;
    nginx)
      launch nginx nginx -p "$STATE/nginx/" -e logs/error.log -c conf/nginx.conf -g 'daemon off;' ;;
    redis-exporter)
      launch redis-exporter env REDIS_PASSWORD="$redis_password" prometheus-redis-exporter \
        -redis.addr "redis://127.0.0.1:$PNEUMO_REDIS_PORT" \
        -web.listen-address "127.0.0.1:$PNEUMO_REDIS_EXPORTER_PORT" ;;
    nginx-exporter)
      launch nginx-exporter prometheus-nginx-exporter \
        -nginx.scrape-uri "http://127.0.0.1:$PNEUMO_NGINX_STATUS_PORT/stub_status" \
        -nginx.retries 10 -nginx.retry-interval 1s \
        -web.listen-address "127.0.0.1:$PNEUMO_NGINX_EXPORTER_PORT" ;;
    node-exporter)
      launch node-exporter prometheus-node-exporter \
        --web.listen-address="127.0.0.1:$PNEUMO_NODE_EXPORTER_PORT" \
        --collector.textfile.directory="$STATE/node-exporter" ;;
    blackbox-exporter)
      launch blackbox-exporter prometheus-blackbox-exporter \
        --config.file="$STATE/blackbox/blackbox.yml" \
        --web.listen-address="127.0.0.1:$PNEUMO_BLACKBOX_PORT" ;;
    alertmanager)
      launch alertmanager prometheus-alertmanager \
        --config.file="$STATE/alertmanager/alertmanager.yml" \
        --storage.path="$STATE/alertmanager/data" \
        --web.listen-address="127.0.0.1:$PNEUMO_ALERTMANAGER_PORT" \
        --cluster.listen-address= ;;
    prometheus)
      launch prometheus prometheus \
        --config.file="$STATE/prometheus/prometheus.yml" \
        --storage.tsdb.path="$STATE/prometheus/data" \
        --storage.tsdb.retention.time=15d \
        --web.listen-address="127.0.0.1:$PNEUMO_PROMETHEUS_PORT" \
        --web.enable-lifecycle ;;
  esac
}

# --- commands --------------------------------------------------------------------------------

check_programs() {
  local missing=() c program
  for c in "${components[@]}"; do
    program=$(field "$c" 2)
    [ "$program" = pneumo ] && continue
    command -v "$program" >/dev/null || missing+=("$program")
  done
  for program in openssl curl ss redis-cli setsid; do
    command -v "$program" >/dev/null || missing+=("$program")
  done
  ((${#missing[@]} == 0)) || die "missing programs: ${missing[*]} (scripts/setup.sh installs them)"
  [ -x "$PNEUMO_BINARY" ] || die "no pneumo binary at $PNEUMO_BINARY (build it: scripts/setup.sh, or set PNEUMO_BINARY)"
}

cmd_up() {
  check_programs
  local c name ports program port var
  local to_start=()
  # A running component keeps its ports: changing a port needs a `down` first.
  for c in "${components[@]}"; do
    name=$(field "$c" 0)
    program=$(field "$c" 2)
    if running "$name" "$program"; then
      for var in $(field "$c" 1); do
        if [ -n "${saved[$var]+set}" ] && [ "${saved[$var]}" != "${!var}" ]; then
          die "$name is running with $var=${saved[$var]}; run 'stack.sh down' before changing it to ${!var}"
        fi
      done
    else
      to_start+=("$name")
    fi
  done
  # Every port of every component to start must be free, before anything starts.
  local busy=()
  for name in "${to_start[@]}"; do
    for c in "${components[@]}"; do
      [ "$(field "$c" 0)" = "$name" ] || continue
      for var in $(field "$c" 1); do
        port=${!var}
        if port_busy "$port"; then
          local holder
          holder=$(port_holder "$port")
          busy+=("port $port ($name, $var) is already in use${holder:+ by $holder}")
        fi
      done
    done
  done
  if ((${#busy[@]})); then
    printf 'stack.sh: %s\n' "${busy[@]}" >&2
    die "free those ports, or set the variables named above to free ones, then run up again"
  fi
  save_settings
  write_configs

  start_if_needed() {
    local name=$1
    [[ " ${to_start[*]} " == *" $name "* ]] || return 0
    start_component "$name"
    echo "started $name (pid $(pid_of "$name"))"
  }
  local failed=0
  start_if_needed redis
  wait_until_answers redis redis-server 30 || failed=1
  ((failed == 0)) || die "Redis did not start; nothing else was started"
  ensure_admin
  for name in pneumo-1 pneumo-2 nginx node-exporter blackbox-exporter redis-exporter alertmanager prometheus; do
    start_if_needed "$name"
  done
  wait_until_answers nginx nginx 30 || failed=1
  start_if_needed nginx-exporter
  for c in "${components[@]}"; do
    name=$(field "$c" 0)
    wait_until_answers "$name" "$(field "$c" 2)" 90 || failed=1
  done
  ((failed == 0)) || die "some components did not come up (see above); 'stack.sh status' shows which"

  cat <<EOF
pneumo stack is up (state in $STATE)
  web UI and API  https://127.0.0.1:$PNEUMO_HTTPS_PORT/   (self-signed: curl -k, or trust nginx/tls/cert.pem)
  HTTP redirect   http://127.0.0.1:$PNEUMO_HTTP_PORT/
  servers         http://127.0.0.1:$PNEUMO_SERVER1_PORT/  http://127.0.0.1:$PNEUMO_SERVER2_PORT/
  Prometheus      http://127.0.0.1:$PNEUMO_PROMETHEUS_PORT/   (alerts: /alerts, targets: /targets)
  Alertmanager    http://127.0.0.1:$PNEUMO_ALERTMANAGER_PORT/   (webhook: $PNEUMO_ALERT_WEBHOOK_URL)
  Redis           127.0.0.1:$PNEUMO_REDIS_PORT   (password: $STATE/redis/password)
  exporters       node :$PNEUMO_NODE_EXPORTER_PORT  redis :$PNEUMO_REDIS_EXPORTER_PORT  nginx :$PNEUMO_NGINX_EXPORTER_PORT  blackbox :$PNEUMO_BLACKBOX_PORT
  trainer         scraped at 127.0.0.1:$PNEUMO_TRAINER_PORT while 'pneumo train --metrics-port $PNEUMO_TRAINER_PORT' runs
  logs            $STATE/logs/<component>.log (nginx: $STATE/nginx/logs/)
  admin           stack-admin; one-time password in $STATE/admin/one-time-password (until the first login)
  API token       deploy/local/stack.sh token   (send it as "Authorization: Bearer ...")
EOF
}

# pneumo's CLI against the stack's Redis; the password from its file, never on the command line.
stack_pneumo() {
  "$PNEUMO_BINARY" "$@" --store "redis://127.0.0.1:$PNEUMO_REDIS_PORT/0" \
    --store-password-file "$STATE/redis/password"
}

# The stack's admin, made on the first up (a store that has no users yet).
ensure_admin() {
  local out
  out=$(stack_pneumo user add stack-admin --role admin --only-if-no-users) ||
    die "could not create the stack's admin account (see above)"
  [ -n "$out" ] || return 0
  mkdir -p "$STATE/admin"
  (umask 077 && printf '%s\n' "${out##*$'\n'}" >"$STATE/admin/one-time-password")
  echo "created the admin account stack-admin (one-time password in $STATE/admin/one-time-password)"
}

cmd_status() {
  local c name program pid state all=0
  printf '%-18s %-8s %-12s %s\n' COMPONENT PID STATE ADDRESS
  for c in "${components[@]}"; do
    name=$(field "$c" 0)
    program=$(field "$c" 2)
    pid=$(pid_of "$name")
    if running "$name" "$program"; then
      if answers "$name"; then state=answering; else state="not answering"; all=1; fi
    else
      pid=-
      state=stopped
      all=1
    fi
    printf '%-18s %-8s %-12s %s\n' "$name" "$pid" "$state" "$(address_of "$name")"
  done
  return $all
}

cmd_down() {
  local c name program pid i stopped=()
  for ((i = ${#components[@]} - 1; i >= 0; i--)); do
    c=${components[$i]}
    name=$(field "$c" 0)
    program=$(field "$c" 2)
    if running "$name" "$program"; then
      kill -TERM "$(pid_of "$name")" 2>/dev/null || true
      stopped+=("$name")
    fi
  done
  # Let them finish (Prometheus writes its head block, Redis its files), then insist.
  local deadline=$((SECONDS + 20))
  for name in "${stopped[@]}"; do
    pid=$(pid_of "$name")
    while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    if pid_alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      echo "stopped $name (pid $pid, killed: it did not stop within 20 s of SIGTERM)"
    else
      echo "stopped $name (pid $pid)"
    fi
  done
  rm -f "$STATE"/run/*.pid
  ((${#stopped[@]})) || echo "nothing was running"
  echo "data kept in $STATE (redis/data, prometheus/data, alertmanager/data)"
}

# A bearer token of stack-admin: the kept one while `token list` says it is active, else a new
# one (30 days), kept with mode 600.
cmd_token() {
  running redis redis-server || die "token: Redis is not running; start the stack with 'stack.sh up' first"
  local kept=$STATE/admin/token token id
  if [ -s "$kept" ]; then
    token=$(<"$kept")
    id=${token:4:16}
    if stack_pneumo token list stack-admin 2>/dev/null | grep -Eq "^$id +active "; then
      printf '%s\n' "$token"
      return 0
    fi
  fi
  token=$(stack_pneumo token create stack-admin --label "stack.sh token" --expires 30 | tail -n 1) ||
    die "token: pneumo token create failed (see above)"
  [[ $token == pnm_* ]] || die "token: pneumo token create printed no token"
  mkdir -p "$STATE/admin"
  (umask 077 && printf '%s\n' "$token" >"$kept")
  printf '%s\n' "$token"
}

[ $# -eq 1 ] || usage
case $1 in
  up | status | down | config | token)
    state_dir
    load_settings
    redis_password=
    ;;
  *) usage ;;
esac
case $1 in
  up) cmd_up ;;
  status) [ ! -f "$STATE/redis/password" ] || redis_password=$(<"$STATE/redis/password"); cmd_status ;;
  down) cmd_down ;;
  config) write_configs; echo "configuration written under $STATE" ;;
  token) cmd_token ;;
esac
