#!/usr/bin/env bash
# Installs what is missing, builds, and runs the service with the arguments given (default: serve).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
OMT_BUILD_DIR="$root/build" "$root/scripts/build.sh" -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [[ $# -eq 0 ]]; then set -- serve; fi
exec "$root/build/ometria-transformer" "$@"
