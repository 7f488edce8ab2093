#!/usr/bin/env bash
# PostgreSQL and Redis for a cluster test on one machine: `services.sh start DIR` / `services.sh stop DIR`.
# Every start waits at most 60 s, and everything runs under DIR, on ports of its own
# (PG_PORT, default 55432; REDIS_PORT, default 56379), so nothing of the machine's is touched.
# Prints the environment a Dagster instance, the lake and the Celery workers need.
set -euo pipefail
cmd=${1:?start|stop}
dir=$(mkdir -p "${2:?DIR}" && cd "$2" && pwd)
pg_port=${PG_PORT:-55432}
redis_port=${REDIS_PORT:-56379}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$pgbin/initdb" ]] || { echo "PostgreSQL server not found (make system installs postgresql-15)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server not found (make system installs redis-server)" >&2; exit 1; }

# PostgreSQL refuses to run as root: run it as the postgres user then.
as_pg=()
if [[ $(id -u) -eq 0 ]]; then as_pg=(runuser -u postgres --); fi

# The server's folder: DIR/pg, or (as root, when the postgres user cannot reach DIR) a folder of
# its own under the temp dir, whose name DIR/pg/root keeps.
pg_root() {
  if [[ -f "$dir/pg/root" ]]; then cat "$dir/pg/root"; return; fi
  mkdir -p "$dir/pg"
  local root="$dir/pg"
  if [[ ${#as_pg[@]} -gt 0 ]]; then
    chown postgres "$dir/pg"
    if ! "${as_pg[@]}" test -w "$dir/pg"; then root=$(mktemp -d "${TMPDIR:-/tmp}/chatlab-pg.XXXXXX"); chown postgres "$root"; fi
  fi
  echo "$root" > "$dir/pg/root"
  echo "$root"
}

case "$cmd" in
start)
  mkdir -p "$dir/redis"
  pg=$(pg_root)
  if [[ ! -f "$pg/data/PG_VERSION" ]]; then
    "${as_pg[@]}" "$pgbin/initdb" -D "$pg/data" -U chatlab --auth=trust -E UTF8 >"$dir/pg/initdb.log" 2>&1 \
      || { echo "initdb failed:" >&2; cat "$dir/pg/initdb.log" >&2; exit 1; }
  fi
  if ! "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/data" status >/dev/null 2>&1; then
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w -t 60 \
      -o "-p $pg_port -k $pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null \
      || { echo "PostgreSQL did not start in 60 s:" >&2; tail -20 "$pg/server.log" >&2; exit 1; }
  fi
  for db in dagster lake; do
    "$pgbin/psql" -h 127.0.0.1 -p "$pg_port" -U chatlab -d postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1 \
      || "$pgbin/createdb" -h 127.0.0.1 -p "$pg_port" -U chatlab "$db"
  done
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 || redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --dir "$dir/redis" \
    --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" --save "" --appendonly no
  for _ in $(seq 120); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.5; done
  redis-cli -p "$redis_port" ping | grep -q PONG || { echo "redis did not answer in 60 s" >&2; exit 1; }
  cat <<ENV
export CHATLAB_DAGSTER_PG_URL=postgresql+psycopg2://chatlab@127.0.0.1:$pg_port/dagster
export CHATLAB_LAKE_CATALOG="postgres:dbname=lake host=127.0.0.1 port=$pg_port user=chatlab"
export CHATLAB_CELERY_BROKER=redis://127.0.0.1:$redis_port/0 CHATLAB_CELERY_BACKEND=redis://127.0.0.1:$redis_port/1
ENV
  ;;
stop)
  if [[ -f "$dir/redis/redis.pid" ]]; then
    kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true
    rm -f "$dir/redis/redis.pid"
  fi
  if [[ -f "$dir/pg/root" ]]; then
    pg=$(cat "$dir/pg/root")
    if [[ -f "$pg/data/postmaster.pid" ]]; then
      "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pg/data" -m fast -w -t 30 stop >/dev/null || true
    fi
    if [[ "$pg" != "$dir/pg" ]]; then rm -rf "$pg"; rm -f "$dir/pg/root"; fi
  fi
  ;;
*) echo "usage: services.sh start|stop DIR" >&2; exit 2 ;;
esac
