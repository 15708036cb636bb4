# Loops and arithmetic, with shell builtins only (no other process).
i=1
total=0
while [ $i -le 10 ]; do
    total=$((total + i * i))
    i=$((i + 1))
done
echo "sum of squares 1..10 = $total"

for word in alpha beta gamma; do
    printf '%s has %d letters\n' "$word" "${#word}"
done

n=0
until [ $n -ge 5 ]; do n=$((n + 2)); done
echo "until stopped at $n"

for i in 1 2 3 4 5 6 7 8 9 10; do
    [ $((i % 2)) -eq 0 ] && continue
    [ $i -gt 7 ] && break
    printf '%d ' $i
done
echo

for a in 1 2 3; do
    line=
    for b in 1 2 3 4; do
        line="$line$((a * b)) "
    done
    echo "row $a: $line"
done

echo $((17 / 5)) $((17 % 5)) $((-17 / 5)) $((2 ** 10)) $((1 << 12)) $((0xff)) $((010)) \
    $((7 & 3)) $((7 | 8)) $((7 ^ 2)) $((!0)) $((3 > 2 ? 100 : 200))
x=5
x=$((x += 3))
echo "x=$x"
let "y = x * 2"
echo "y=$y"

n=27 steps=0
while [ $n -ne 1 ]; do
    if [ $((n % 2)) -eq 0 ]; then n=$((n / 2)); else n=$((3 * n + 1)); fi
    steps=$((steps + 1))
done
echo "collatz(27) takes $steps steps"
