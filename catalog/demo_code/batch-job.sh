#!/bin/sh
# Batch Job: runs the command once, to completion, in the container image when the compute
# instance has docker (PaaS Studio's code contract; `deploy` again reports the job that ran).
set -eu
case "$1" in
deploy)
  if [ -f job.status ]; then
    echo "The job $(cat job.id) has run already (exit status $(cat job.status))."
  else
    echo "$PAAS_SERVICE-$(date +%Y%m%d-%H%M%S)" > job.id
    limit=$(( ${PAAS_VAR_max_runtime_minutes:-240} * 60 ))
    echo "Job $(cat job.id): $PAAS_VAR_command"
    if command -v nvidia-smi >/dev/null 2>&1; then nvidia-smi -L; else echo "No NVIDIA GPU on this instance; running on the CPU."; fi
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
      run() { timeout "$limit" docker run --rm "$PAAS_VAR_image" sh -c "$PAAS_VAR_command"; }
    else
      echo "No running docker on this compute instance: running the command on the instance itself."
      run() { timeout "$limit" sh -c "$PAAS_VAR_command"; }
    fi
    { run 2>&1 && echo 0 > job.status || echo $? > job.status; } | tee job.log
    echo "The job finished with exit status $(cat job.status)."
  fi
  echo "job_id=$(cat job.id)" >> "$PAAS_OUTPUTS"
  echo "logs_url=file://$PAAS_WORKDIR/job.log" >> "$PAAS_OUTPUTS"
  [ "$(cat job.status)" = 0 ]
  ;;
status)
  # The job ran to its end during deploy: stopped, or failed if its command failed.
  if [ -f job.status ] && [ "$(cat job.status)" != 0 ]; then echo failed; else echo stopped; fi
  ;;
destroy)
  rm -f job.id job.status job.log
  echo "The job's files are removed."
  ;;
esac
