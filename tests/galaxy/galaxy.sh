#!/usr/bin/env bash
# A real Galaxy (26.1, from PyPI) on 127.0.0.1, offline, for the tests marked `galaxy`: it loads the tool
# suite in galaxy/ and runs the tools' own <tests> through planemo against it.
#
#   tests/galaxy/galaxy.sh install   Galaxy's and planemo's venvs, cached (a few minutes, once)
#   tests/galaxy/galaxy.sh start     write the server's config, start it, make the test user; idempotent
#   tests/galaxy/galaxy.sh stop      stop the server this script started, nothing else
#   tests/galaxy/galaxy.sh status    exit 1 unless the server answers
#   tests/galaxy/galaxy.sh logs      the tail of the server's log (shown when a Galaxy test fails)
#   tests/galaxy/galaxy.sh env       the lines to eval: GALAXY_URL, GALAXY_API_KEY, PLANEMO
#
# Galaxy's install pins every package exactly, differently from ours: it lives in venvs of its own under
# $SNAKESWEEP_GALAXY_CACHE (default ~/.cache/snakesweep/galaxy-VERSION), kept between runs. The server's
# state (config, sqlite database, datasets, log, pid) is in $SNAKESWEEP_GALAXY_DIR (default
# /tmp/snakesweep-galaxy-$UID), on port $SNAKESWEEP_GALAXY_PORT (default 18080).
#
# The tools' requirement (the `snakesweep` package) resolves through Galaxy's `galaxy_packages` resolver:
# deps/snakesweep/VERSION/env.sh puts the bin folder of $SNAKESWEEP_ENV (default: the Python environment
# of `python3` on PATH, where the project is installed) first on the job's PATH, as a server's
# administrator would for an environment installed from requirements/ (docs/galaxy.md).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
GALAXY_VERSION=26.1.2
# 26.1.2's metapackage pins certifi==2026.10.19, which PyPI no longer serves: that one pin is replaced.
CERTIFI_FIX="certifi==2026.10.19.post1"
PLANEMO_VERSION=0.75.47
CACHE=${SNAKESWEEP_GALAXY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/snakesweep/galaxy-$GALAXY_VERSION}
STATE=${SNAKESWEEP_GALAXY_DIR:-/tmp/snakesweep-galaxy-$(id -u)}
PORT=${SNAKESWEEP_GALAXY_PORT:-18080}
URL=http://127.0.0.1:$PORT
GXVENV=$CACHE/venv-galaxy
PMVENV=$CACHE/venv-planemo
BOOTSTRAP_KEY=snakesweep-local-tests-only
EMAIL=tester@example.org
PYTHON=${PYTHON:-python3}

log() { echo "galaxy.sh: $*" >&2; }

install() {
  mkdir -p "$CACHE"
  if [[ ! -x $GXVENV/bin/gunicorn || ! -f $GXVENV/.complete ]]; then
    log "installing Galaxy $GALAXY_VERSION into $GXVENV (once; a few minutes)"
    rm -rf "$GXVENV"
    "$PYTHON" -m venv "$GXVENV"
    "$GXVENV/bin/pip" install -q -U pip wheel
    "$GXVENV/bin/pip" download -q --no-deps "galaxy==$GALAXY_VERSION" -d "$CACHE/wheels"
    # The metapackage's own list of exact pins, the one unservable pin replaced; then the metapackage.
    "$GXVENV/bin/python" - "$CACHE/wheels/galaxy-$GALAXY_VERSION-py3-none-any.whl" "$CERTIFI_FIX" \
      >"$CACHE/galaxy-requirements.txt" <<'PY'
import sys, zipfile
wheel, fix = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    meta = next(z.read(n).decode() for n in z.namelist() if n.endswith(".dist-info/METADATA"))
name = fix.split("==")[0]
for line in meta.splitlines():
    if line.startswith("Requires-Dist: "):
        req = line[len("Requires-Dist: "):]
        print(fix if req.split("==")[0] == name else req)
PY
    "$GXVENV/bin/pip" install -q -r "$CACHE/galaxy-requirements.txt"
    "$GXVENV/bin/pip" install -q --no-deps "$CACHE/wheels/galaxy-$GALAXY_VERSION-py3-none-any.whl"
    touch "$GXVENV/.complete"
  fi
  if [[ ! -x $PMVENV/bin/planemo || ! -f $PMVENV/.complete ]]; then
    log "installing planemo $PLANEMO_VERSION into $PMVENV (once)"
    rm -rf "$PMVENV"
    "$PYTHON" -m venv "$PMVENV"
    "$PMVENV/bin/pip" install -q -U pip
    "$PMVENV/bin/pip" install -q "planemo==$PLANEMO_VERSION"
    touch "$PMVENV/.complete"
  fi
}

pid_of() { # the gunicorn master this script started, if it still runs
  local pid
  [[ -s $STATE/galaxy.pid ]] || return 1
  pid=$(<"$STATE/galaxy.pid")
  kill -0 "$pid" 2>/dev/null && [[ $(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null) != Z ]] && echo "$pid"
}

answers() { curl -sf -m 5 "$URL/api/version" >/dev/null; }

write_config() {
  local project_python version
  mkdir -p "$STATE/data" "$STATE/deps"
  # The tool dependency: snakesweep at the tools' version, from $SNAKESWEEP_ENV.
  project_python=${SNAKESWEEP_ENV:+$SNAKESWEEP_ENV/bin/python}
  project_python=${project_python:-$(command -v python3)}
  version=$("$project_python" -c 'import snakesweep; print(snakesweep.__version__)')
  mkdir -p "$STATE/deps/snakesweep/$version"
  cat >"$STATE/deps/snakesweep/$version/env.sh" <<ENV
# The snakesweep package as installed in $(dirname "$(dirname "$project_python")") (galaxy_packages resolver).
PATH=$(dirname "$project_python"):\$PATH
export PATH
ENV
  cat >"$STATE/tool_conf.xml" <<XML
<?xml version="1.0"?>
<toolbox monitor="false">
    <section id="snakesweep" name="snakesweep">
        <tool file="$REPO/galaxy/snakesweep_sweep.xml"/>
        <tool file="$REPO/galaxy/snakesweep_predict.xml"/>
    </section>
</toolbox>
XML
  cat >"$STATE/job_conf.yml" <<YML
runners:
  local:
    load: galaxy.jobs.runners.local:LocalJobRunner
    workers: 2
execution:
  default: local
  environments:
    local:
      runner: local
      local_slots: $(nproc)
YML
  echo '<tables/>' >"$STATE/tool_data_table_conf.xml"
  cat >"$STATE/galaxy.yml" <<YML
galaxy:
  data_dir: $STATE/data
  database_connection: sqlite:///$STATE/data/universe.sqlite?isolation_level=IMMEDIATE
  tool_config_file: $STATE/tool_conf.xml
  job_config_file: $STATE/job_conf.yml
  tool_data_table_config_path: $STATE/tool_data_table_conf.xml
  tool_dependency_dir: $STATE/deps
  dependency_resolvers:
    - type: galaxy_packages
  admin_users: $EMAIL
  bootstrap_admin_api_key: $BOOTSTRAP_KEY
  allow_user_creation: true
  require_login: false
  enable_celery_tasks: false      # no celery worker here
  conda_auto_init: false          # never download Miniconda: offline
  conda_auto_install: false
  involucro_auto_init: false      # never download involucro: offline
  enable_mulled_containers: false
  watch_tools: false
  database_auto_migrate: true
  sanitize_all_html: false        # the report's own page, with its scripts (docs/galaxy.md)
  cleanup_job: onsuccess
YML
}

config_digest() { # what the running server was started with: its config, the tools, the dependency
  cat "$STATE/galaxy.yml" "$STATE/tool_conf.xml" "$STATE/job_conf.yml" "$STATE"/deps/snakesweep/*/env.sh \
    "$REPO"/galaxy/*.xml 2>/dev/null | md5sum
}

start() {
  local before t0
  install
  before=$(config_digest)
  write_config
  if pid_of >/dev/null && answers; then
    if [[ $before == "$(config_digest)" ]]; then
      log "already running (pid $(pid_of)) at $URL"
      api_key >/dev/null
      return 0
    fi
    log "the config or the tools changed since Galaxy started: restarting it"
    stop
  fi
  : >"$STATE/galaxy.log"
  # Gravity (galaxy, galaxyctl) refuses to run as root without systemd: the gunicorn command it would run.
  (
    cd "$STATE"
    GALAXY_CONFIG_FILE="$STATE/galaxy.yml" VIRTUAL_ENV="$GXVENV" PATH="$GXVENV/bin:$PATH" \
      setsid "$GXVENV/bin/gunicorn" 'galaxy.webapps.galaxy.fast_factory:factory()' --timeout 600 \
      -k galaxy.webapps.galaxy.workers.Worker -b "127.0.0.1:$PORT" --workers=1 \
      --config python:galaxy.web_stack.gunicorn_config --preload --no-control-socket \
      >>"$STATE/galaxy.log" 2>&1 </dev/null 9>&- &
    echo $! >"$STATE/galaxy.pid"
  )
  log "started Galaxy (pid $(<"$STATE/galaxy.pid")), log $STATE/galaxy.log"
  t0=$SECONDS
  until answers; do
    if ! pid_of >/dev/null; then
      log "Galaxy exited during start-up"
      show_logs
      return 1
    fi
    if ((SECONDS - t0 > 600)); then
      log "Galaxy did not answer within 600 s"
      show_logs
      return 1
    fi
    sleep 2
  done
  log "Galaxy answers at $URL after $((SECONDS - t0)) s"
  api_key >/dev/null
}

api_key() { # the test user's API key (made once per database), printed
  local user
  if [[ -s $STATE/api_key ]]; then cat "$STATE/api_key"; return 0; fi
  user=$(curl -sf -X POST -H "x-api-key: $BOOTSTRAP_KEY" -H 'Content-Type: application/json' \
    -d "{\"username\": \"tester\", \"email\": \"$EMAIL\", \"password\": \"tester-password\"}" "$URL/api/users" \
    | "$GXVENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["id"])' || true)
  if [[ -z $user ]]; then # made before, key file lost
    user=$(curl -sf -H "x-api-key: $BOOTSTRAP_KEY" "$URL/api/users?f_email=$EMAIL" \
      | "$GXVENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
  fi
  curl -sf -X POST -H "x-api-key: $BOOTSTRAP_KEY" "$URL/api/users/$user/api_key" | tr -d '"' >"$STATE/api_key"
  cat "$STATE/api_key"
}

stop() {
  local pid i
  if pid=$(pid_of); then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do pid_of >/dev/null || break; sleep 0.2; done
    if pid_of >/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    log "stopped Galaxy (pid $pid)"
  fi
  rm -f "$STATE/galaxy.pid"
}

status() {
  if pid_of >/dev/null && answers; then echo "galaxy: running (pid $(pid_of)) at $URL"; else echo "galaxy: stopped"; return 1; fi
}

show_logs() {
  [[ -s $STATE/galaxy.log ]] || return 0
  echo "===== $STATE/galaxy.log (last 60 lines)"
  tail -n 60 "$STATE/galaxy.log"
}

case ${1:-} in
install) install ;;
start) start ;;
stop) stop ;;
status) status ;;
logs) show_logs ;;
env)
  echo "export GALAXY_URL=$URL GALAXY_API_KEY=$(api_key) PLANEMO=$PMVENV/bin/planemo GALAXY_VENV=$GXVENV"
  ;;
*)
  sed -n '2,20p' "$0" >&2
  exit 2
  ;;
esac
