/* How a forked child's exec went, as the launcher (enter.c) and the holder (hold.c) learn it and
   tell the harness: the child writes its errno to a close-on-exec pipe if the exec fails, so EOF
   with nothing read means it ran. The harness maps EACCES and ENOENT to Lambda's
   PermissionDenied and NotFound, the rest to UnknownError with the name in its message. */
#ifndef LAMBDA_HARNESS_EXEC_REPORT_H
#define LAMBDA_HARNESS_EXEC_REPORT_H

#include <errno.h>
#include <unistd.h>

static const char *errno_name(int number) {
  switch (number) {
  case EACCES: return "EACCES";
  case ENOENT: return "ENOENT";
  case ENOEXEC: return "ENOEXEC";
  case ENOTDIR: return "ENOTDIR";
  case EPERM: return "EPERM";
  case EINVAL: return "EINVAL";
  case ELOOP: return "ELOOP";
  case ENAMETOOLONG: return "ENAMETOOLONG";
  case ETXTBSY: return "ETXTBSY";
  case E2BIG: return "E2BIG";
  case ENOMEM: return "ENOMEM";
  case EISDIR: return "EISDIR";
  case EAGAIN: return "EAGAIN";
  case EADDRINUSE: return "EADDRINUSE";
  case ENOTCONN: return "ENOTCONN";
  case EMFILE: return "EMFILE";
  default: return "UNKNOWN";
  }
}

/* Waits for the child's exec: 0 if it ran, else the errno it failed with. Closes `report`. */
static int exec_errno(int report) {
  int number = 0;
  ssize_t got;
  do {
    got = read(report, &number, sizeof number);
  } while (got < 0 && errno == EINTR);
  close(report);
  return got == (ssize_t)sizeof number ? number : 0;
}

#endif
