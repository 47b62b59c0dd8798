#!/usr/bin/env bash
# deploy/prometheus: the configuration and the rules pass promtool, the rules' unit tests pass,
# every alert has a test where it fires and one where it stays quiet, and what stack.sh renders
# from them (short intervals and `for:`) is valid too.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$repo/deploy/prometheus" || exit 1

work=$(mktemp -d /tmp/pneumo-prometheus-test.XXXXXX)
trap 'rm -rf "$work"' EXIT

out=$(promtool check config prometheus.yml 2>&1)
check "promtool check config prometheus.yml" test $? -eq 0
echo "$out" | sed 's/^/    /'
out=$(promtool check rules rules/*.yml 2>&1)
check "promtool check rules rules/*.yml" test $? -eq 0
echo "$out" | sed 's/^/    /'
check "the blackbox exporter accepts blackbox.yml" \
  prometheus-blackbox-exporter --config.check --config.file=blackbox.yml
out=$(promtool test rules tests/*.yml 2>&1)
check "promtool test rules tests/*.yml" test $? -eq 0
echo "$out" | grep -v '^$' | sed 's/^/    /'

# Coverage: for each alert, a test that expects it firing and one that expects it quiet.
coverage=$(awk '
  /^[[:space:]]*- alert:/ { rules[$3] = 1 }
  /^[[:space:]]*alertname:/ { alert = $2 }
  /^[[:space:]]*exp_alerts:/ { if (alert != "") { if ($2 == "[]") quiet[alert]++; else fires[alert]++; alert = "" } }
  END { for (a in rules) printf "%s %d %d\n", a, fires[a], quiet[a] }
' rules/pneumo-alerts.yml tests/*.yml | sort)
while read -r alert fires quiet; do
  if ((fires > 0 && quiet > 0)); then
    pass "$alert: $fires firing and $quiet quiet expectations"
  else
    fail "$alert: $fires firing and $quiet quiet expectations (needs at least one of each)"
  fi
done <<<"$coverage"
unknown=$(awk '/^[[:space:]]*alertname:/ { print $2 }' tests/*.yml | sort -u |
  comm -23 - <(awk '/^[[:space:]]*- alert:/ { print $3 }' rules/pneumo-alerts.yml | sort -u))
check "the tests name no alert that the rules lack${unknown:+ ($unknown)}" test -z "$unknown"

# What the stack renders for tests: 1 s intervals, every `for:` 2 s.
PNEUMO_STACK_DIR=$work/state PNEUMO_SCRAPE_INTERVAL=1s PNEUMO_EVALUATION_INTERVAL=1s PNEUMO_ALERT_FOR=2s \
  "$repo/deploy/local/stack.sh" config >/dev/null
rendered=$work/state/prometheus
check "the rendered stack config is valid" promtool check config "$rendered/prometheus.yml"
check "the rendered config scrapes every second" grep -q '^  scrape_interval: 1s' "$rendered/prometheus.yml"
n_for=$(grep -c '^ *for: ' "$rendered/rules/pneumo-alerts.yml")
n_short=$(grep -c '^ *for: 2s$' "$rendered/rules/pneumo-alerts.yml")
check "every one of the $n_for alerts waits 2s in the rendered rules" test "$n_for" -gt 0 -a "$n_for" = "$n_short"
check "the rendered targets point at the stack's ports" grep -q '"127.0.0.1:8081", "127.0.0.1:8082"' "$rendered/targets/pneumo.yml"
finish
