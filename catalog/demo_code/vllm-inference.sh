#!/bin/sh
# vLLM Inference: an OpenAI-compatible server for one model (PaaS Studio's code contract).
set -eu
case "$1" in
deploy)
  if ! command -v vllm >/dev/null 2>&1; then
    echo "vllm not found on this compute instance: install vLLM there (pip install vllm)" \
         "or use an instance that has it." >&2
    exit 1
  fi
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "nvidia-smi not found on this compute instance: vLLM needs NVIDIA GPUs." >&2
    exit 1
  fi
  if [ -f vllm.pid ] && kill -0 "$(cat vllm.pid)" 2>/dev/null; then
    echo "vLLM is already serving."
  else
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' > vllm.port
    python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > vllm.key
    chmod 600 vllm.key
    echo "Serving $PAAS_VAR_model on $PAAS_VAR_gpu_count GPU(s)."
    # The keys go in the environment, not on the command line, where ps would show them.
    HF_TOKEN="${PAAS_VAR_hf_token:-}" VLLM_API_KEY="$(cat vllm.key)" \
      setsid nohup vllm serve "$PAAS_VAR_model" --host 127.0.0.1 --port "$(cat vllm.port)" \
      --tensor-parallel-size "$PAAS_VAR_gpu_count" --max-model-len "$PAAS_VAR_max_model_len" \
      >vllm.log 2>&1 </dev/null &
    echo $! > vllm.pid
  fi
  echo "endpoint=http://127.0.0.1:$(cat vllm.port)/v1" >> "$PAAS_OUTPUTS"
  echo "api_key=$(cat vllm.key)" >> "$PAAS_OUTPUTS"
  ;;
status)
  if [ -f vllm.pid ] && kill -0 "$(cat vllm.pid)" 2>/dev/null; then
    echo running
  else
    [ ! -f vllm.pid ] || echo "vLLM (pid $(cat vllm.pid)) is no longer running; see vllm.log."
    echo stopped
  fi
  ;;
destroy)
  if [ -f vllm.pid ]; then kill "$(cat vllm.pid)" 2>/dev/null || true; rm -f vllm.pid; fi
  echo "vLLM stopped."
  ;;
esac
