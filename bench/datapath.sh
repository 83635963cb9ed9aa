#!/usr/bin/env bash
# Data-path benchmark: 1 GiB through glance-api and the filesystem plugin,
# with and without the local fast paths, beside raw disk, the hashing
# ceiling and http.ServeFile; MB/s and CPU s/GiB. Prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/bench-datapath ./bench/datapath
exec bin/bench-datapath -bin bin "$@"
