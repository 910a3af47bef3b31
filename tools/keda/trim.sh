#!/usr/bin/env bash
# trim.sh <copy of KEDA's module>: cuts KEDA down to what mesh's tests run, in place. KEDA compiles every
# scaler and every external secret store into one binary (≈3,450 packages, the cloud SDKs most of them);
# mesh's ScaledObject uses the postgresql scaler with a Kubernetes Secret, so this keeps ≈1,400 and a
# cold build takes minutes instead of most of CI's budget. What stays is KEDA's code, unchanged:
#   - pkg/scalers: every *_scaler.go but postgresql's is removed, and buildScaler's switch keeps only
#     the kept scalers' cases (an unknown trigger type gets KEDA's own "no scaler found" error);
#   - files under _overlay/ replace or add theirs at the same path: the external secret stores and the
#     Azure Event Grid sink become stubs that fail with a clear error; one shared constant is kept;
#   - pkg/scalers/azure keeps what the postgresql scaler's Azure AD login needs.
# Each step checks that what it expects is there, so a new KEDA version fails here, loudly, not later.
set -euo pipefail
src=$1
here=$(cd "$(dirname "$0")" && pwd)
KEPT_SCALERS=(postgresql)
AZURE_FILES_REMOVED=(azure_app_insights azure_data_explorer azure_eventhub azure_eventhub_checkpoint
  azure_managed_prometheus_http_round_tripper azure_storage)
REPLACED=(pkg/scaling/resolver/aws_secretmanager_handler.go pkg/scaling/resolver/azure_keyvault_handler.go
  pkg/scaling/resolver/gcp_secretmanager_handler.go pkg/scaling/resolver/hashicorpvault_handler.go)

fail() { echo "tools/keda/trim.sh: $*" >&2; exit 1; }
builder=$src/pkg/scaling/scalers_builder.go
grep -q '// TRIGGERS-START' "$builder" || fail "$builder has no TRIGGERS-START marker (KEDA changed)"

kept_cases=0
for scaler in "${KEPT_SCALERS[@]}"; do
  [ -f "$src/pkg/scalers/${scaler}_scaler.go" ] || fail "no pkg/scalers/${scaler}_scaler.go"
  grep -q "^	case \"$scaler\":" "$builder" || fail "buildScaler has no case \"$scaler\""
  kept_cases=$((kept_cases + 1))
done
for file in "$src"/pkg/scalers/*_scaler.go; do
  name=$(basename "$file" _scaler.go)
  [[ " ${KEPT_SCALERS[*]} " == *" $name "* ]] || rm "$file"
done
# buildScaler's switch: the kept cases (each a case line and its return), the default, nothing else.
awk -v kept="${KEPT_SCALERS[*]}" '
  BEGIN { n = split(kept, k, " "); for (i = 1; i <= n; i++) keep["\"" k[i] "\":"] = 1 }
  /TRIGGERS-START/ { inside = 1 }
  /TRIGGERS-END/ { inside = 0 }
  inside && /^\tcase / { printing = ($2 in keep) }
  inside && /^\tdefault:/ { printing = 1 }
  inside && /^\t\/\// { next }
  !inside || printing || /^\tswitch/ || /TRIGGERS-START/ { print }
' "$builder" > "$builder.trimmed"
mv "$builder.trimmed" "$builder"
[ "$(grep -c '^	case "' "$builder")" = "$kept_cases" ] || fail "buildScaler's switch was not trimmed as expected"

for name in "${AZURE_FILES_REMOVED[@]}"; do
  [ -f "$src/pkg/scalers/azure/$name.go" ] || fail "no pkg/scalers/azure/$name.go"
  rm "$src/pkg/scalers/azure/$name.go"
done
for file in "${REPLACED[@]}" pkg/eventemitter/azure_event_grid_topic_handler.go; do
  [ -f "$src/$file" ] || fail "no $file"
  rm "$src/$file"
done
(cd "$here/_overlay" && find . -name '*.go' -print0) | while IFS= read -r -d '' file; do
  install -m 0644 "$here/_overlay/$file" "$src/$file"
done
