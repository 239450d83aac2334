#!/bin/sh
# Install Redis from Debian's packages if missing (without starting the
# packaged service), and start a server of the tests' own on loopback,
# 127.0.0.1:${SMS_REDIS_PORT:-6390}, without persistence and without
# systemd. Waits until it answers PING. Idempotent: a server already
# answering there is kept. Needs root.
set -eu

port="${SMS_REDIS_PORT:-6390}"
dir=/tmp/sms-ci-redis

if ! command -v redis-server >/dev/null 2>&1; then
    # Without starting the packaged service (on 6379).
    sh "$(dirname "$0")/apt-install-quiet.sh" redis-server
fi

if ! redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -qx PONG; then
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes \
        --save '' --appendonly no --dir "$dir" \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
fi
i=0
until redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -qx PONG; do
    i=$((i + 1))
    if [ "$i" -ge 30 ]; then
        echo "install-redis: Redis did not answer on 127.0.0.1:$port" >&2
        cat "$dir/redis.log" >&2 2>/dev/null || true
        exit 1
    fi
    sleep 1
done
echo "install-redis: $(redis-server --version | cut -d' ' -f1-3) ready on 127.0.0.1:$port"
