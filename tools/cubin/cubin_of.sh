#!/bin/bash
# cubin_of.sh BUILD OBJ OUT.cubin [extra nvcc flags]: the object's nvcc command, as a cubin
# (ARCH=sm_80: its -gencode flags replaced by that one architecture)
B=$1; O=$2; OUTC=$3; shift 3
cmd=$(ninja -C $B -t commands $O | tail -1)
cmd=$(echo "$cmd" | sed -E 's/ -MD -MT [^ ]+ -MF [^ ]+//; s/ -c / -cubin /; s/ -o [^ ]+$//')
if [ -n "${ARCH:-}" ]; then
  cmd=$(echo "$cmd" | sed -E "s/ -gencode[= ][^ ]+//g; s/ --generate-code=[^ ]+//g")
  cmd="$cmd -arch=$ARCH"
fi
eval "$cmd $* -o $OUTC"
