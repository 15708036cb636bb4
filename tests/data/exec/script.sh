#!/bin/exec argv
# A script whose interpreter is the test program in its argv mode.
