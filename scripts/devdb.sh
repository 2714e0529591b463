#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers for `make run` and `make test`, and
# prints the admin URL to use on stdout (messages go to stderr).
#
#  - DATABASE_URL set: trust it, start nothing.
#  - something answers on 127.0.0.1:5432: use it.
#  - otherwise: start a private cluster from the installed binaries under
#    ./.data/pg (initdb + pg_ctl, as the postgres user when run as root), with
#    fsync off: it holds test and demo data only.
set -euo pipefail

say() { echo "devdb: $*" >&2; }
root=$(cd "$(dirname "$0")/.." && pwd)
host=127.0.0.1 port=${ONCALL_DEVDB_PORT:-5432}

if [ -n "${DATABASE_URL:-}" ]; then
	echo "$DATABASE_URL"
	exit 0
fi

bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
	[ -x "$d/pg_ctl" ] && bindir=$d && break
done
if [ -z "$bindir" ] && command -v pg_ctl >/dev/null; then bindir=$(dirname "$(command -v pg_ctl)"); fi

answers() {
	if [ -n "$bindir" ] && [ -x "$bindir/pg_isready" ]; then
		"$bindir/pg_isready" -q -h "$host" -p "$port" -t 2
	else
		(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
	fi
}

url="postgres://postgres@$host:$port/postgres?sslmode=disable"
if answers; then
	echo "$url"
	exit 0
fi

[ -n "$bindir" ] || { say "no PostgreSQL answers on $host:$port and no PostgreSQL binaries are installed (apt-get install postgresql)"; exit 1; }

data="$root/.data/pg"
as_pg=()
if [ "$(id -u)" = 0 ]; then
	as_pg=(runuser -u postgres --)
	# The cluster must be owned by postgres and reachable by it.
	if ! runuser -u postgres -- test -x "$root"; then
		data="/tmp/oncall-devdb-$(echo "$root" | md5sum | cut -c1-8)/pg"
	fi
fi
mkdir -p "$(dirname "$data")"
say "nothing answers on $host:$port: starting a private PostgreSQL ($bindir) in $data"
if [ ! -s "$data/PG_VERSION" ]; then
	mkdir -p "$data"
	[ ${#as_pg[@]} -eq 0 ] || chown -R postgres "$(dirname "$data")"
	"${as_pg[@]}" "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
"${as_pg[@]}" "$bindir/pg_ctl" -D "$data" -l "$data/../pg.log" -w -t 60 start \
	-o "-h $host -p $port -k /tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null
say "PostgreSQL is up on $host:$port (stop it with: ${as_pg[*]} $bindir/pg_ctl -D $data stop)"
echo "$url"
