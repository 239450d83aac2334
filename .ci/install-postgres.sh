#!/bin/sh
# Install PostgreSQL from Debian's packages if missing, start the default
# cluster on loopback, and create the role and database the service's tests
# use (postgres://sms:sms@127.0.0.1:5432/sms). Idempotent. Needs root.
set -eu

if [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
pg_lsclusters -h | awk '{print $2}' | grep -qx main || pg_createcluster "$ver" main
# Debian's cluster listens on localhost only.
pg_ctlcluster "$ver" main start 2>/dev/null || true
i=0
until su postgres -c "pg_isready -q -h 127.0.0.1 -p 5432"; do
    i=$((i + 1))
    if [ "$i" -ge 30 ]; then
        echo "install-postgres: PostgreSQL did not become ready" >&2
        exit 1
    fi
    sleep 1
done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='sms'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"CREATE ROLE sms LOGIN PASSWORD 'sms'\""
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='sms'\"" | grep -q 1 ||
    su postgres -c "createdb -O sms sms"
echo "install-postgres: PostgreSQL $ver ready on 127.0.0.1:5432"
