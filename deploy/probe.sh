#!/bin/sh
# conn-drain probe for OpenKruiseGame serviceQualities (POSIX sh + curl, nothing else).
#
# While this game server's state (/etc/gsinfo/state, from the downward API) is PreDelete, asks
# the conn-drain admin path of EVERY gateway replica about this game server's host, starting a
# drain there when none runs. Prints "done" and exits 0 only when every replica answers, reports
# 0 active streams and has no drain of the host still running (with drain.quietSeconds a drain
# waits at zero for reconnecting players before it completes); otherwise prints one stable word
# and exits 1:
#   not-predelete   the game server is not being deleted
#   waiting         some replica still has players on this host, or its drain is still running
#   unreachable     a replica did not answer, or no replica was found (never "done" on partial data)
#   misconfigured   a required setting is missing, or a replica refused the token (401/403)
# Stable words on purpose: OKG re-runs actions whenever the probe's output changes.
#
#   probe.sh                    ask the gateway replicas' admin paths (exact, immediate)
#   probe.sh --prometheus URL   ask Prometheus instead: conn_drain_active and conn_drain_draining
#                               summed over replicas (lags by a scrape interval; needs every
#                               gateway target up; starts no drain)
#
# Settings (environment):
#   GS_HOST             this game server's host, e.g. game3.postio.example.com; or
#   GS_HOST_TEMPLATE    with POD_NAME: "game<id>.postio.example.com", <id> = POD_NAME's ordinal
#   GS_STATE_FILE       default /etc/gsinfo/state
#   GATEWAY_SERVICE     the gateway's headless Service DNS name (one address per replica)
#   GATEWAY_PORT        the gateway's HTTP port on each replica, default 80
#   GATEWAY_ADDRS       instead of DNS: space-separated host:port of every replica
#   GATEWAY_TOKEN_FILE  file holding the admin token (or GATEWAY_TOKEN)
#   ADMIN_PATH          default /.conn-drain
#   START_DRAIN         1 (default): POST a drain on a replica that has none running
#   PROBE_TIMEOUT       seconds per request, default 2
#   RESOLVE_PORT        a port the replicas refuse, used to list them (default 1; see below)
#   GATEWAY_IP_FAMILY   4 or 6: list only that family's addresses (default both)
#   PROMETHEUS_JOB      scrape job of the gateways (--prometheus), default conn-drain
set -u

STATE_FILE=${GS_STATE_FILE:-/etc/gsinfo/state}
ADMIN_PATH=${ADMIN_PATH:-/.conn-drain}
TIMEOUT=${PROBE_TIMEOUT:-2}
PORT=${GATEWAY_PORT:-80}
PROM_URL=""

say() { echo "$1"; exit "$2"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prometheus) [ $# -ge 2 ] || say misconfigured 1; PROM_URL=$2; shift 2 ;;
    --prometheus=*) PROM_URL=${1#--prometheus=}; shift ;;
    *) say misconfigured 1 ;;
  esac
done

# Not being deleted: nothing to do. A missing state file means no downward API volume.
[ -r "$STATE_FILE" ] || say not-predelete 1
read -r state < "$STATE_FILE" || state=""
[ "$state" = "PreDelete" ] || say not-predelete 1

host=${GS_HOST:-}
if [ -z "$host" ] && [ -n "${GS_HOST_TEMPLATE:-}" ] && [ -n "${POD_NAME:-}" ]; then
  ordinal=${POD_NAME##*-}
  host="${GS_HOST_TEMPLATE%%<id>*}${ordinal}${GS_HOST_TEMPLATE#*<id>}"
fi
[ -n "$host" ] || say misconfigured 1

token=${GATEWAY_TOKEN:-}
if [ -n "${GATEWAY_TOKEN_FILE:-}" ]; then
  [ -r "$GATEWAY_TOKEN_FILE" ] || say misconfigured 1
  read -r token < "$GATEWAY_TOKEN_FILE" || true
fi

# curl with the token read from stdin (-K -), so it never shows in the process list.
acurl() {
  printf 'header = "Authorization: Bearer %s"\n' "$token" |
    curl -K - -sS --connect-timeout "$TIMEOUT" --max-time "$TIMEOUT" "$@"
}

if [ -n "$PROM_URL" ]; then
  job=${PROMETHEUS_JOB:-conn-drain}
  # Players on this host over every replica, plus one per replica whose drain of it still runs
  # (a quiet period waiting for reconnects), plus one per gateway target that is down (a replica
  # Prometheus cannot see might still hold players): zero means drained.
  q="(sum(conn_drain_active{host=\"$host\"}) or vector(0)) + (sum(conn_drain_draining{host=\"$host\"}) or vector(0)) + (count(up{job=\"$job\"} == 0) or vector(0))"
  body=$(curl -sS --connect-timeout "$TIMEOUT" --max-time "$TIMEOUT" -G \
    --data-urlencode "query=$q" "$PROM_URL/api/v1/query" 2>/dev/null) || say unreachable 1
  case "$body" in *'"status":"success"'*) ;; *) say unreachable 1 ;; esac
  value=$(printf '%s' "$body" | sed -n 's/.*"value":\[[^,]*,"\([^"]*\)"\].*/\1/p')
  [ -n "$value" ] || say unreachable 1
  [ "$value" = "0" ] && say done 0
  say waiting 1
fi

# Every replica: an explicit list, or the addresses of the headless Service. curl lists every
# address it tries; connecting to a port the replicas refuse makes it try them all (curl 8
# also prints the whole answer as "IPv4: a, b"). This keeps the probe free of dig/getent.
addrs=${GATEWAY_ADDRS:-}
if [ -z "$addrs" ]; then
  [ -n "${GATEWAY_SERVICE:-}" ] || say misconfigured 1
  family=""
  case "${GATEWAY_IP_FAMILY:-}" in 4) family=-4 ;; 6) family=-6 ;; esac
  # shellcheck disable=SC2086 # $family is one flag or nothing
  trace=$(curl $family -sv --connect-timeout "$TIMEOUT" --max-time "$TIMEOUT" -o /dev/null \
    "http://$GATEWAY_SERVICE:${RESOLVE_PORT:-1}/" 2>&1)
  ips=$(printf '%s\n' "$trace" | sed -n \
    -e 's/^\* *Trying \[\{0,1\}\([0-9A-Fa-f:.]*\)\]\{0,1\}:[0-9]*\.\.\..*/\1/p' \
    -e 's/^\* IPv[46]: //p' | tr ',' '\n' | sed 's/ //g' | sort -u)
  for ip in $ips; do
    case "$ip" in
      *:*) addrs="$addrs [$ip]:$PORT" ;;
      ?*) addrs="$addrs $ip:$PORT" ;;
    esac
  done
fi
[ -n "$(printf '%s' "$addrs" | tr -d ' ')" ] || say unreachable 1

# GET or POST `$1` on a replica; prints the body. A refused token (401, 403) is a setting to fix,
# not a replica to wait for; any other failure means the replica's view is unknown.
admin() {
  out=$(acurl -w '\n%{http_code}' "$@") || say unreachable 1
  code=$(printf '%s' "$out" | tail -n 1)
  case "$code" in
    2??) printf '%s' "$out" | sed '$d' ;;
    401 | 403) say misconfigured 1 ;;
    *) say unreachable 1 ;;
  esac
}

busy=0
for addr in $addrs; do
  url="http://$addr$ADMIN_PATH"
  # In a command substitution `say` prints into the variable: pass its verdict on.
  view=$(admin "$url?host=$host") || say "$view" 1
  active=$(printf '%s' "$view" | sed -n 's/.*"active":\([0-9]*\).*/\1/p')
  [ -n "$active" ] || say unreachable 1
  drain=$(printf '%s' "$view" | sed -n 's/.*"drain":{"episode":"[^"]*","state":"\([a-z]*\)".*/\1/p')
  # Start a drain where none runs. A completed one that has players again belongs to an
  # earlier life of this game server (OKG reuses names), so it gets a new episode.
  if [ "${START_DRAIN:-1}" = "1" ] && [ "$drain" != "draining" ]; then
    if [ "$drain" != "completed" ] || [ "$active" -gt 0 ]; then
      posted=$(admin -X POST "$url/drain?host=$host") || say "$posted" 1
      # The drain as the POST left it: completed at once on a host with nobody on (no quiet
      # period), else running.
      drain=$(printf '%s' "$posted" |
        sed -n 's/.*"drain":{"host":"[^"]*","active":[0-9]*,"episode":"[^"]*","state":"\([a-z]*\)".*/\1/p')
    fi
  fi
  # Players on, or a drain still running (its quiet period waits for reconnecting players).
  [ "$active" -eq 0 ] && [ "$drain" != "draining" ] || busy=1
done

[ "$busy" -eq 0 ] && say done 0
say waiting 1
