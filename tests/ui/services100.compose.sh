#!/bin/sh
# Writes, to stdout, the services100 suite's overlay on the shop (run.sh merges it as
# compose.override.yaml): 100 more services, svc-001 to svc-100, each one `sleep` (cheap: the
# suite measures the page, not the services).
set -eu
echo "services:"
i=1
while [ "$i" -le 100 ]; do
  name=$(printf 'svc-%03d' "$i")
  cat <<YAML
  $name:
    image: busybox
    command: ["sleep", "86400"]
    x-slipway:
      command: ["sleep", "86400"]
YAML
  i=$((i + 1))
done
