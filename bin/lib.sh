# Shared by bin/run and bin/test: install what is missing, start throwaway servers.
# Sourced, not executed. Everything it starts lives under $RUN_DIR.

# Bold only on a terminal: no escape codes in files and CI logs.
if [ -t 2 ]; then
    log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
else
    log() { printf '==> %s\n' "$*" >&2; }
fi
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# load_env_file FILE: exports each KEY=value line (no shell expansion, # comments skipped).
load_env_file() {
    local key value
    while IFS='=' read -r key value; do
        case "$key" in '' | '#'*) continue ;; esac
        export "$key=$value"
    done <"$1"
}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=""
apt_install() {
    command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
    if [ -z "$APT_UPDATED" ]; then
        log "apt-get update"
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The Pythons the project is tested on (pyproject.toml's requires-python says >=3.11).
TESTED_PYTHONS="3.11 3.12 3.13"

ensure_python() {
    PYTHON=${PYTHON:-python3}
    command -v "$PYTHON" >/dev/null || apt_install python3 python3-venv python3-pip
    "$PYTHON" -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 13), sys.version' 2>/dev/null \
        || die "$PYTHON is not Python 3.11, 3.12 or 3.13 (the versions tested with Django 5.2 LTS); set PYTHON=/path/to/python3.x"
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
}

# python_for VERSION: the path of an installed python VERSION (on PATH or under pyenv),
# or nothing.
python_for() {
    local candidate
    for candidate in "python$1" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$1".*/bin/python"$1"; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import venv' >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 0
}

# ensure_venv EXTRAS [DIR [PYTHON]]: creates DIR (.venv) with PYTHON ($PYTHON, python3)
# and installs the project with EXTRAS: "run" (none), "dev", or "dev,bench" (bin/bench:
# the peers Celery, Dramatiq and Huey too), only when pyproject.toml changed since the
# last install. A stamp file .installed-EXTRAS-HASH records each install.
ensure_venv() {
    local extras=$1 dir=${2:-.venv} python=${3:-}
    if [ -z "$python" ]; then ensure_python; python=$PYTHON; fi
    [ -x "$dir/bin/python" ] || { log "creating $dir ($("$python" --version))"; "$python" -m venv "$dir"; }
    local hash stamp wider w
    hash=$(sha1sum pyproject.toml | cut -c1-12)
    stamp="$dir/.installed-${extras//,/+}-$hash"
    # A wider install holds everything a narrower one does: run < dev < dev,bench.
    case "$extras" in
        run) wider="dev dev+bench" ;;
        dev) wider="dev+bench" ;;
        *) wider="" ;;
    esac
    for w in $wider; do [ -f "$dir/.installed-$w-$hash" ] && return 0; done
    if [ ! -f "$stamp" ]; then
        log "installing the project into $dir ($extras)"
        "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
        if [ "$extras" = run ]; then
            "$dir/bin/python" -m pip install -q --disable-pip-version-check -e .
        else
            "$dir/bin/python" -m pip install -q --disable-pip-version-check -e ".[$extras]"
        fi
        rm -f "$dir"/.installed-"${extras//,/+}"-*
        touch "$stamp"
    fi
}

ensure_redis_server() {
    command -v redis-server >/dev/null || apt_install redis-server redis-tools
    command -v redis-cli >/dev/null || apt_install redis-tools
    # The failover test runs real sentinels.
    command -v redis-sentinel >/dev/null || apt_install redis-sentinel
}

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

ensure_postgresql() {
    [ -n "$(pg_bindir)" ] && [ -x "$(pg_bindir)/initdb" ] || apt_install postgresql
    [ -x "$(pg_bindir)/initdb" ] || die "PostgreSQL's initdb not found under /usr/lib/postgresql after installing it"
}

free_port() { "${PYTHON:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_redis PORT DIR [extra redis-server args...]
start_redis() {
    local port=$1 dir=$2; shift 2
    mkdir -p "$dir"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize yes \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@" >/dev/null
    for _ in $(seq 50); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "redis-server did not answer on 127.0.0.1:$port (see $dir/redis.log)"
}

stop_redis() {
    local port=$1 dir=$2
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
}

# PostgreSQL refuses to run as root: run its tools as the postgres system user then.
pg_as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# start_postgres PORT DIR: a throwaway cluster tuned for tests (no fsync), trust auth on
# loopback, database "bookstore" owned by role "bookstore".
start_postgres() {
    local port=$1 dir=$2 bin
    bin=$(pg_bindir)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    pg_as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
        || die "initdb failed (see $dir/initdb.log)"
    pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
        -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        >/dev/null || die "PostgreSQL did not start (see $dir/postgres.log)"
    "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -c "CREATE ROLE bookstore LOGIN SUPERUSER" -c "CREATE DATABASE bookstore OWNER bookstore" >/dev/null
}

stop_postgres() {
    local dir=$1
    [ -d "$dir/data" ] && pg_as_owner "$(pg_bindir)/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
}
