# A container's entrypoint script: it sets up, then hands its process to the command it was
# given with exec "$@" (busybox sh's exec is an execve of /bin/busybox).
export GREETING="set by the entrypoint"
cd /usr/share/compat/text || exit 9
echo "entrypoint: exec $*"
exec "$@"
echo "never printed"
