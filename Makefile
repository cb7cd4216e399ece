# Every target builds what it needs from nothing; the venv is rebuilt only when
# pyproject.toml changes (stamp file).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test unit integration demo bench install uninstall python3-venv clean lint lint-man tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(STAMP)

test: $(STAMP) tools
	$(BIN)/python -m pytest -q tests

# The man-page linters, systemd-analyze and logrotate, from Debian, when they are missing.
# fish, zsh and bash-completion: the shells whose completion is tested.
# chromium and chromedriver: the dashboard's browser test (Selenium drives Debian's, never a download).
# nginx, redis-server and memcached: the self-daemonizing programs `start --forking` is tested with.
# sshd: the Ansible tests start one of their own on a loopback port (tests/integration/test_ansible.py).
# Installing a server package starts its service unless policy-rc.d says no (101): while apt-get
# runs, one that exits 101 is put in place if there is none, and removed after.
DEBIAN_TOOLS := mandoc:mandoc groff:groff-base systemd-analyze:systemd logrotate:logrotate \
	fish:fish zsh:zsh /usr/share/bash-completion/bash_completion:bash-completion \
	chromium:chromium chromedriver:chromium-driver \
	/usr/sbin/nginx:nginx redis-server:redis-server memcached:memcached /usr/sbin/sshd:openssh-server
POLICY_RC := /usr/sbin/policy-rc.d
tools:
	@missing=""; for t in $(DEBIAN_TOOLS); do \
	    command -v $${t%%:*} >/dev/null || [ -e $${t%%:*} ] || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing$$missing (apt-get)"; \
	    policy=""; if [ ! -e $(POLICY_RC) ] && [ -w $$(dirname $(POLICY_RC)) ]; then \
	        printf '#!/bin/sh\nexit 101\n' > $(POLICY_RC) && chmod 755 $(POLICY_RC) && policy=1; fi; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; } \
	    || echo "could not install$$missing: the tests that need them will skip"; \
	    if [ -n "$$policy" ]; then rm -f $(POLICY_RC); fi; \
	fi

lint-man: tools
	mandoc -Tlint man/daemonctl.1
	groff -man -ww -z man/daemonctl.1

# Types (mypy, strict on the package) and style (ruff); both configured in pyproject.toml.
lint: $(STAMP) lint-man
	$(BIN)/mypy src
	$(BIN)/ruff check src tests integrations

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

# daemonctl in a venv of its own under PREFIX/lib/daemonctl (as pipx does: nothing is
# installed into PYTHON itself, so Debian's externally managed Python stays untouched), a
# symlink PREFIX/bin/daemonctl, and the man page and completions under PREFIX/share, where
# man, bash-completion, zsh and fish look. PREFIX: /usr/local for root (sudo make install),
# ~/.local for anyone else.
PREFIX ?= $(if $(filter 0,$(shell id -u)),/usr/local,$(HOME)/.local)
LIBDIR := $(PREFIX)/lib/daemonctl
SHARE  := $(PREFIX)/share
SHARED_FILES := man/daemonctl.1:man/man1/daemonctl.1 \
	completions/daemonctl.bash:bash-completion/completions/daemonctl \
	completions/_daemonctl:zsh/site-functions/_daemonctl \
	completions/daemonctl.fish:fish/vendor_completions.d/daemonctl.fish

define CHECK_PREFIX
case "$(PREFIX)" in /?*) ;; *) echo "PREFIX must be an absolute path, not '$(PREFIX)'" >&2; exit 2 ;; esac
endef

install:
	@$(CHECK_PREFIX)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	    || { echo "daemonctl needs Python 3.11 or later: give PYTHON=/path/to/python3.11+" >&2; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || $(MAKE) --no-print-directory python3-venv
	$(PYTHON) -m venv --clear "$(LIBDIR)"
	"$(LIBDIR)/bin/python" -m pip install --quiet --disable-pip-version-check "$(CURDIR)"
	mkdir -p "$(PREFIX)/bin"
	ln -sfn "$(LIBDIR)/bin/daemonctl" "$(PREFIX)/bin/daemonctl"
	@for f in $(SHARED_FILES); do \
	    echo "install -m 644 -D $${f%%:*} $(SHARE)/$${f#*:}"; \
	    install -m 644 -D "$${f%%:*}" "$(SHARE)/$${f#*:}" || exit 1; done

# Debian's python3 has venv but not ensurepip without the python3-venv package.
python3-venv:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing python3-venv (apt-get), which $(PYTHON) -m venv needs"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv; \
	else echo "$(PYTHON) cannot make a venv: install Debian's python3-venv (sudo apt-get install python3-venv)" >&2; exit 1; fi
	@$(PYTHON) -c 'import ensurepip, venv' || { echo "$(PYTHON) still cannot make a venv" >&2; exit 1; }

uninstall:
	@$(CHECK_PREFIX)
	@# The command only if it is ours: never another daemonctl installed there some other way.
	if [ "$$(readlink "$(PREFIX)/bin/daemonctl")" = "$(LIBDIR)/bin/daemonctl" ]; then rm -f "$(PREFIX)/bin/daemonctl"; fi
	rm -rf "$(LIBDIR)"
	@for f in $(SHARED_FILES); do echo "rm -f $(SHARE)/$${f#*:}"; rm -f "$(SHARE)/$${f#*:}"; done

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
