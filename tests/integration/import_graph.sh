#!/usr/bin/env bash
# ctest-labels: unit
# The import graph of the C code has no circle between concepts. A concept is a directory of
# runtime/ (pcaps/, emu/, serve/, ...), or the files of runtime/ that share a name before their
# first '_' (journal.c, journal_share.c, journal_show.c are "journal"), or bindings/ as a whole.
# Edges are #include "x.h" lines and call references (the symbols each object file uses and the
# ones it defines, read with nm from the build), so a circle through a forward declaration is
# seen too. Prints each circle with an edge that makes it, and fails when there is one.
set -uo pipefail
: "${PCAPRUN:?}" "${PCAPRUN_SRC:?}" "${PCAPRUN_BUILD:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$PCAPRUN_SRC" || exit 1
: > "$work/edges"

concept() { # concept FILE (runtime/pcaps/call.c, runtime/journal_share.c, bindings/l_pcap.c, ...)
  local f=$1 base
  case $f in
    runtime/main.c) echo main ;;
    runtime/*/*) f=${f#runtime/}; echo "${f%%/*}" ;;
    runtime/*) base=${f##*/}; base=${base%.*}; echo "${base%%_*}" ;;
    bindings/*) echo bindings ;;
    *) echo other ;;
  esac
}

# headers: which concept each belongs to (by where it lives)
declare -A header_of
while IFS= read -r h; do header_of[${h##*/}]=$(concept "$h"); done < <(git ls-files 'runtime/*.h' 'bindings/*.h')

# edges from #include "x.h"
while IFS= read -r src; do
  from=$(concept "$src")
  while IFS= read -r inc; do
    to=${header_of[${inc##*/}]:-}
    [[ -n $to && $to != "$from" ]] && echo "$from $to include:$src->$inc" >> "$work/edges"
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$src")
done < <(git ls-files 'runtime/*.c' 'bindings/*.c')

# edges from call references: the object files of the build's libraries
declare -A defined_in
objects=()
while IFS= read -r o; do
  src=${o#*.dir/}
  src=${src%.o}
  [[ -f $src ]] || continue # generated (embedded Lua)
  objects+=("$PCAPRUN_BUILD/$o")
  for sym in $(nm -g --defined-only "$PCAPRUN_BUILD/$o" 2> /dev/null | awk '{print $3}'); do
    defined_in[$sym]=$(concept "$src")
  done
done < <(cat "$PCAPRUN_BUILD"/CMakeFiles/pcaprun_*.dir/link.txt | tr ' ' '\n' | grep '\.c\.o$' | sort -u)
((${#objects[@]} > 10)) || { echo "not ok - no object files found under $PCAPRUN_BUILD"; exit 1; }
for o in "${objects[@]}"; do
  src=${o#*.dir/}
  src=${src%.o}
  from=$(concept "$src")
  for sym in $(nm -u "$o" 2> /dev/null | awk '{print $2}'); do
    to=${defined_in[$sym]:-}
    [[ -n $to && $to != "$from" ]] && echo "$from $to call:$src->$sym" >> "$work/edges"
  done
done

"$PCAPRUN" -e '
local edges, why = {}, {}
for line in io.lines(arg[1]) do
  local a, b, w = line:match("^(%S+) (%S+) (.*)$")
  edges[a] = edges[a] or {}
  if not edges[a][b] then edges[a][b] = true; why[a .. " " .. b] = w end
end
local names = {}
for a in pairs(edges) do names[#names + 1] = a end
table.sort(names)
-- every concept that can reach itself: a circle, shown once with the edges that make it
local circles, seen = 0, {}
local function search(start, node, path, visited)
  local next_names = {}
  for b in pairs(edges[node] or {}) do next_names[#next_names + 1] = b end
  table.sort(next_names)
  for _, b in ipairs(next_names) do
    if b == start then
      local members = { table.unpack(path) }
      table.sort(members)
      local key = table.concat(members, ",")
      if not seen[key] then
        seen[key] = true
        circles = circles + 1
        local steps = {}
        for i = 1, #path do
          local x, y = path[i], path[i + 1] or start
          steps[#steps + 1] = ("%s -> %s (%s)"):format(x, y, why[x .. " " .. y])
        end
        print("not ok - a circle: " .. table.concat(steps, "; "))
      end
    elseif not visited[b] then
      visited[b] = true
      path[#path + 1] = b
      search(start, b, path, visited)
      path[#path] = nil
    end
  end
end
for _, a in ipairs(names) do search(a, a, { a }, { [a] = true }) end
local n = 0
for _ in pairs(why) do n = n + 1 end
if circles == 0 then print(("ok - no circle between %d concepts (%d edges)"):format(#names, n)) end
os.exit(circles == 0 and 0 or 1)' "$work/edges"
