#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from testdata/ and from any directories given as arguments (e.g.
# the ./letro-demo/ that `letro-demo` leaves), subdirectories included. JSON documents go to the
# target their name says (`*bundle.json`, `*opening.json`, `*record.json`, `*evidence.json`, as in testdata/) or
# else their "version" member says; `*.checkpoint` files go to `checkpoint` and `note`,
# `*.add-checkpoint` to `witness`, `*.policy` to `policy`, `*.vkey` to `keys`, `*.tile` to `tile`;
# every `*.pdf` anywhere under testdata/ (and the arguments) to `pdf`; `*.r1cs`, `*.zkey` and
# `*.ptau` (testdata/ceremony/) to `ceremony`. Valid
# and invalid vectors alike: both are good seeds. The corpus directories are git-ignored;
# running this again only adds files.
set -euo pipefail
for dir in "$@"; do
  [ -d "$dir" ] || { echo "error: $dir is not a directory" >&2; exit 2; }
done
# Arguments are relative to where the script was called from.
args=()
for dir in "$@"; do
  args+=("$(cd "$dir" && pwd)")
done
cd "$(dirname "$0")"

targets=(bundle checkpoint opening record note keys directory witness policy tile evidence pdf ceremony)
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
done

# add TARGET FILE: copies FILE under its content hash (libFuzzer's own naming), so re-running
# is idempotent and same-named files from two directories do not clash.
add() {
  local sum
  sum=$(sha1sum "$2" | cut -d' ' -f1)
  cp "$2" "corpus/$1/$sum"
}

dirs=(../testdata/checkpoints ../testdata/bundles ../testdata/records ../testdata/directory ../testdata/witness ../testdata/tiles ../testdata/evidence ../testdata/ceremony ${args[@]+"${args[@]}"})
n=0
while IFS= read -r -d '' f; do
  case "$f" in
    */directory/*.json) add directory "$f" ;;
    *.checkpoint) add checkpoint "$f"; add note "$f" ;;
    *.add-checkpoint) add witness "$f" ;;
    *.policy) add policy "$f" ;;
    *.tile) add tile "$f" ;;
    *.vkey) add keys "$f" ;;
    *.r1cs | *.zkey | *.ptau) add ceremony "$f" ;;
    *bundle.json) add bundle "$f" ;;
    *opening.json) add opening "$f" ;;
    *record.json) add record "$f" ;;
    *evidence.json) add evidence "$f" ;;
    *)
      case "$(grep -o -m 1 '"letro-[a-z]*/' "$f" || true)" in
        '"letro-bundle/') add bundle "$f" ;;
        '"letro-opening/') add opening "$f" ;;
        '"letro-record/') add record "$f" ;;
        '"letro-evidence/') add evidence "$f" ;;
        *) continue ;;
      esac
      ;;
  esac
  n=$((n + 1))
done < <(find "${dirs[@]}" -type f \( -name '*.checkpoint' -o -name '*.add-checkpoint' -o -name '*.policy' -o -name '*.tile' -o -name '*.vkey' -o -name '*.json' -o -name '*.r1cs' -o -name '*.zkey' -o -name '*.ptau' \) -print0)

# PDFs (evidence certificates, testdata/pdf/): wherever they are under testdata/; none is fine.
while IFS= read -r -d '' f; do
  add pdf "$f"
  n=$((n + 1))
done < <(find ../testdata ${args[@]+"${args[@]}"} -type f -name '*.pdf' -print0)

echo "seeded $n files"
for target in "${targets[@]}"; do
  echo "  corpus/$target: $(find "corpus/$target" -type f | wc -l) files"
done
