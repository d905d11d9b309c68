/*
 * Plain mode's launcher, built by `make setup` (plain-host.ts runs it):
 *
 *     enter <harness-pid> <cwd> <file> [args...]
 *
 * fd 3 gets "pid <host pid>", then "exit code <n>" or "exit signal <n>" when the process ends;
 * or "error <ERRNO> <message>" (then exit 127). The process leads its own process group. This
 * launcher is a child subreaper: the daemons the process forks re-parent to it and live on after
 * the process, until a SIGTERM to it (the sandbox is over) or the harness's death SIGKILLs every
 * process left under it (what a bwrap sandbox's PID namespace does).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec-report.h"

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

/* In the forked child: own group, then exec; on failure the errno goes to `report`. */
static void start(const char *cwd, char **argv, int report) {
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  int number = 0;
  if (chdir(cwd) != 0) {
    number = errno;
  } else {
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
 * not this launcher's own exit, as the process's exit: the launcher lives on while daemons the
 * process forked are still running (see main).
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
  if (argc < 4) {
    fprintf(stderr, "usage: enter <harness-pid> <cwd> <file> [args...]\n");
    return 2;
  }
  pid_t harness = (pid_t)atoi(argv[1]);
  /* Blocked before the death signal is armed, so it waits for sigwaitinfo below and is never lost. */
  sigset_t waited;
  sigemptyset(&waited);
  sigaddset(&waited, SIGCHLD);
  sigaddset(&waited, HARNESS_GONE);
  sigaddset(&waited, SIGTERM); /* The harness's "the sandbox is over". */
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
  /* Orphans of the process's tree (a setsid daemon) re-parent to us, not to the host's init. */
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
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
    start(argv[2], argv + 3, report[1]);
  }
  close(report[1]);
  setpgid(pid, pid); /* Also done by the child: whichever runs first. */
  int number = exec_errno(report[0]);
  int status;
  if (number != 0) {
    waitpid(pid, &status, 0);
    fail(number, argv[3], "");
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
    /* Reap every child that ended (a subreaper inherits zombies too); stay while daemons the
       process forked are left, as a sandbox's pid 1 holds them. */
    pid_t ended;
    while ((ended = waitpid(-1, &status, WNOHANG)) > 0) {
      reaped(ended, status);
    }
    if (reported && ended < 0 && errno == ECHILD) {
      return end_like(process_status);
    }
  }
}
