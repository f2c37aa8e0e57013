#!/usr/bin/env bash
# The one test command (README): installs dependencies, starts the services the tests talk to
# (MariaDB; librdkafka's mock Kafka cluster from kcat), builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/services.sh
npm ci --no-audit --no-fund
npm test
