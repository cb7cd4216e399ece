# Every target builds what it needs from nothing; the venv is rebuilt only when
# pyproject.toml changes (stamp file).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test unit integration demo bench install clean completions lint-man tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(STAMP)

test: $(STAMP) tools
	$(BIN)/python -m pytest -q tests

# The man-page linters, systemd-analyze and logrotate, from Debian, when they are missing.
DEBIAN_TOOLS := mandoc:mandoc groff:groff-base systemd-analyze:systemd logrotate:logrotate
tools:
	@missing=""; for t in $(DEBIAN_TOOLS); do \
	    command -v $${t%%:*} >/dev/null || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing$$missing (apt-get)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; } \
	    || echo "could not install$$missing: the tests that need them will skip"; \
	fi

lint-man: tools
	mandoc -Tlint man/daemonctl.1
	groff -man -ww -z man/daemonctl.1

# The scripts are Click's own, written by daemonctl itself: regenerate after any CLI change.
completions: $(STAMP)
	_DAEMONCTL_COMPLETE=bash_source $(BIN)/daemonctl > completions/daemonctl.bash
	_DAEMONCTL_COMPLETE=zsh_source $(BIN)/daemonctl > completions/_daemonctl
	_DAEMONCTL_COMPLETE=fish_source $(BIN)/daemonctl > completions/daemonctl.fish

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q -m integration tests/integration

# The main job end to end on a real program: an HTTP server started as a daemon,
# inspected, used, and stopped. Runs in a throw-away state directory.
define DEMO_SCRIPT
set -eu
state=$$(mktemp -d); site=$$(mktemp -d)
trap 'daemonctl --state-dir "$$state" stop -t 2 web >/dev/null 2>&1 || true; rm -rf "$$state" "$$site"' EXIT
echo '<h1>served by a daemon</h1>' > "$$site/index.html"
port=$$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dc() { echo "\$$ daemonctl $$*"; daemonctl --state-dir "$$state" "$$@"; }
dc start -n web --wait 1 -d "$$site" -- python3 -m http.server --bind 127.0.0.1 "$$port"
dc status web
python3 - "$$port" <<'PY'
import sys, time, urllib.request
for _ in range(50):
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=1).read().decode()
        break
    except OSError:
        time.sleep(0.1)
print(f"fetched http://127.0.0.1:{sys.argv[1]}/ -> {body.strip()}")
PY
dc logs -n 5 web
dc status --json web
dc stop web
dc status web || echo "(exit $$? = not running)"
endef
export DEMO_SCRIPT

demo: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" bash -c "$$DEMO_SCRIPT"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# daemonctl, its man page and completions: under ~/.local (where man, bash-completion and
# fish look), or under PREFIX when given (make install PREFIX=/usr/local, as root).
PREFIX ?=
install:
	$(PYTHON) -m pip install $(if $(PREFIX),--prefix "$(PREFIX)",--user) .

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
