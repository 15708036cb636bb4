#!/bin/busybox sh
# Run by execve through its #! line (tests/compat: busybox_sh_exec).
echo "a #! script: $0, args: $* ($#)"
