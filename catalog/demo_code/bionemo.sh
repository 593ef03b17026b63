#!/bin/sh
# NVIDIA BioNeMo: the BioNeMo framework container with JupyterLab (PaaS Studio's code contract).
set -eu
IMAGE=nvcr.io/nvidia/clara/bionemo-framework:2.6
case "$1" in
deploy)
  if ! command -v docker >/dev/null 2>&1; then
    echo "docker not found on this compute instance: BioNeMo runs in NVIDIA's container" \
         "($IMAGE)." >&2
    exit 1
  fi
  if ! docker info >/dev/null 2>&1; then
    echo "docker is not running on this compute instance (or this user may not use it):" \
         "BioNeMo runs in NVIDIA's container ($IMAGE)." >&2
    exit 1
  fi
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "nvidia-smi not found on this compute instance: BioNeMo needs NVIDIA GPUs." >&2
    exit 1
  fi
  if [ -z "${PAAS_VAR_ngc_api_key:-}" ]; then
    echo "No NGC API key: set one to pull $IMAGE." >&2
    exit 1
  fi
  echo "$PAAS_VAR_ngc_api_key" | docker login nvcr.io --username '$oauthtoken' --password-stdin
  python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > lab.token
  docker rm -f "paas-$PAAS_SERVICE" >/dev/null 2>&1 || true
  # -e JUPYTER_TOKEN passes the token from this environment: it is on no command line.
  JUPYTER_TOKEN="$(cat lab.token)" docker run -d --name "paas-$PAAS_SERVICE" \
    --gpus "$PAAS_VAR_gpu_count" -p 127.0.0.1::8888 -e JUPYTER_TOKEN \
    -e BIONEMO_MODEL="$PAAS_VAR_model" "$IMAGE" jupyter lab --ip=0.0.0.0 --no-browser
  port=$(docker port "paas-$PAAS_SERVICE" 8888 | head -n 1 | sed 's/.*://')
  echo "url=http://127.0.0.1:$port/lab" >> "$PAAS_OUTPUTS"
  echo "token=$(cat lab.token)" >> "$PAAS_OUTPUTS"
  ;;
status)
  state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "paas-$PAAS_SERVICE" \
    2>/dev/null || true)
  case "$state" in
  "running "*) echo running ;;
  "") echo stopped ;;
  "exited 0") echo "The container paas-$PAAS_SERVICE has exited."; echo stopped ;;
  *)
    echo "The container paas-$PAAS_SERVICE is ${state% *} (exit status ${state#* })."
    echo failed
    ;;
  esac
  ;;
destroy)
  if command -v docker >/dev/null 2>&1; then docker rm -f "paas-$PAAS_SERVICE" >/dev/null 2>&1 || true; fi
  echo "BioNeMo stopped."
  ;;
esac
