#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, never a system one.
#   scripts/pg-cluster.sh start DIR    initdb in DIR/data, a Unix socket in DIR
#                                      only (no TCP), a test database; prints
#                                      `export MFA_PG_...=` lines on stdout
#                                      (MFA_PG_DURABLE=1: fsync on, as in
#                                      production; default off, for speed)
#   scripts/pg-cluster.sh stop DIR     stop the server and remove DIR
#   scripts/pg-cluster.sh down DIR     stop the server, keep the data (faults)
#   scripts/pg-cluster.sh up DIR       start it again
#   scripts/pg-cluster.sh restart DIR  stop and start (fast shutdown)
# PostgreSQL refuses to run as root, so under root the server runs as the
# `postgres` OS user (DIR is handed to it).  Authentication is `trust` on a
# socket in DIR, a private directory: nobody else can reach the server.
set -euo pipefail

die() { echo "pg-cluster: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 start|stop|down|up|restart DIR"
cmd=$1
dir=$2
case "$dir" in
/*) ;;
*) dir="$(pwd)/$dir" ;;
esac
dir=${dir%/}
[ -n "$dir" ] && [ "$dir" != "/" ] || die "refusing DIR '$2'"
marker="$dir/.mfa-pg-cluster"
port=5432 # only names the socket file inside DIR
dbname=mfa_test

bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then bindir=$d; break; fi
done
if [ -z "$bindir" ] && command -v pg_ctl >/dev/null 2>&1; then
  bindir=$(dirname "$(command -v pg_ctl)")
fi
[ -n "$bindir" ] || die "PostgreSQL server binaries not found (scripts/deps.sh test installs them)"

if [ "$(id -u)" -eq 0 ]; then
  pguser=postgres
  getent passwd "$pguser" >/dev/null || die "no '$pguser' OS user to run the server as"
  as_pg() { runuser -u "$pguser" -- "$@"; }
else
  pguser=$(id -un)
  as_pg() { "$@"; }
fi

pgctl() {
  as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 "$@" >/dev/null
}

# Only a directory this script made is ever stopped or removed.
owned() { [ -f "$marker" ] || die "$dir is not a cluster made by $0"; }

case "$cmd" in
start)
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
  touch "$marker"
  if [ "$pguser" = postgres ] && [ "$(id -u)" -eq 0 ]; then
    # mktemp -d gives 0700 root: the server user must own and enter it;
    # clients (root) get in anyway.
    chown "$pguser" "$dir"
    chmod 0711 "$dir"
    # every directory above DIR, / included, must be traversable by the
    # server user; from the top, so that the first one that is not is named
    above=() p=$dir
    while [ "$p" != "/" ]; do p=$(dirname "$p"); above=("$p" "${above[@]}"); done
    # A root directory that only root may enter (a chroot unpacked from a
    # 0700 temporary directory) lets no program run as another user at all;
    # Debian's own / is 0755, so give it back the search bit, and say so.
    if ! as_pg test -x / 2>/dev/null && [ "$(stat -c %u /)" = 0 ]; then
      echo "pg-cluster: / has mode $(stat -c %a /); adding o+x, as on any Debian system, so that $pguser can run" >&2
      chmod go+x /
    fi
    for p in "${above[@]}"; do
      as_pg test -x "$p" 2>/dev/null ||
        die "$p (mode $(stat -c %a "$p")) is not traversable by $pguser: the server cannot run"
    done
  fi
  as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 --no-instructions >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  # A test cluster: no TCP, the socket in DIR, small, no fsync (a host
  # crash loses it anyway) unless MFA_PG_DURABLE=1 (benchmarks that should
  # pay for durable commits as production does).  statement_timeout stays
  # the client's choice.
  durable=off
  [ "${MFA_PG_DURABLE:-0}" = 1 ] && durable=on
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$dir'
unix_socket_permissions = 0777
max_connections = 60
shared_buffers = 32MB
fsync = $durable
synchronous_commit = $durable
full_page_writes = $durable
log_min_messages = warning
CONF
  pgctl start || { cat "$dir/server.log" >&2; die "server did not start"; }
  as_pg "$bindir/createdb" -h "$dir" -p "$port" -U postgres "$dbname" ||
    die "createdb failed"
  echo "export MFA_PG_CONNINFO='host=$dir port=$port dbname=$dbname user=postgres'"
  echo "export MFA_PG_DIR='$dir'"
  echo "export MFA_PG_BIN='$bindir'"
  ;;
stop)
  owned
  if [ -f "$dir/data/postmaster.pid" ]; then
    pgctl stop -m immediate || true
  fi
  rm -rf -- "$dir"
  ;;
down)
  owned
  pgctl stop -m fast
  ;;
up)
  owned
  pgctl start
  ;;
restart)
  owned
  pgctl restart -m fast
  ;;
*)
  die "unknown command '$cmd'"
  ;;
esac
