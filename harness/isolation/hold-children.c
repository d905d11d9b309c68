/* The holder's children (included by hold.c): each process it started, held until its release
   (the harness took its pipes), then reaped and reported; and, as pid 1, the orphans it adopts. */

struct child {
  long id;
  pid_t pid;
  int out, err;
  int released;
};

static struct child *children;
static size_t child_count, child_capacity;

static void answer(const char *format, ...) __attribute__((format(printf, 1, 2)));

static void close_if_open(int fd) {
  if (fd >= 0) {
    close(fd);
  }
}

static void close_pipes(struct child *child) {
  if (child->out >= 0) {
    close(child->out);
    child->out = -1;
  }
  if (child->err >= 0) {
    close(child->err);
    child->err = -1;
  }
}

/* Keeps the started child until its release; false (answered, the child killed) without memory. */
static int track(long id, pid_t pid, int out, int err) {
  if (child_count == child_capacity) {
    size_t capacity = child_capacity == 0 ? 16 : child_capacity * 2;
    struct child *grown = realloc(children, capacity * sizeof *grown);
    if (grown == NULL) {
      kill(-pid, SIGKILL);
      waitpid(pid, NULL, 0);
      close(out);
      close(err);
      answer("error %ld ENOMEM out of memory\n", id);
      return 0;
    }
    children = grown;
    child_capacity = capacity;
  }
  children[child_count++] = (struct child){.id = id, .pid = pid, .out = out, .err = err, .released = 0};
  return 1;
}

static int tracked(pid_t pid) {
  for (size_t i = 0; i < child_count; i++) {
    if (children[i].pid == pid) {
      return 1;
    }
  }
  return 0;
}

/* As pid 1, every orphan of the sandbox is our child: reap those we do not hold (a daemon that
   ended), leaving the held ones for reap(). Their pids are in our children file (/proc is the
   sandbox's own). */
static void reap_orphans(void) {
  char path[64], list[8192];
  snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return;
  }
  ssize_t got = read(fd, list, sizeof list - 1);
  close(fd);
  if (got <= 0) {
    return;
  }
  list[got] = '\0';
  for (char *at = list, *end; *at != '\0'; at = end) {
    long pid = strtol(at, &end, 10);
    if (end == at) {
      break;
    }
    if (!tracked((pid_t)pid)) {
      waitpid((pid_t)pid, NULL, WNOHANG);
    }
  }
}

/* Reaps every released child that ended and reports it; unreleased ones stay zombies until then. */
static void reap(void) {
  for (size_t i = 0; i < child_count;) {
    struct child *child = &children[i];
    int status;
    if (child->released && waitpid(child->pid, &status, WNOHANG) == child->pid) {
      if (WIFSIGNALED(status)) {
        answer("exit %ld signal %d\n", child->id, WTERMSIG(status));
      } else {
        answer("exit %ld code %d\n", child->id, WIFEXITED(status) ? WEXITSTATUS(status) : 1);
      }
      children[i] = children[--child_count];
      continue;
    }
    i++;
  }
}

static void release(long id) {
  for (size_t i = 0; i < child_count; i++) {
    if (children[i].id == id && !children[i].released) {
      children[i].released = 1;
      close_pipes(&children[i]);
    }
  }
  reap();
}

