#!/usr/share/exec/loop.sh
