#!/usr/bin/env bash
# The commands of docs/getting-started.md, in order; scripts/install-test runs them against the
# installed package (PREFIX), from a copy of this folder.
set -euo pipefail
PREFIX=${PREFIX:-/opt/loopbridge}
cmake -S . -B build -DCMAKE_PREFIX_PATH="$PREFIX"
cmake --build build
build/hello greeters.yaml
build/greeter check greeters.yaml
build/greeter graph greeters.yaml > greeters.dot
build/greeter run --quiet greeters.yaml
build/greeter scenario greeter.yaml
build/greeter_test
