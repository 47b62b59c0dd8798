#!/usr/bin/env bash
# Renders a template: every @NAME@ (capitals, digits, underscores) becomes the value of the
# environment variable NAME, which may span lines (an nginx server list) or be empty. A token
# whose variable is unset is an error, so a template never ships with a hole in it.
#
#   PNEUMO_WEB_ROOT=/srv/web deploy/local/render.sh deploy/nginx/pneumo.conf.template > pneumo.conf
#
# Lowercase @names (nginx named locations such as @rate_limited) are left alone.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1" ]; then
  echo "usage: render.sh TEMPLATE > OUTPUT   (replaces @NAME@ with \$NAME)" >&2
  exit 2
fi

text=$(<"$1")
missing=()
for token in $(grep -o '@[A-Z][A-Z0-9_]*@' "$1" | sort -u); do
  name=${token//@/}
  if [ -z "${!name+set}" ]; then
    missing+=("$name")
    continue
  fi
  text=${text//"$token"/"${!name}"}
done
if ((${#missing[@]})); then
  echo "render.sh: $1 needs ${missing[*]} (unset)" >&2
  exit 1
fi
printf '%s\n' "$text"
