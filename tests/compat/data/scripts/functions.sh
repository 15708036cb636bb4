# Functions, recursion, local variables, positional parameters and getopts (builtins only).
fact() {
    local n=$1
    if [ "$n" -le 1 ]; then R=1; return 0; fi
    fact $((n - 1))
    R=$((R * n))
}
fact 10
echo "10! = $R"

fib() {
    local n=$1 a
    if [ "$n" -lt 2 ]; then R=$n; return; fi
    fib $((n - 1)); a=$R
    fib $((n - 2)); R=$((a + R))
}
fib 15
echo "fib(15) = $R"

count_args() {
    echo "$# args: $*"
    for a in "$@"; do printf '[%s]' "$a"; done
    echo
}
count_args one "two words" '' three

is_even() { return $(($1 % 2)); }
for n in 3 4; do
    if is_even $n; then echo "$n is even"; else echo "$n is odd (status $?)"; fi
done

v=global
scope() { local v=local; echo "inside: $v"; }
scope
echo "outside: $v"

set -- -a -b value file1 file2
while getopts ab: opt; do
    case $opt in
        a) echo "option a" ;;
        b) echo "option b=$OPTARG" ;;
    esac
done
shift $((OPTIND - 1))
echo "operands: $*"

greet() { echo "hello, ${1:-nobody}"; }
greet
greet world
eval 'greet "from eval"'
