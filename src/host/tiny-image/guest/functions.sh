# Shared by the tiny guest's scripts (sourced): the marker lines that tests and `nubes console-log`
# grep. Every marker is one line "nubes-tiny: <event> [details]" written once to each active console.

# The consoles the kernel writes to (console= on the cmdline, e.g. "tty0 ttyS0"); ttyS0 is added when
# it exists, because the serial log is where the cloud reads markers.
nubes_consoles() {
  c=$(cat /sys/class/tty/console/active 2>/dev/null)
  case " $c " in
    *" ttyS0 "*) ;;
    *) [ -e /dev/ttyS0 ] && c="$c ttyS0" ;;
  esac
  [ -n "$c" ] || c=console
  echo $c
}
NUBES_CONSOLES=${NUBES_CONSOLES:-$(nubes_consoles)}
export NUBES_CONSOLES

# emit LINE: a raw line on every console (used for markers and for the host key block).
emit() {
  for t in $NUBES_CONSOLES; do
    echo "$*" > "/dev/$t" 2>/dev/null
  done
}

# After `ready` a root shell sits at its prompt on the console, so later markers (power button,
# hot-plugged NICs, shutdown) start with a newline to stay at the beginning of a line. The newline
# and the marker go out in one write: the shell's prompt, drawn late on a busy host, cannot land
# between them.
marker() {
  if [ -e /run/nubes/ready ]; then
    emit "$(printf '\nnubes-tiny: %s' "$*")"
  else
    emit "nubes-tiny: $*"
  fi
}
