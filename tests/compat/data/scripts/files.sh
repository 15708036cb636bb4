# Files with builtins only: redirections into /tmp, read back, test, globbing, cd/pwd, fds.
cd /tmp || exit 1
pwd
echo first > notes.txt
echo second >> notes.txt
printf '%s\n' third >> notes.txt
n=0
while read -r l; do n=$((n + 1)); echo "$n: $l"; done < notes.txt
[ -f notes.txt ] && echo "notes.txt is a file"
[ -d /tmp ] && echo "/tmp is a directory"
[ -s notes.txt ] && echo "notes.txt is not empty"
[ -e missing ] || echo "missing does not exist"
: > empty.txt
[ -s empty.txt ] || echo "empty.txt is empty"
[ notes.txt -nt /usr/share/compat/text/words.txt ] && echo "notes.txt is newer than the packaged words.txt"
for f in /usr/share/compat/text/*.txt; do echo "glob: ${f##*/}"; done
for f in /tmp/*; do echo "tmp: $f"; done
exec 3> fd3.txt
echo "via fd 3" >&3
exec 3>&-
read -r back < fd3.txt
echo "read back: $back"
echo "to stderr" >&2
{ echo a; echo b; } > group.txt
while read -r x; do printf '%s;' "$x"; done < group.txt
echo
cd /usr/share/compat/text && pwd
echo nope > /usr/share/compat/text/new.txt
echo "status after writing to a packaged directory: $?"
cd /nonexistent
echo "status after cd to a missing directory: $?"
