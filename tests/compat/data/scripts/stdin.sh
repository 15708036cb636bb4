# Reads stdin line by line (the read builtin): counts lines, sums the numbers, finds the longest.
count=0 sum=0 longest=
while IFS= read -r line || [ -n "$line" ]; do
    count=$((count + 1))
    case $line in
        '' | *[!0-9-]*) ;;
        *) sum=$((sum + line)) ;;
    esac
    if [ ${#line} -gt ${#longest} ]; then longest=$line; fi
done
echo "lines=$count sum=$sum longest=$longest"
