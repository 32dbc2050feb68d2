#!/bin/sh
# Lists the tests ctest skipped, each with the reason it gave (the last line it printed), read
# from ctest's JUnit report: `make test` runs this after ctest, because ctest itself only says
# "Skipped". Prints nothing when nothing was skipped. Usage: tests/skipped.sh JUNIT.xml
[ -f "$1" ] || exit 0
awk '
  function text(s) {
    gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&quot;/, "\"", s); gsub(/&amp;/, "\\&", s)
    return s
  }
  /<testcase / {
    match($0, /name="[^"]*"/); name = substr($0, RSTART + 6, RLENGTH - 7)
    skipped = 0; out = 0; last = ""
  }
  /<skipped/ { skipped = 1 }
  /<system-out>/ { out = 1; sub(/.*<system-out>/, "") }
  out {
    line = $0
    if (sub(/<\/system-out>.*/, "", line)) out = 0
    if (line ~ /[^ \t]/) last = line
  }
  /<\/testcase>/ && skipped {
    if (!n++) print "\nSkipped tests (not run, not counted as passed):"
    sub(/^SKIPPED: */, "", last)
    printf "  %s: %s\n", text(name), last == "" ? "(no reason printed)" : text(last)
  }
' "$1"
