"""Starts one sandbox process inside a running sandbox's namespaces (the harness's launcher).

    python3 -I -S enter.py <namespace-pid | -> <harness-pid> <cwd> <file> [args...]

The environment is the process's own. The harness reads on fd 3:
    pid <host pid>                  the process runs, leader of its own process group
    exit code <n> | exit signal <n> then, how it ended (the harness takes this as its exit)
    error <ERRNO> <message>         or: it could not be started (this launcher then exits 127)

Why a launcher at all: a process started by `bwrap` directly shares its process group with bwrap,
so a SIGTERM to that group would kill bwrap first, and bwrap reports a signal as exit code
128+n. Here the real process gets its own group (as RAPID's Setpgid) that the harness signals by
its host pid; this launcher never receives those signals, waits for the process and then ends
the same way it did (same exit code, or killed by the same signal), so the harness's view of
the exit is the real process's. It joins the namespaces with setns(2) before forking, so the
fork's return value is the child's host pid while the child itself lives in the sandbox's PID
and mount namespaces.

With "-" instead of a namespace pid (plain mode) it joins nothing and drops nothing; it is a child
subreaper, so a daemon the process forks out of its group (fork, setsid, fork) re-parents to this
launcher rather than to the host's init. It reports the process's end on fd 3 and stays while
such daemons run, as a bwrap sandbox's pid 1 holds them, so they live until the sandbox is over:
then the harness finds and records them, and a SIGTERM to this launcher, or the harness's death
(PR_SET_PDEATHSIG, even a SIGKILLed harness), SIGKILLs every descendant left: what bwrap's PID
namespace does for an isolated sandbox. Standard library only; the module must not print on fds
1 and 2, which belong to the process.
"""
import ctypes
import errno
import fcntl
import os
import resource
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
NS_GET_USERNS = 0xB701
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
# The harness's death, as PR_SET_PDEATHSIG delivers it; blocked and taken with sigwaitinfo.
HARNESS_GONE = signal.SIGHUP

libc = ctypes.CDLL(None, use_errno=True)
control = os.fdopen(3, "w", buffering=1, closefd=True)


def fail(code, message):
    try:
        control.write("error %s %s\n" % (code, message.replace("\n", " ")))
        control.close()
    except OSError:
        pass  # The harness is gone: nobody to tell.
    os._exit(127)


def check(result, what):
    if result != 0:
        number = ctypes.get_errno()
        fail(errno.errorcode.get(number, "UNKNOWN"), "%s: %s" % (what, os.strerror(number)))


def same_namespace(a, b):
    first, second = os.fstat(a), os.fstat(b)
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def open_namespace(target, kind):
    try:
        return os.open("/proc/%d/ns/%s" % (target, kind), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        fail(errno.errorcode.get(error.errno, "UNKNOWN"), "sandbox namespace: %s" % error)


def enter(fd, flag, kind):
    check(libc.setns(fd, flag), "setns " + kind)


def join(target):
    """Opens every namespace first: once in the sandbox's mount namespace, /proc is the sandbox's.

    Unprivileged, bwrap makes two user namespaces: one that owns the mount and PID namespaces (its
    uid 0 is the user, so /dev/pts can be mounted) and, nested in it, the one its command runs in
    (the user's own uid). Join the owner to be allowed into the mount and PID namespaces, then the
    nested one, so the process has the same ids as bwrap's own command. As root there is no user
    namespace and both steps are skipped.
    """
    own = os.open("/proc/self/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    user, mnt, pid = (open_namespace(target, kind) for kind in ("user", "mnt", "pid"))
    try:
        owner = fcntl.ioctl(mnt, NS_GET_USERNS)
    except OSError:
        owner = os.dup(user)  # Kernels before 4.9: assume one user namespace.
    current = own
    if not same_namespace(owner, own):
        enter(owner, CLONE_NEWUSER, "user (owner)")
        current = owner
    enter(mnt, CLONE_NEWNS, "mnt")
    enter(pid, CLONE_NEWPID, "pid")
    if not same_namespace(user, current):
        enter(user, CLONE_NEWUSER, "user")
    for fd in (own, user, mnt, pid, owner):
        os.close(fd)


def drop_capabilities():
    # As bwrap does for its own command: no capabilities, and none to gain by exec.
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    try:
        last = int(open("/proc/sys/kernel/cap_last_cap").read())
    except OSError:
        last = 40
    for cap in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)


def start(cwd, file, args, report, sandboxed):
    """In the forked child: own process group, default signals, then exec (never returns)."""
    os.setpgid(0, 0)
    for number in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
        signal.signal(number, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    try:
        os.chdir(cwd)
        if sandboxed:
            drop_capabilities()
        os.execvpe(file, [file] + args, os.environ)
    except OSError as error:
        os.write(report, b"%d" % error.errno)
    os._exit(127)


class Process:
    """The process this launcher started, and how it ended once reaped."""

    pid = 0
    status = None


def reaped(ended, status):
    """Tells the harness how the process ended, as soon as it is reaped: the harness takes this
    line, not this launcher's own exit, as the process's exit, since in plain mode the launcher
    lives on while the daemons the process forked still run."""
    if ended != Process.pid or Process.status is not None:
        return
    Process.status = status
    if os.WIFSIGNALED(status):
        line = "exit signal %d\n" % os.WTERMSIG(status)
    else:
        line = "exit code %d\n" % (os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
    try:
        control.write(line)
        control.close()
    except OSError:
        # The harness is gone (EPIPE): nobody to tell, and the launcher must go on killing what
        # it left, not end in a traceback with descendants still alive.
        pass


def kill_descendants():
    """SIGKILLs this launcher's children until it has none: as a subreaper it inherits the orphans
    of each one killed (double-forked daemons included), so the loop reaches every descendant."""
    if Process.status is None:
        # Its group; once the process is reaped the id may be someone else's.
        try:
            os.killpg(Process.pid, signal.SIGKILL)
        except OSError:
            pass
    path = "/proc/self/task/%d/children" % os.getpid()
    while True:
        try:
            with open(path) as children:
                for child in children.read().split():
                    try:
                        os.kill(int(child), signal.SIGKILL)
                    except OSError:
                        pass
        except OSError:
            pass
        try:
            reaped(*os.waitpid(-1, 0))
        except ChildProcessError:
            return
        except InterruptedError:
            pass


def end_like(status):
    """Ends this launcher the way the child ended."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if number not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [number])
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def main():
    target, harness, cwd, file, args = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
    sandboxed = target != "-"
    # Blocked before the death signal is armed, so it waits for sigwaitinfo below and is never lost.
    # SIGTERM is the harness's "the sandbox is over" (plain mode's dispose).
    waited = {signal.SIGCHLD, HARNESS_GONE, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    # Learn of the harness's death; if it is already gone, do not start anything.
    libc.prctl(PR_SET_PDEATHSIG, HARNESS_GONE, 0, 0, 0)
    if os.getppid() != harness:
        os._exit(1)
    if sandboxed:
        join(int(target))
    else:
        # Orphans of the process's tree (a setsid daemon) re-parent to us, not to the host's init.
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        control.close()
        os.close(read_end)
        start(cwd, file, args, write_end, sandboxed)
    os.close(write_end)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # The child already did it, or already exec'd.
    # The report pipe closes on a successful exec (CLOEXEC); otherwise it carries the errno.
    report = b""
    while True:
        chunk = os.read(read_end, 64)
        if not chunk:
            break
        report += chunk
    os.close(read_end)
    if report:
        os.waitpid(pid, 0)
        number = int(report)
        fail(errno.errorcode.get(number, "UNKNOWN"), "%s: %s" % (file, os.strerror(number)))
    Process.pid = pid
    try:
        control.write("pid %d\n" % pid)
    except OSError:
        pass  # The harness is gone; its death signal is already pending and ends the wait below.
    while True:
        info = signal.sigwaitinfo(waited)
        if info.si_signo in (HARNESS_GONE, signal.SIGTERM):
            # Only the death signal counts: by then we have been re-parented away from the harness.
            if info.si_signo == signal.SIGTERM or os.getppid() != harness:
                kill_descendants()
                os._exit(1)
            continue
        # Reap every child that ended (a subreaper inherits zombies too). In a bwrap sandbox the
        # launcher ends with the process; in plain mode it stays while it has children (see above).
        while True:
            try:
                ended, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                if Process.status is not None:
                    end_like(Process.status)
                break
            if ended == 0:
                break
            reaped(ended, status)
            if ended == pid and sandboxed:
                end_like(status)


main()
