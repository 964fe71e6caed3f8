#!/usr/bin/env bash
# tests/docs/run.sh: what ships beside the binary. The diagnostic code table
# and `clusterc explain` (codes.sh); the man pages, shell completion, editor
# grammars and `make install` (packaging.sh); the docs' cluster blocks and
# docs/tutorial.md run as written (tutorial.sh).
source "$(dirname "$0")/../lib.sh"
HERE=$TOP/tests/docs
source "$HERE/codes.sh"
[ -f "$HERE/packaging.sh" ] && source "$HERE/packaging.sh"
source "$HERE/tutorial.sh"
finish
