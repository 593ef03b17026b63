#!/bin/sh
# Jupyter Notebook: JupyterLab on the compute instance, behind a token (PaaS Studio's code
# contract: `deploy` starts it, or finds it running; `destroy` stops it; `status` says whether
# it still runs).
set -eu
case "$1" in
deploy)
  if ! command -v jupyter-lab >/dev/null 2>&1; then
    echo "jupyter-lab not found on this compute instance: install JupyterLab there" \
         "(pip install jupyterlab) or use an instance that has it." >&2
    exit 1
  fi
  if [ -f lab.pid ] && kill -0 "$(cat lab.pid)" 2>/dev/null; then
    echo "JupyterLab is already running."
  else
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' > lab.port
    python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > lab.token
    chmod 600 lab.token
    echo "Starting JupyterLab ($PAAS_VAR_notebook_profile profile, $PAAS_VAR_gpu_count GPU(s))."
    # The token goes in the environment, not on the command line, where ps would show it.
    JUPYTER_TOKEN="$(cat lab.token)" setsid nohup jupyter-lab --no-browser --ip=127.0.0.1 \
      --port="$(cat lab.port)" --notebook-dir="$PAAS_WORKDIR" >lab.log 2>&1 </dev/null &
    echo $! > lab.pid
  fi
  echo "url=http://127.0.0.1:$(cat lab.port)/lab" >> "$PAAS_OUTPUTS"
  echo "token=$(cat lab.token)" >> "$PAAS_OUTPUTS"
  ;;
status)
  if [ -f lab.pid ] && kill -0 "$(cat lab.pid)" 2>/dev/null; then
    echo running
  else
    [ ! -f lab.pid ] || echo "JupyterLab (pid $(cat lab.pid)) is no longer running; see lab.log."
    echo stopped
  fi
  ;;
destroy)
  if [ -f lab.pid ]; then kill "$(cat lab.pid)" 2>/dev/null || true; rm -f lab.pid; fi
  echo "JupyterLab stopped."
  ;;
esac
