#!/bin/sh
# Smoke test of the eventops image, not run by `npm test`: builds deploy/Dockerfile, runs the
# image as the Kubernetes manifests do (read-only root filesystem, the data folder on a tmpfs,
# no capabilities) with --network host against a PostgreSQL and a Redis of yours, waits for
# /healthz and /readyz, runs the starter hello-world pipeline with the CLI inside the container
# (a shell task of the local runner, as uid 10001), then `docker stop`s it and checks that it
# exited 0 well within the grace period. Prints how long each step took. The container and its
# queue keys are removed afterwards; the database is left to you.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/<a new database> REDIS_URL=redis://127.0.0.1:6379 deploy/check-image.sh
#
# The database must be new (the admin token the check uses is written only by the first process
# on a database). Optional: NODE_IMAGE (the base, passed as --build-arg), IMAGE (default
# eventops:check), PORT (default a free one), SKIP_BUILD=1, and DOCKER_HOST for another daemon.
set -eu
cd "$(dirname "$0")/.."

: "${DATABASE_URL:?set DATABASE_URL to a new PostgreSQL database}"
: "${REDIS_URL:?set REDIS_URL}"
IMAGE=${IMAGE:-eventops:check}
PORT=${PORT:-$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")}
NAME=eventops-check-$$
PREFIX=eventops-check-$$
GRACE=60

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
fail() { echo "check-image: $*" >&2; docker logs --tail 30 "$NAME" >&2 2>&1 || true; exit 1; }
# The container, and the queue's keys (its own prefix) in your Redis, removed with the image's ioredis.
cleanup() {
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker run --rm --network host -e REDIS_URL="$REDIS_URL" --entrypoint node "$IMAGE" -e "
    const { Redis } = require('ioredis');
    const redis = new Redis(process.env.REDIS_URL);
    (async () => {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', process.argv[1] + ':*', 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
    })();" "$PREFIX" >/dev/null 2>&1 || echo "check-image: could not remove the Redis keys $PREFIX:*" >&2
}
trap cleanup EXIT

if [ "${SKIP_BUILD:-}" != 1 ]; then
  t=$(now)
  docker build ${NODE_IMAGE:+--build-arg NODE_IMAGE="$NODE_IMAGE"} --network host -f deploy/Dockerfile -t "$IMAGE" . >/tmp/"$NAME"-build.log 2>&1 \
    || { tail -30 /tmp/"$NAME"-build.log >&2; fail "docker build failed (log: /tmp/$NAME-build.log)"; }
  echo "build: $(took "$t") ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1000000 }'))"
fi

t=$(now)
docker run -d --name "$NAME" --network host --read-only \
  --tmpfs /var/lib/eventops:uid=10001,gid=10001,mode=0700 --tmpfs /tmp \
  --cap-drop ALL --security-opt no-new-privileges \
  -e DATABASE_URL="$DATABASE_URL" -e REDIS_URL="$REDIS_URL" -e EVENTOPS__REDIS__PREFIX="$PREFIX" -e PORT="$PORT" \
  "$IMAGE" >/dev/null
ready=
for _ in $(seq 1 240); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ]; then ready=1; break; fi
  [ "$(docker inspect -f '{{.State.Running}}' "$NAME")" = true ] || fail "the container exited"
  sleep 0.25
done
[ -n "$ready" ] || fail "/readyz did not answer 200 within 60 s: $(curl -s "http://127.0.0.1:$PORT/readyz")"
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || fail "/healthz did not answer 200"
echo "start to ready: $(took "$t") (/healthz and /readyz 200 on port $PORT)"

t=$(now)
cli() { docker exec "$NAME" eventops "$@" --server "http://127.0.0.1:$PORT"; }
docker exec "$NAME" test -s /var/lib/eventops/admin-token || fail "no admin token written: is the database new?"
# Ready means the database and the queue answer, not that the source's definitions are active yet.
cli sources reconcile template --wait >/dev/null 2>&1 || fail "the source template was not applied: $(cli sources get template)"
cli event send -f /app/definitions-template/events/hello.yaml >/dev/null || fail "event send failed"
ran=
for _ in $(seq 1 120); do
  if cli runs list --pipeline hello-world --status succeeded -o json | grep -q '"id"'; then ran=1; break; fi
  sleep 0.25
done
[ -n "$ran" ] || fail "the hello-world run did not succeed within 30 s: $(cli runs list)"
echo "event to succeeded run: $(took "$t")"

t=$(now)
docker stop -t "$GRACE" "$NAME" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
[ "$code" = 0 ] || fail "exit code $code after docker stop"
echo "docker stop to exit 0: $(took "$t")"
echo "check-image: ok"
