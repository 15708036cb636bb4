# mkdir, cp, mv, ln -s, touch, rm, tar and gzip in /tmp, checked with ls, cat and sha256sum:
# each command is another process (fork, exec, wait).
set -e
cd /tmp
mkdir -p work/sub
cp /usr/share/compat/text/words.txt work/words.txt
cp -r /usr/share/compat/tree work/tree
mv work/words.txt work/sub/fruit.txt
ln -s sub/fruit.txt work/link
touch work/empty
ls work work/sub
head -n 2 work/link
sha256sum work/sub/fruit.txt
rm work/empty
rm -r work/tree
ls work
tar -cf fruit.tar work/sub/fruit.txt
tar -tf fruit.tar
gzip fruit.tar
ls
gunzip -c fruit.tar.gz | tar -tf -
rm -r work
tar -xzf fruit.tar.gz
wc -l work/sub/fruit.txt
tar -xzf /usr/share/compat/archive/sample.tar.gz
ls -R sample
cat sample/sub/data.txt
