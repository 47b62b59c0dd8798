#!/usr/bin/env bash
# deploy/alertmanager: amtool accepts the configuration, alerts are routed by severity, and
# stack.sh's rendering (webhook URL, group_wait) stays valid.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
config=$repo/deploy/alertmanager/alertmanager.yml
command -v amtool >/dev/null || { echo "FAIL  amtool missing: install prometheus-alertmanager (scripts/setup.sh)"; exit 1; }

work=$(mktemp -d /tmp/pneumo-alertmanager-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

out=$(amtool check-config "$config" 2>&1)
check "amtool check-config alertmanager.yml" test $? -eq 0
echo "$out" | sed 's/^/    /'
route() { amtool config routes test --config.file="$config" "$@" 2>/dev/null; }
check "a critical alert goes to pneumo-oncall" test "$(route severity=critical alertname=RedisDown)" = pneumo-oncall
check "a warning goes to pneumo-team" test "$(route severity=warning alertname=PneumoServerDown)" = pneumo-team
check "an alert without severity goes to pneumo-team" test "$(route alertname=Something)" = pneumo-team
check "the receivers post to a webhook" grep -q "webhook_configs:" "$config"

PNEUMO_STACK_DIR=$work/state PNEUMO_ALERT_WEBHOOK_URL='http://127.0.0.1:9/hook?a=1&b=2' PNEUMO_ALERT_GROUP_WAIT=1s \
  "$repo/deploy/local/stack.sh" config >/dev/null
rendered=$work/state/alertmanager/alertmanager.yml
check "the rendered config is valid" amtool check-config "$rendered"
check "the rendered config posts to PNEUMO_ALERT_WEBHOOK_URL" \
  test "$(grep -c "url: 'http://127.0.0.1:9/hook?a=1&b=2'" "$rendered")" = 2
check "the rendered config waits PNEUMO_ALERT_GROUP_WAIT" grep -q '^  group_wait: 1s' "$rendered"
finish
