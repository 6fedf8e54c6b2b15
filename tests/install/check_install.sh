#!/usr/bin/env bash
# The installed layout works on its own: `cmake --install` into a fresh prefix, then the installed binary,
# moved away from the build and source trees and without OMT_MAPPINGS_DIR, loads its own mapping tables
# (it says so at start-up) and transforms an event. Usage: check_install.sh BUILD_DIR
set -euo pipefail
build_dir=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
unset OMT_MAPPINGS_DIR
bin="$work/prefix/bin/ometria-transformer"
for f in bin/ometria-transformer share/ometria-transformer/mappings/contact.json \
         share/ometria-transformer/mappings/README.md etc/ometria-transformer/config.json; do
  [[ -e "$work/prefix/$f" ]] || { echo "FAIL: $f is not installed"; exit 1; }
done

echo '{"apiKey":"k","marketingOptin":"NOT_SPECIFIED"}' > "$work/destination.json"
out=$(echo '{"type":"identify","userId":"u1","traits":{"email":"ann@example.com","listingId":"L1"}}' \
      | "$bin" transform - --destination-config "$work/destination.json")
[[ "$out" == *'"@type":"contact"'* && "$out" == *'"id":"L1"'* ]] || { echo "FAIL: transform gave: $out"; exit 1; }

# The installed tables are the ones used: break them and the installed binary must say so.
echo '{' > "$work/prefix/share/ometria-transformer/mappings/contact.json"
if err=$(echo '{}' | "$bin" transform - --destination-config "$work/destination.json" 2>&1); then
  echo "FAIL: a broken installed contact.json was not noticed"; exit 1
fi
[[ "$err" == *"$work/prefix/share/ometria-transformer/mappings"* || "$err" == *"contact.json"* ]] \
  || { echo "FAIL: the error does not name the installed tables: $err"; exit 1; }

# serve says which folder it loaded, and why that one.
cp -r "$(dirname "$0")/../../mappings/." "$work/prefix/share/ometria-transformer/mappings/"
log="$work/serve.log"
"$bin" serve --listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
kill -TERM "$pid"; wait "$pid" || true
grep -q "mappings loaded from $work/prefix/share/ometria-transformer/mappings (installed beside the binary)" "$log" \
  || { echo "FAIL: start-up log:"; cat "$log"; exit 1; }
echo "install check: 1 passed, 0 failed"
