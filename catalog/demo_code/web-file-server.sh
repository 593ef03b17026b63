#!/bin/sh
# Web File Server: serves a folder of the service over HTTP with Python's http.server
# (PaaS Studio's code contract: `deploy` starts it, or finds it running; `destroy` stops it;
# `status` says whether it still answers).
set -eu
case "$1" in
deploy)
  mkdir -p site
  if [ ! -f site/index.html ]; then
    printf '<!doctype html><title>%s</title><h1>%s</h1><p>Served by %s on %s.</p>\n' \
      "$PAAS_VAR_title" "$PAAS_VAR_title" "$PAAS_SERVICE" "$(hostname)" > site/index.html
  fi
  if [ -f server.pid ] && kill -0 "$(cat server.pid)" 2>/dev/null; then
    echo "Already serving on port $(cat server.port)."
  else
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' > server.port
    setsid nohup python3 -m http.server "$(cat server.port)" --bind 127.0.0.1 --directory site \
      >server.log 2>&1 </dev/null &
    echo $! > server.pid
    for _ in $(seq 1 50); do
      python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$(cat server.port)/')" \
        2>/dev/null && break
      sleep 0.1
    done
    echo "Serving $PAAS_WORKDIR/site on port $(cat server.port)."
  fi
  echo "url=http://127.0.0.1:$(cat server.port)/" >> "$PAAS_OUTPUTS"
  ;;
status)
  if [ -f server.pid ] && kill -0 "$(cat server.pid)" 2>/dev/null; then
    if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
      "http://127.0.0.1:$(cat server.port)/" 2>/dev/null; then
      echo running
    else
      echo "The server (pid $(cat server.pid)) does not answer on port $(cat server.port)."
      echo failed
    fi
  else
    echo stopped
  fi
  ;;
destroy)
  if [ -f server.pid ]; then kill "$(cat server.pid)" 2>/dev/null || true; rm -f server.pid; fi
  echo "The server is stopped."
  ;;
esac
