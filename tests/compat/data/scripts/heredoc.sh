# Here-documents: expanded, quoted, tab-stripped, and read into variables (builtins only).
name=World
while IFS= read -r line; do printf '> %s\n' "$line"; done <<EOF2
Hello, $name!
Sum: $((2 + 3))
  indented line
EOF2
while IFS= read -r line; do echo "raw: $line"; done <<'EOF2'
No $expansion here: $((1 + 1)) `nothing`
EOF2
while read -r a b rest; do echo "a=$a b=$b rest=$rest"; done <<-EOF2
	one two three four
	five six
EOF2
read -r first <<EOF2
only the first line
second line
EOF2
echo "first: $first"
