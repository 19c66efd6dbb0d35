#!/usr/bin/env bash
# Builds editors/vscode/botrun.vsix: installs the pinned npm packages, checks the grammar
# against its fixtures, then packages with @vscode/vsce.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --silent --no-audit --no-fund
npm test --silent
npx --no-install vsce package --allow-missing-repository --out botrun.vsix
