# Pipes, command substitution and subshells: needs other processes (fork, pipe, wait).
echo "words: $(wc -l < /usr/share/compat/text/words.txt)"
sort /usr/share/compat/text/words.txt | uniq -c | sort -k1,1nr -k2 | head -3
grep -c the /usr/share/compat/text/jabberwocky.txt
x=$(echo hello | tr a-z A-Z)
echo "$x"
(cd /tmp && pwd)
pwd
echo "status of false: $(false; echo $?)"
cat /usr/share/compat/text/numbers.txt | awk '{ s += $1 } END { print "total", s }'
