/*
 * The holder's part of the sandbox's network (included by hold.c): it makes TCP sockets inside
 * the sandbox's network namespace and hands them to the harness over Node's IPC channel, the way
 * Node's cluster hands a listening socket to a worker: one JSON line
 *
 *     {"cmd":"NODE_HANDLE","type":"net.Native","msg":{"id":<id>}}\n
 *
 * sent with the socket as SCM_RIGHTS (Node: lib/internal/child_process.js, handleConversion and
 * setupChannel). Node answers {"cmd":"NODE_HANDLE_ACK"} lines, which are read and dropped.
 *
 * It also names the inode of a connection inside (`inode`): one exact lookup through sock_diag,
 * the kernel's own hash lookup, where /proc/<pid>/net/tcp walks the host's whole
 * established-connection hash, every network's (262,144 buckets, ~4 ms of CPU here).
 */
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The IPC channel to the harness (fd 3 once kept), or -1 when the harness gave none. */
static int channel = -1;

static void answer(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Moves Node's channel to fd 3 and returns the first fd close_inherited may close. */
static unsigned keep_channel(void) {
  const char *given = getenv("NODE_CHANNEL_FD");
  char *end = NULL;
  long fd = given == NULL ? -1 : strtol(given, &end, 10);
  unsetenv("NODE_CHANNEL_FD");
  unsetenv("NODE_CHANNEL_SERIALIZATION_MODE");
  if (fd < 0 || end == given || *end != '\0' || fcntl((int)fd, F_GETFD) < 0) {
    return 3;
  }
  if (fd != 3 && dup3((int)fd, 3, O_CLOEXEC) < 0) {
    return 3;
  }
  fcntl(3, F_SETFD, FD_CLOEXEC);
  channel = 3;
  return 4;
}

/* Node's acknowledgements: nothing to act on, but unread they would fill the channel. */
static void drain_channel(void) {
  char scrap[4096];
  ssize_t got = recv(channel, scrap, sizeof scrap, MSG_DONTWAIT);
  if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
    close(channel); /* The harness closed it: no more sockets to give. */
    channel = -1;
  }
}

static int send_handle(long id, int fd) {
  char line[128];
  int length = snprintf(line, sizeof line, "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":{\"id\":%ld}}\n", id);
  struct iovec iov = {.iov_base = line, .iov_len = (size_t)length};
  union {
    char bytes[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes};
  struct cmsghdr *header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(header), &fd, sizeof fd);
  for (;;) {
    if (sendmsg(channel, &message, MSG_NOSIGNAL) == (ssize_t)length) {
      return 0;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN) {
      struct pollfd writable = {.fd = channel, .events = POLLOUT};
      poll(&writable, 1, 1000);
      continue;
    }
    return -1;
  }
}

/* A TCP socket of the sandbox's network, listening on 127.0.0.1:<port> unless port < 0. */
static void give_socket(long id, int port) {
  if (channel < 0) {
    answer("error %ld ENOTCONN the holder has no channel to the harness\n", id);
    return;
  }
  /* Non-blocking as libuv's own sockets are: it takes a received fd as it is, and a blocking one
     would block the harness's event loop in connect(), or in the accept() that drains a listener. */
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    answer("error %ld %s socket: %s\n", id, errno_name(errno), strerror(errno));
    return;
  }
  if (port >= 0) {
    int on = 1;
    /* A generation's listener replaces the last one's on the same port while its closed
       connections are still in TIME_WAIT. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = {htonl(INADDR_LOOPBACK)}};
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, 511) != 0) {
      int number = errno;
      close(fd);
      answer("error %ld %s listen on 127.0.0.1:%d: %s\n", id, errno_name(number), port, strerror(number));
      return;
    }
  }
  if (send_handle(id, fd) != 0) {
    answer("error %ld %s sending the socket: %s\n", id, errno_name(errno), strerror(errno));
  }
  close(fd);
}

/* The sock_diag socket, opened at the first lookup, or -1. */
static int diag = -1;

/* The inode of the TCP connection 127.0.0.1:<local> -> 127.0.0.1:<remote> in the sandbox's network. */
static void find_inode(long id, unsigned local, unsigned remote) {
  if (diag < 0) {
    diag = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (diag < 0) {
      answer("error %ld %s sock_diag: %s\n", id, errno_name(errno), strerror(errno));
      return;
    }
  }
  struct {
    struct nlmsghdr header;
    struct inet_diag_req_v2 request;
  } message = {
      .header = {.nlmsg_len = sizeof message, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST},
      .request = {.sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0u,
                  .id = {.idiag_sport = htons((uint16_t)local), .idiag_dport = htons((uint16_t)remote),
                         .idiag_src = {htonl(INADDR_LOOPBACK)}, .idiag_dst = {htonl(INADDR_LOOPBACK)},
                         .idiag_cookie = {INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE}}},
  };
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(diag, &message, sizeof message, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    answer("error %ld %s sock_diag: %s\n", id, errno_name(errno), strerror(errno));
    return;
  }
  /* The kernel answers within the sendto: one inet_diag_msg, or an nlmsgerr. */
  union {
    struct nlmsghdr header;
    char bytes[8192];
  } reply;
  ssize_t got = recv(diag, &reply, sizeof reply, MSG_DONTWAIT);
  if (got < 0) {
    answer("error %ld %s sock_diag: %s\n", id, errno_name(errno), strerror(errno));
  } else if (NLMSG_OK(&reply.header, (size_t)got) && reply.header.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
    answer("inode %ld %u\n", id, ((struct inet_diag_msg *)NLMSG_DATA(&reply.header))->idiag_inode);
  } else if (NLMSG_OK(&reply.header, (size_t)got) && reply.header.nlmsg_type == NLMSG_ERROR) {
    int number = -((struct nlmsgerr *)NLMSG_DATA(&reply.header))->error;
    answer("error %ld %s sock_diag: %s\n", id, errno_name(number), strerror(number));
  } else {
    answer("error %ld EPROTO sock_diag: an answer of type %u\n", id, (unsigned)reply.header.nlmsg_type);
  }
}
