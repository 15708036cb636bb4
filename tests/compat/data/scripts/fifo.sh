# Named pipes as entrypoint scripts use them: a log FIFO drained by a background reader,
# and a writer that opens first and waits for its reader.
set -e
dir=$(mktemp -d)
mkfifo "$dir/log"
[ -p "$dir/log" ] && echo "a fifo"
(while read -r line; do echo "log: $line"; done < "$dir/log"; echo "reader done") &
reader=$!
exec 3> "$dir/log"
echo first >&3
echo second >&3
exec 3>&-
wait $reader
(echo "written before the reader opened" > "$dir/log") &
sleep 0.1
cat "$dir/log"
wait
rm -r "$dir"
echo done
