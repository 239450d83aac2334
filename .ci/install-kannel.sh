#!/bin/sh
# Install the Debian packages the Kannel integration tests need (bearerbox,
# smsbox from "kannel"; fakesmsc from "kannel-extras"), non-interactively,
# without starting the packaged system service. The tests start their own
# loopback-only gateway (internal/kanneltest); the packaged daemon would
# listen on 0.0.0.0:13000 and friends and is not wanted.
#
# Idempotent: does nothing when the binaries are present. Needs root.
set -eu

if [ -x /usr/sbin/bearerbox ] && [ -x /usr/sbin/smsbox ] && [ -x /usr/lib/kannel/test/fakesmsc ]; then
    echo "install-kannel: already installed"
    exit 0
fi

sh "$(dirname "$0")/apt-install-quiet.sh" kannel kannel-extras

# Belt and braces: on a host with systemd the unit may still be enabled or
# have been started; stop and disable it through the service manager (never
# by killing processes by name).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl stop kannel.service 2>/dev/null || true
    systemctl disable kannel.service 2>/dev/null || true
elif [ -x /etc/init.d/kannel ] && ls /var/run/kannel/*.pid >/dev/null 2>&1; then
    /etc/init.d/kannel stop || true
fi

echo "install-kannel: installed $(dpkg-query -W -f='${Version}' kannel)"
