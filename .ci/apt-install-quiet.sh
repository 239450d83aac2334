#!/bin/sh
# Install Debian packages non-interactively without letting them start
# their services: policy-rc.d answering 101 forbids invoke-rc.d to start
# services during the installation. An existing policy-rc.d is kept; ours
# is removed afterwards. Usage: apt-install-quiet.sh PACKAGE... (as root).
set -eu

policy=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 0755 "$policy"
    ours=1
fi
cleanup() { if [ -n "$ours" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$@" >/dev/null
