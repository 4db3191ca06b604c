# Runs Debian's `openstack` CLI for the e2e tests without paying its start-up on every command: this
# Python imports openstackclient (and every command module it ships) once, then forks one child per
# command. Each child is the CLI exactly as /usr/bin/openstack runs it (openstackclient.shell.main
# with that argv), with the environment the test gave, its own stdout, stderr and exit code.
#
# Protocol, one JSON object per line: stdin {"id", "args", "env", "out", "err"} (out and err are
# files the child writes); stdout {"id", "pid"} once forked, then {"id", "code"} once it exited.
import importlib
import json
import os
import selectors
import signal
import sys
import traceback
from importlib.metadata import entry_points

# Before the import: cliff names the program (in usage and errors) after argv[0] when it loads.
sys.argv = ['/usr/bin/openstack']
import openstackclient.shell  # noqa: E402

# The modules the CLI would import for a command: every command, client, auth and output plugin it
# finds by entry point (Debian's openstackclient, the SDK and clients it depends on, keystoneauth,
# cliff). Any that fails to import is left for the child to import (and to fail on) as the CLI would.
PLUGIN_GROUPS = ('openstack.', 'keystoneauth1.', 'cliff.')
for group in sorted(g for g in entry_points().groups if g.startswith(PLUGIN_GROUPS)):
    for ep in entry_points().select(group=group):
        try:
            importlib.import_module(ep.module)
        except Exception:
            pass
# cliff maps every installed module to its distribution for each command's help epilog, once per
# process and from the installed packages alone: a walk of all their metadata, done here once.
try:
    import cliff.command

    cliff.command._get_distributions_by_modules()
except Exception:
    pass


def child(req):
    """In the forked child: become the CLI for one command; never returns."""
    code = 1
    try:
        os.environ.clear()
        os.environ.update(req['env'])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(os.open(req['out'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
        os.dup2(os.open(req['err'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
        sys.argv = ['/usr/bin/openstack', *req['args']]
        try:
            code = openstackclient.shell.main(sys.argv[1:])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(code, int):
            code = 0 if code is None else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code & 0xFF)


def main():
    # SIGCHLD wakes the loop through a pipe; children are reaped without blocking.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    running = {}
    buf = b''

    def send(obj):
        os.write(1, (json.dumps(obj) + '\n').encode())

    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ, 'in')
    sel.register(wake_r, selectors.EVENT_READ, 'wake')
    stdin_open = True
    while stdin_open or running:
        for key, _ in sel.select():
            if key.data == 'wake':
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            else:
                chunk = os.read(0, 65536)
                if not chunk:
                    stdin_open = False
                    sel.unregister(0)
                    continue
                buf += chunk
                while b'\n' in buf:
                    line, buf = buf.split(b'\n', 1)
                    if not line.strip():
                        continue
                    req = json.loads(line)
                    pid = os.fork()
                    if pid == 0:
                        signal.set_wakeup_fd(-1)
                        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                        os.close(wake_r)
                        os.close(wake_w)
                        child(req)
                    running[pid] = req['id']
                    send({'id': req['id'], 'pid': pid})
        while running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            rid = running.pop(pid, None)
            if rid is not None:
                send({'id': rid, 'code': os.waitstatus_to_exitcode(status)})


main()
