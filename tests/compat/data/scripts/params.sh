# case patterns, parameter expansion and field splitting (builtins only).
classify() {
    case $1 in
        [0-9] | [0-9][0-9]) echo "$1: small number" ;;
        *.txt) echo "$1: text file" ;;
        [Yy]es | [Yy]) echo "$1: yes" ;;
        -*) echo "$1: option" ;;
        '') echo "(empty): empty" ;;
        *) echo "$1: something else" ;;
    esac
}
for x in 7 42 notes.txt Yes y -v '' hello 123; do classify "$x"; done

path=/usr/share/compat/text/words.txt
echo "${path##*/} ${path%/*} ${path#/usr/} ${path%.txt}.bak ${#path}"
unset missing
echo "${missing:-default} ${missing-unset} [${missing}]"
empty=
echo "[${empty:-fallback}] [${empty-notused}] [${empty:+alt}]"
: ${assigned:=now set}
echo "$assigned"
s="hello world hello"
echo "${s/hello/bye} | ${s//hello/bye} | ${s:6:5} | ${s:6}"

line="a:b::c"
old_ifs=$IFS
IFS=:
set -- $line
IFS=$old_ifs
echo "$# fields: $1|$2|$3|$4"
set -- $s
echo "$# words, last: ${3}"
words="one   two	three"
set -- $words
echo "$# words after splitting on spaces and tabs"
