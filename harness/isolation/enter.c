/*
 * The sandbox launcher, compiled: the same program as enter.py (read its docstring for why it
 * exists), built by `make build` where a C compiler is: it adds ~15 ms to each process start
 * where enter.py adds ~95 ms (most of it Python's own start-up).
 *
 *     enter <namespace-pid | -> <harness-pid> <cwd> <file> [args...]
 *
 * fd 3 gets "pid <host pid>", then "exit code <n>" or "exit signal <n>" when the process ends;
 * or "error <ERRNO> <message>" (then exit 127). The process runs inside the namespaces of
 * <namespace-pid>, leads its own process group, has no capabilities; this launcher waits for it
 * and ends the same way (exit code or signal). With "-" (plain mode) it joins nothing and drops
 * nothing, but is a child subreaper: the daemons the process forks re-parent to it and live on
 * after the process, until a SIGTERM to this launcher (the sandbox is over) or the harness's
 * death SIGKILLs every process left under it (see enter.py).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec-report.h"

#ifndef NS_GET_USERNS
#define NS_GET_USERNS 0xb701
#endif
#ifndef PR_CAPBSET_DROP
#define PR_CAPBSET_DROP 24
#endif
#ifndef PR_SET_CHILD_SUBREAPER
#define PR_SET_CHILD_SUBREAPER 36
#endif

/* The harness's death, as PR_SET_PDEATHSIG delivers it; blocked and taken with sigwaitinfo. */
#define HARNESS_GONE SIGHUP

static void fail(int number, const char *what, const char *detail) {
  dprintf(3, "error %s %s%s%s: %s\n", errno_name(number), what, detail[0] ? " " : "", detail, strerror(number));
  close(3);
  _exit(127);
}

static int same_namespace(int a, int b) {
  struct stat sa, sb;
  return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int open_namespace(const char *target, const char *kind) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/ns/%s", target, kind);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fail(errno, "sandbox namespace", path);
  }
  return fd;
}

static void enter(int fd, int flag, const char *kind) {
  if (setns(fd, flag) != 0) {
    fail(errno, "setns", kind);
  }
}

/*
 * Opens every namespace first: once in the sandbox's mount namespace, /proc is the sandbox's.
 * Unprivileged, bwrap makes two user namespaces: one that owns the mount and PID namespaces
 * (its uid 0 is the user, so /dev/pts can be mounted) and, nested in it, the one its command
 * runs in (the user's own uid). Join the owner to be allowed into the mount and PID namespaces,
 * then the nested one, so the process has the same ids as bwrap's own command. As root there is
 * no user namespace and both steps are skipped.
 */
static void join(const char *target) {
  int self = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
  int user = open_namespace(target, "user");
  int mnt = open_namespace(target, "mnt");
  int pid = open_namespace(target, "pid");
  int owner = ioctl(mnt, NS_GET_USERNS);
  if (owner < 0) {
    owner = dup(user); /* Kernels before 4.9: assume one user namespace. */
  }
  int current = self;
  if (!same_namespace(owner, self)) {
    enter(owner, CLONE_NEWUSER, "user (owner)");
    current = owner;
  }
  enter(mnt, CLONE_NEWNS, "mnt");
  enter(pid, CLONE_NEWPID, "pid");
  if (!same_namespace(user, current)) {
    enter(user, CLONE_NEWUSER, "user");
  }
  close(self);
  close(user);
  close(mnt);
  close(pid);
  close(owner);
}

/* In the forked child: own group, no capabilities (in a sandbox), then exec; on failure the errno goes to `report`. */
static void start(const char *cwd, char **argv, int report, int sandboxed) {
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  int number = 0;
  if (chdir(cwd) != 0) {
    number = errno;
  } else {
    if (sandboxed) {
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      for (int cap = 0; cap <= 63; cap++) {
        prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
      }
    }
    execvp(argv[0], argv);
    number = errno;
  }
  (void)!write(report, &number, sizeof number);
  _exit(127);
}

/* The process, and whether its end has been reported on fd 3. */
static pid_t process_pid;
static int reported, process_status;

/*
 * Tells the harness how the process ended, as soon as it is reaped: the harness takes this line,
 * not this launcher's own exit, as the process's exit, because in plain mode the launcher lives on
 * while daemons the process forked are still running (see main).
 */
static void reaped(pid_t ended, int status) {
  if (ended != process_pid || reported) {
    return;
  }
  reported = 1;
  process_status = status;
  if (WIFSIGNALED(status)) {
    dprintf(3, "exit signal %d\n", WTERMSIG(status));
  } else {
    dprintf(3, "exit code %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 1);
  }
  close(3);
}

/* SIGKILLs this launcher's children until it has none: as a subreaper it inherits the orphans of
   each one killed (double-forked daemons included), so the loop reaches every descendant. */
static void kill_descendants(void) {
  if (!reported) {
    kill(-process_pid, SIGKILL); /* Its group; once it is reaped the id may be someone else's. */
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
  for (;;) {
    FILE *children = fopen(path, "r");
    if (children != NULL) {
      int child;
      while (fscanf(children, "%d", &child) == 1) {
        kill(child, SIGKILL);
      }
      fclose(children);
    }
    int status;
    pid_t ended = waitpid(-1, &status, 0);
    if (ended < 0 && errno == ECHILD) {
      return;
    }
    if (ended > 0) {
      reaped(ended, status);
    }
  }
}

/* Ends this launcher the way the process ended (same exit code, or killed by the same signal). */
static int end_like(int status) {
  if (WIFSIGNALED(status)) {
    int signal_number = WTERMSIG(status);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(signal_number, SIG_DFL);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, signal_number);
    sigprocmask(SIG_UNBLOCK, &only, NULL);
    kill(getpid(), signal_number);
    return 128 + signal_number;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: enter <namespace-pid | -> <harness-pid> <cwd> <file> [args...]\n");
    return 2;
  }
  int sandboxed = strcmp(argv[1], "-") != 0;
  pid_t harness = (pid_t)atoi(argv[2]);
  /* Blocked before the death signal is armed, so it waits for sigwaitinfo below and is never lost. */
  sigset_t waited;
  sigemptyset(&waited);
  sigaddset(&waited, SIGCHLD);
  sigaddset(&waited, HARNESS_GONE);
  sigaddset(&waited, SIGTERM); /* The harness's "the sandbox is over" (plain mode's dispose). */
  sigprocmask(SIG_BLOCK, &waited, NULL);
  /* Once the harness is gone, a report on fd 3 meets a closed pipe: that must be EPIPE, not a
     SIGPIPE that ends this launcher halfway through killing what the harness left (its
     descendants would go to the host's init). Blocked, not ignored: SIG_IGN would outlive exec
     into the process; start() clears the mask, and a fork's pending signals start empty. */
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  sigprocmask(SIG_BLOCK, &pipe_signal, NULL);
  /* Learn of the harness's death; if it is already gone, start nothing. */
  prctl(PR_SET_PDEATHSIG, HARNESS_GONE, 0, 0, 0);
  if (getppid() != harness) {
    return 1;
  }
  if (sandboxed) {
    join(argv[1]);
  } else {
    /* Orphans of the process's tree (a setsid daemon) re-parent to us, not to the host's init. */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  }
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    fail(errno, "pipe", "");
  }
  pid_t pid = fork();
  if (pid < 0) {
    fail(errno, "fork", "");
  }
  if (pid == 0) {
    close(3);
    close(report[0]);
    start(argv[3], argv + 4, report[1], sandboxed);
  }
  close(report[1]);
  setpgid(pid, pid); /* Also done by the child: whichever runs first. */
  int number = exec_errno(report[0]);
  int status;
  if (number != 0) {
    waitpid(pid, &status, 0);
    fail(number, argv[4], "");
  }
  process_pid = pid;
  dprintf(3, "pid %d\n", (int)pid);
  for (;;) {
    siginfo_t info;
    if (sigwaitinfo(&waited, &info) < 0) {
      continue;
    }
    if (info.si_signo == HARNESS_GONE || info.si_signo == SIGTERM) {
      /* Only the death signal counts: by then we have been re-parented away from the harness. */
      if (info.si_signo == SIGTERM || getppid() != harness) {
        kill_descendants();
        return 1;
      }
      continue;
    }
    /*
     * Reap every child that ended (a subreaper inherits zombies too). In a bwrap sandbox the
     * launcher ends with the process. In plain mode it stays while it has children: daemons the
     * process forked re-parent to it and live on, as they would in the sandbox (whose pid 1 holds
     * them), until the harness ends the sandbox (SIGTERM to us) or dies (the death signal).
     */
    pid_t ended;
    while ((ended = waitpid(-1, &status, WNOHANG)) > 0) {
      reaped(ended, status);
      if (ended == pid && sandboxed) {
        return end_like(status);
      }
    }
    if (reported && ended < 0 && errno == ECHILD) {
      return end_like(process_status);
    }
  }
}
