#!/usr/share/exec/script.sh
# A script whose interpreter is itself a script.
