/*
 * The holder of a bwrap sandbox: bwrap's command, so it lives inside the sandbox's namespaces for
 * as long as the sandbox does, and it starts every runtime and extension process there itself (a
 * fork of this small process, not of the harness's heap: bench/findings.md).
 *
 *     hold [<nofile> <nproc> [undumpable]]   (as `bwrap … -- hold`; stdin and stdout are pipes to the harness)
 *
 * With limits, the holder sets RLIMIT_NOFILE and RLIMIT_NPROC (soft and hard) on itself first, so
 * every process it starts has Lambda's limits and cannot raise them. As the sandbox's pid 1 (bwrap
 * --as-pid-1) it cannot be killed or stopped from inside (the kernel drops SIGKILL and SIGSTOP sent
 * to a PID namespace's init from within it, and every signal it has no handler for), it is not
 * dumpable when asked (no ptrace, no /proc/1/mem for the processes' uid), and it reaps the orphans
 * it adopts.
 *
 * Writes "ready <its pid>" once. Then reads commands on stdin:
 *
 *     spawn <id> <bytes>\n<bytes of NUL-terminated strings: cwd, file, argc, argv…, env…>
 *     release <id>\n        the harness holds the output pipes now: close ours, reap the process
 *     listen <id> <port>\n   a TCP socket listening on 127.0.0.1:<port> of the sandbox's network
 *     socket <id>\n          a TCP socket of the sandbox's network, for the harness to connect
 *     inode <id> <local port> <remote port>\n   the inode of 127.0.0.1:<local> -> 127.0.0.1:<remote>
 *
 * A socket goes back over Node's IPC channel (NODE_CHANNEL_FD, see network.c): it is created in
 * the sandbox's network namespace and stays there whoever holds it, so the harness serves and
 * connects inside the sandbox with no byte relayed. Answers on stdout (a socket's failure too):
 *
 *     pid <id> <pid in the sandbox> <stdout fd> <stderr fd>   the harness opens the pipes as
 *                                                             /proc/<our host pid>/fd/<fd>
 *     error <id> <ERRNO> <message>                            nothing was started (or no socket)
 *     exit <id> code <n> | exit <id> signal <n>               once reaped (after release)
 *     inode <id> <inode>                                      the connection's socket inode
 *
 * A process is reaped only after its release, so a process that ends at once is still a zombie,
 * with its pid, when the harness looks it up. EOF on stdin means the sandbox is over (or the
 * harness is gone): the holder exits, bwrap's pid 1 follows it, and the kernel SIGKILLs
 * everything left in the PID namespace. Each process leads its own process group, starts with
 * every signal unblocked and default, stdin /dev/null, no new privileges, an empty capability
 * bounding set.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec-report.h"
#include "network.c"
#include "hold-children.c"

#ifndef PR_CAPBSET_DROP
#define PR_CAPBSET_DROP 24
#endif

extern char **environ;

/* Answers are short (< PIPE_BUF), so each is one atomic write. A harness that is gone makes this
   EPIPE (SIGPIPE is ignored), and its EOF on stdin ends us next. */
static void answer(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void answer(const char *format, ...) {
  char line[1024];
  va_list args;
  va_start(args, format);
  int length = vsnprintf(line, sizeof line, format, args);
  va_end(args);
  if (length >= (int)sizeof line) {
    length = (int)sizeof line - 1;
    line[length - 1] = '\n';
  }
  (void)!write(1, line, (size_t)length);
}

/* `fd` as `target`, open across exec (dup2 onto itself would leave close-on-exec set). */
static int keep_as(int fd, int target) {
  return fd == target ? fcntl(fd, F_SETFD, 0) : dup2(fd, target);
}

/* In the forked child: the process's own stdio, group, signals, privileges; then exec. */
static void start(char *cwd, char **argv, char **envp, int out, int err, int report) {
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || keep_as(null, 0) < 0 || keep_as(out, 1) < 0 || keep_as(err, 2) < 0) {
    int number = errno;
    (void)!write(report, &number, sizeof number);
    _exit(127);
  }
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  int number = 0;
  if (chdir(cwd) != 0) {
    number = errno;
  } else {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    for (int cap = 0; cap <= 63; cap++) {
      prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    }
    /* execvp searches the PATH of the environment it runs in: make that the process's own. */
    environ = envp;
    execvp(argv[0], argv);
    number = errno;
  }
  (void)!write(report, &number, sizeof number);
  _exit(127);
}

/* Splits a spawn payload (NUL-terminated strings: cwd, file, argc, argv…, env…) into `fields`
   and a calloc'd argv whose tail after argv's NULL is the environment; NULL (answered) if malformed. */
static char **parse_spawn(long id, char *payload, size_t size, char *fields[3], char ***envp) {
  /* Checked first: every strlen below then stops inside the payload. */
  if (size == 0 || payload[size - 1] != '\0') {
    answer("error %ld EINVAL malformed spawn request\n", id);
    return NULL;
  }
  char *at = payload, *end = payload + size;
  for (int i = 0; i < 3 && at < end; i++) {
    fields[i] = at;
    at += strlen(at) + 1;
  }
  long argc = fields[2] != NULL ? strtol(fields[2], NULL, 10) : 0;
  size_t strings = 0;
  for (char *p = at; p < end; p += strlen(p) + 1) {
    strings++;
  }
  if (fields[2] == NULL || argc < 1 || strings < (size_t)argc) {
    answer("error %ld EINVAL malformed spawn request\n", id);
    return NULL;
  }
  char **argv = calloc(strings + 2, sizeof *argv);
  if (argv == NULL) {
    answer("error %ld ENOMEM out of memory\n", id);
    return NULL;
  }
  size_t n = 0;
  for (char *p = at; p < end; p += strlen(p) + 1) {
    argv[n++] = p;
  }
  /* argv[0..argc) then NULL, then the environment from argv[argc+1] on, NULL-terminated. */
  memmove(argv + argc + 1, argv + argc, (strings - (size_t)argc) * sizeof *argv);
  argv[argc] = NULL;
  argv[strings + 1] = NULL;
  *envp = argv + argc + 1;
  return argv;
}

static void spawn(long id, char *payload, size_t size) {
  char *fields[3] = {0};
  char **envp = NULL;
  char **argv = parse_spawn(id, payload, size, fields, &envp);
  if (argv == NULL) {
    return;
  }
  /* Named in an error; argv[0] is the same file (the harness sends it there too). */
  char *file = fields[1];
  int out[2] = {-1, -1}, err[2] = {-1, -1}, report[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0) {
    int number = errno;
    for (int i = 0; i < 2; i++) {
      close_if_open(out[i]);
      close_if_open(err[i]);
    }
    answer("error %ld %s pipe: %s\n", id, errno_name(number), strerror(number));
    free(argv);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(out[0]);
    close(err[0]);
    close(report[0]);
    start(fields[0], argv, envp, out[1], err[1], report[1]);
  }
  int fork_errno = errno;
  close(out[1]);
  close(err[1]);
  close(report[1]);
  free(argv);
  int number = pid < 0 ? fork_errno : 0;
  if (pid > 0) {
    setpgid(pid, pid); /* Also done by the child: whichever runs first. */
    number = exec_errno(report[0]);
    if (number != 0) {
      waitpid(pid, NULL, 0);
    }
  } else {
    close(report[0]);
  }
  if (number != 0) {
    close(out[0]);
    close(err[0]);
    answer("error %ld %s %s: %s\n", id, errno_name(number), pid < 0 ? "fork" : file, strerror(number));
    return;
  }
  if (track(id, pid, out[0], err[0])) {
    answer("pid %ld %d %d %d\n", id, (int)pid, out[0], err[0]);
  }
}

/* Nothing of bwrap's (its info and data fds) reaches the processes; fds below `from` stay (the
   channel). close_range is Linux 5.9+. */
static void close_inherited(unsigned from) {
  if (syscall(SYS_close_range, from, ~0U, 0U) == 0) {
    return;
  }
  long limit = sysconf(_SC_OPEN_MAX);
  for (int fd = (int)from; fd < (limit > 0 && limit < 65536 ? limit : 65536); fd++) {
    close(fd);
  }
}

/* Lambda's limits for every process of the sandbox: set on ourselves, inherited by each. A hard
   limit already lower than Lambda's stays (raising it needs a privilege the sandbox does not have). */
static int set_limit(int resource, const char *value) {
  struct rlimit now;
  if (getrlimit(resource, &now) != 0) {
    return -1;
  }
  rlim_t wanted = strtoul(value, NULL, 10);
  rlim_t limit = now.rlim_max != RLIM_INFINITY && now.rlim_max < wanted ? now.rlim_max : wanted;
  struct rlimit set = {.rlim_cur = limit, .rlim_max = limit};
  return setrlimit(resource, &set);
}

static int set_limits(int argc, char **argv) {
  if (argc < 3) {
    return 0;
  }
  if (set_limit(RLIMIT_NOFILE, argv[1]) != 0 || set_limit(RLIMIT_NPROC, argv[2]) != 0) {
    perror("hold: setrlimit");
    return -1;
  }
  return 0;
}

/* Runs every complete command in `buffer`; what is left (a partial command) moves to its start. */
static void run_commands(char *buffer, size_t *used) {
  for (;;) {
    char *newline = memchr(buffer, '\n', *used);
    if (newline == NULL) {
      return;
    }
    *newline = '\0';
    size_t head = (size_t)(newline - buffer) + 1;
    long id = 0;
    unsigned long bytes = 0;
    unsigned port = 0;
    if (sscanf(buffer, "spawn %ld %lu", &id, &bytes) == 2) {
      if (*used - head < bytes) {
        *newline = '\n';
        return; /* The payload is still coming. */
      }
      spawn(id, buffer + head, bytes);
      head += bytes;
    } else if (sscanf(buffer, "release %ld", &id) == 1) {
      release(id);
    } else if (sscanf(buffer, "listen %ld %lu", &id, &bytes) == 2) {
      give_socket(id, (int)bytes);
    } else if (sscanf(buffer, "socket %ld", &id) == 1) {
      give_socket(id, -1);
    } else if (sscanf(buffer, "inode %ld %lu %u", &id, &bytes, &port) == 3) {
      find_inode(id, (unsigned)bytes, port);
    } else {
      fprintf(stderr, "hold: unknown command: %.80s\n", buffer);
    }
    memmove(buffer, buffer + head, *used - head);
    *used -= head;
  }
}

/* Sets up the holder: limits, dumpability, SIGCHLD through a signalfd (returned; -1 on failure). */
static int set_up(int argc, char **argv, int init) {
  if (set_limits(argc, argv) != 0) {
    return -1;
  }
  if (init && argc >= 4 && strcmp(argv[3], "undumpable") == 0) {
    /* The processes share our uid: without this they could ptrace us or write /proc/1/mem. Only
       for a root harness: /proc/1/fd becomes root's, and a harness that is not root could no
       longer take our pipes (there Yama's default scope, 1, keeps descendants from tracing us). */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  }
  signal(SIGPIPE, SIG_IGN);
  sigset_t child_ended;
  sigemptyset(&child_ended);
  sigaddset(&child_ended, SIGCHLD);
  sigprocmask(SIG_BLOCK, &child_ended, NULL);
  int signals = signalfd(-1, &child_ended, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signals < 0) {
    perror("hold: signalfd");
  }
  return signals;
}

int main(int argc, char **argv) {
  close_inherited(keep_channel());
  int init = getpid() == 1;
  int signals = set_up(argc, argv, init);
  if (signals < 0) {
    return 1;
  }
  answer("ready %d\n", (int)getpid());
  size_t capacity = 1 << 16, used = 0;
  char *buffer = malloc(capacity);
  if (buffer == NULL) {
    return 1;
  }
  for (;;) {
    struct pollfd fds[3] = {{.fd = 0, .events = POLLIN}, {.fd = signals, .events = POLLIN}, {.fd = channel, .events = POLLIN}};
    if (poll(fds, channel >= 0 ? 3 : 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return 1;
    }
    if (fds[1].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(signals, &info, sizeof info) == (ssize_t)sizeof info) {
      }
      if (init) {
        reap_orphans();
      }
      reap();
    }
    if (channel >= 0 && fds[2].revents != 0) {
      drain_channel();
    }
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      continue;
    }
    if (used == capacity) {
      char *grown = realloc(buffer, capacity * 2);
      if (grown == NULL) {
        return 1;
      }
      buffer = grown;
      capacity *= 2;
    }
    ssize_t got = read(0, buffer + used, capacity - used);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (got <= 0) {
      return 0; /* The sandbox is over. */
    }
    used += (size_t)got;
    run_commands(buffer, &used);
  }
}
