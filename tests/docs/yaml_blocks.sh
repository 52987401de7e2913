#!/bin/sh
# Every ```yaml block of the user-facing docs, loaded by the binary as a user would load it:
#   sh yaml_blocks.sh SLIPWAY_BIN SOURCE_DIR [FILE.md...]   (default: README.md docs/*.md
#   but docs/architecture.md, which is for developers)
# A block is
#   - skipped when it holds a `# fragment` comment (a part of a file, not loadable alone);
#   - expected to be refused with exit code 2 when it holds `# invalid: <reason>`;
#   - a Prometheus rule file when it starts with `groups:` (loaded through
#     x-slipway.alerts.rule_files);
#   - else a compose file, given `services: {web: {command: ./web}}` when it has no
#     `services:` (as docs/reference.md says of its top-level examples).
# Each is loaded with `slipway config` in a fresh folder holding the files the examples name
# (certificates for example.com, flag files) and the variables they use; a valid block must exit
# 0 and print no warning. Exit 0 when every block did what it says, 1 otherwise.
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$2
shift 2
if [ $# -eq 0 ]; then
  set -- "$src/README.md"
  for f in "$src"/docs/*.md; do
    case $f in */architecture.md) ;; *) set -- "$@" "$f" ;; esac
  done
fi
command -v openssl >/dev/null || { echo "openssl is needed (for the examples' certificates)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-docs-yaml-XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The certificates the examples name (certs/example.pem, certs/site.pem, ...), one for all.
mkdir -p "$work/files/certs" "$work/files/rules"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -keyout "$work/files/certs/example.key" -out "$work/files/certs/example.pem" \
  -subj /CN=example.com -addext "subjectAltName=DNS:example.com,DNS:*.example.com" \
  >/dev/null 2>&1 || { echo "openssl could not make a test certificate" >&2; exit 1; }
for n in site api; do
  cp "$work/files/certs/example.pem" "$work/files/certs/$n.pem"
  cp "$work/files/certs/example.key" "$work/files/certs/$n.key"
done
printf '{"flags": {}}\n' >"$work/files/flags.json"
cp "$work/files/flags.json" "$work/files/flags.staging.json"

# Split the blocks: $work/blocks/N.yaml, and N.where = "file:line" of the opening fence. A fence
# may be indented (a block inside a list item): that indentation is taken off its lines.
mkdir -p "$work/blocks"
n=0
for doc in "$@"; do
  [ -f "$doc" ] || { echo "$doc: not found" >&2; exit 1; }
  n=$(awk -v dir="$work/blocks" -v n="$n" -v doc="${doc#"$src"/}" '
    !inblock && /^[ ]*```yaml[ ]*$/ {
      inblock = 1; n++; indent = index($0, "`") - 1
      out = dir "/" n ".yaml"; printf "" > out
      print doc ":" NR > (dir "/" n ".where"); close(dir "/" n ".where")
      next
    }
    inblock && /^[ ]*```[ ]*$/ { inblock = 0; close(out); next }
    inblock { print substr($0, 1 + (substr($0, 1, indent) ~ /^ *$/ ? indent : 0)) > out }
    END { print n }' "$doc")
done
[ "$n" -gt 0 ] || { echo "no \`\`\`yaml block found in $*" >&2; exit 1; }

fail=0 ok=0 skipped=0 refused=0
i=0
while [ "$i" -lt "$n" ]; do
  i=$((i + 1))
  block="$work/blocks/$i.yaml"
  where=$(cat "$work/blocks/$i.where")
  if grep -q '#[ ]*fragment' "$block"; then
    skipped=$((skipped + 1))
    continue
  fi
  dir="$work/p$i"
  mkdir -p "$dir"
  cp -R "$work/files/." "$dir/"
  if grep -q '^groups:' "$block"; then
    cp "$block" "$dir/rules/doc.yml"
    printf 'x-slipway:\n  alerts:\n    rule_files: [rules/doc.yml]\nservices:\n  web:\n    command: ./web\n' >"$dir/compose.yaml"
  else
    cp "$block" "$dir/compose.yaml"
    if ! grep -q '^services:' "$block"; then
      printf 'services:\n  web:\n    command: ./web\n' >>"$dir/compose.yaml"
    fi
  fi
  (cd "$dir" && env -i PATH="$PATH" HOME="$dir" FLAGS_TOKEN=0123456789abcdef \
    DATABASE_URL=sqlite:data/app.db timeout 30 "$bin" config >"$dir/out" 2>"$dir/err")
  rc=$?
  if reason=$(grep -o '#[ ]*invalid:.*' "$block"); then
    if [ "$rc" -eq 2 ] && [ -s "$dir/err" ]; then
      refused=$((refused + 1))
    else
      echo "FAIL $where: marked \"$reason\" but slipway config exited $rc (expected 2):" >&2
      sed 's/^/  /' "$dir/err" >&2
      fail=1
    fi
  elif [ "$rc" -ne 0 ]; then
    echo "FAIL $where: slipway config exited $rc:" >&2
    sed 's/^/  /' "$dir/err" "$block" >&2
    fail=1
  elif grep -qi 'warning' "$dir/err"; then
    echo "FAIL $where: loads with a warning:" >&2
    sed 's/^/  /' "$dir/err" >&2
    fail=1
  else
    ok=$((ok + 1))
  fi
done
echo "yaml blocks: $n ($ok load, $refused refused as marked, $skipped fragments)"
exit "$fail"
