#!/bin/sh
# gen.sh recreates the embedded, gzipped copies of the shared CSV datasets.
#
# Usage: sh dataset/data/gen.sh [SRC]
#
# SRC defaults to the shared datasets directory next to the repository
# (/work/shared/datasets when the repository is /work/main). gzip -9 -n omits the
# file name and time stamp, so the output is byte-for-byte reproducible.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${1:-$here/../../../shared/datasets}
for name in german_credit hmda pima_diabetes flchain fertility; do
	gzip -9 -n -c "$src/$name.csv" >"$here/$name.csv.gz.tmp"
	mv "$here/$name.csv.gz.tmp" "$here/$name.csv.gz"
done
