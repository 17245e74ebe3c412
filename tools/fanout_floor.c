/*
 * The latency floor of one chat fan-out on this machine, with the leanest
 * reader there is: one C epoll loop, one recv per readable socket.
 *
 * Measures the same as fanout_floor.py: connects one talker and N readers to a
 * line-based chat server on 127.0.0.1 (parley, ncat -l --chat, anything that
 * relays a line to everyone else), sends one short line at a time, 10 ms
 * apart, and times how long it takes to reach each reader. Nothing queues, so
 * this is what a single fan-out costs: the server's N writes, the kernel, and
 * N reads that cost no more than a system call each.
 *
 *     gcc -O2 -o /tmp/fanout_floor tools/fanout_floor.c
 *     ncat -l --chat --max-conns 300 127.0.0.1 4000 &
 *     /tmp/fanout_floor 4000 99
 *
 * Prints p50, p99 and max over all deliveries, in milliseconds, in the same
 * line format as fanout_floor.py. Exit code 1 when a line does not reach every
 * reader within 5 s, 2 for wrong usage.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MESSAGES 400
#define GAP_NS 10000000L        /* 10 ms between lines */
#define SETTLE_NS 500000000L    /* greetings and join notices arrive, then are dropped */
#define GIVE_UP_S 5.0           /* a line missing at a reader for this long: fail */
#define TAIL 32                 /* bytes kept from the last read, for a marker split across reads */

struct reader {
  int fd;
  int seen; /* the sequence number this reader last got */
  size_t kept;
  char tail[TAIL];
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_ns(long ns) {
  struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    perror("fanout_floor: socket");
    exit(1);
  }
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    fprintf(stderr, "fanout_floor: cannot connect to 127.0.0.1:%d: %s\n", port, strerror(errno));
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Reads what `r` has; true when the marker of line `seq` is in it (or was split into it). */
static int arrived(struct reader *r, const char *marker, size_t marker_len) {
  char buffer[TAIL + 65536];
  memcpy(buffer, r->tail, r->kept);
  ssize_t n = recv(r->fd, buffer + r->kept, sizeof buffer - r->kept, 0);
  if (n == 0) {
    fprintf(stderr, "fanout_floor: the server closed a reader\n");
    exit(1);
  }
  if (n < 0) return 0; /* EAGAIN: nothing after all */
  size_t length = r->kept + (size_t)n;
  int found = memmem(buffer, length, marker, marker_len) != NULL;
  r->kept = length < TAIL ? length : TAIL;
  memmove(r->tail, buffer + length - r->kept, r->kept);
  return found;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: fanout_floor PORT READERS [MESSAGES]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  int count = atoi(argv[2]);
  int messages = argc == 4 ? atoi(argv[3]) : DEFAULT_MESSAGES;
  if (port <= 0 || port > 65535 || count <= 0 || messages <= 0) {
    fprintf(stderr, "usage: fanout_floor PORT READERS [MESSAGES]\n");
    return 2;
  }

  int talker = connect_to(port);
  struct reader *readers = calloc((size_t)count, sizeof *readers);
  double *latencies = malloc(sizeof(double) * (size_t)count * (size_t)messages);
  struct epoll_event *events = malloc(sizeof *events * (size_t)count);
  if (!readers || !latencies || !events) {
    fprintf(stderr, "fanout_floor: out of memory\n");
    return 1;
  }
  for (int i = 0; i < count; i++) {
    readers[i].fd = connect_to(port);
    readers[i].seen = -1;
  }
  pause_ns(SETTLE_NS);
  int poller = epoll_create1(0);
  for (int i = 0; i < count; i++) {
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = &readers[i]};
    epoll_ctl(poller, EPOLL_CTL_ADD, readers[i].fd, &event);
    char drain[65536];
    while (recv(readers[i].fd, drain, sizeof drain, MSG_DONTWAIT) > 0) {
    }
  }

  size_t samples = 0;
  for (int seq = 0; seq < messages; seq++) {
    char line[64], marker[64];
    int line_len = snprintf(line, sizeof line, "floor-%d\n", seq);
    /* The relayed line ends right after the marker, so floor-1 never matches floor-12. */
    int marker_len = snprintf(marker, sizeof marker, "floor-%d\n", seq);
    double started = now_s();
    if (send(talker, line, (size_t)line_len, 0) != line_len) {
      perror("fanout_floor: send");
      return 1;
    }
    int got = 0;
    while (got < count) {
      int ready = epoll_wait(poller, events, count, 1000);
      if (ready < 0 && errno != EINTR) {
        perror("fanout_floor: epoll_wait");
        return 1;
      }
      for (int e = 0; e < ready; e++) {
        struct reader *r = events[e].data.ptr;
        if (arrived(r, marker, (size_t)marker_len) && r->seen != seq) {
          r->seen = seq;
          latencies[samples++] = now_s() - started;
          got++;
        }
      }
      if (got < count && now_s() - started > GIVE_UP_S) {
        fprintf(stderr, "fanout_floor: line %d reached %d of %d readers within %.0f s\n", seq,
                got, count, GIVE_UP_S);
        return 1;
      }
    }
    pause_ns(GAP_NS);
  }

  qsort(latencies, samples, sizeof *latencies, compare);
  double p50 = latencies[samples / 2] * 1000;
  double p99 = latencies[(size_t)((double)samples * 0.99)] * 1000;
  double max = latencies[samples - 1] * 1000;
  printf("%d readers, %d messages: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", count, messages, p50,
         p99, max);
  return 0;
}
