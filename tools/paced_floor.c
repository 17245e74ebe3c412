/*
 * The paced and heavy scenarios of `parley bench`, driven by the leanest
 * client there is: one C epoll loop for every talker and reader, one recv per
 * readable socket, and sends paced by a timerfd to the microsecond.
 *
 * Connects N clients to a line-based chat server on 127.0.0.1 (parley,
 * ncat -l --chat, anything that relays a line to everyone else), lets the
 * greetings and join notices pass, then has every client send M lines at R
 * lines per second, the clients evenly spread over the interval (as the bench
 * does), while every client also reads. Each line carries its sender, number
 * and send time; the time it takes to reach each other client is recorded
 * (from when it was actually sent). Unlike the Deno bench, whose timers fire
 * in ticks of about 2 ms (so that lines leave in small bursts), the sends here
 * are evenly spaced, and reading costs only `recv` calls until a socket is
 * empty, so what is measured is the server and the kernel.
 *
 *     gcc -O2 -o /tmp/paced_floor tools/paced_floor.c
 *     /tmp/paced_floor 4000 100 100 10     # paced: 100 clients x 100 lines at 10/s
 *     /tmp/paced_floor 4000 100 500 50     # heavy: 100 clients x 500 lines at 50/s
 *
 * Prints deliveries, p50, p90, p99 and max latency in milliseconds, and this
 * process's CPU seconds. A line that arrives twice, or after a later line of
 * the same sender, is counted as a repeat, not delivered. Exit code 1 when
 * deliveries are missing 5 s after the last send (or lines repeat), 2 for
 * wrong usage.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define SETTLE_NS 1000000000LL /* greetings and join notices arrive, then are dropped */
#define GIVE_UP_NS 5000000000LL
#define LINE_MAX_BYTES 8192
#define BUCKETS 200000 /* latency histogram: 10 us buckets up to 2 s */
#define BUCKET_NS 10000LL

struct client {
  int fd;
  size_t have;
  char line[LINE_MAX_BYTES + 1];
};

static long long histogram[BUCKETS + 1];
static long long delivered, repeats, late_max_ns;
static int clients;
/* last_seq[receiver * clients + sender]: the newest line number that receiver got from sender. */
static int *last_seq;
static int poll_fd, timer_fd = -1;
static struct client *all;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    perror("connect");
    exit(1);
  }
  return fd;
}

/* A payload line holds "@@sender:seq:sent_ns:"; anything else (greetings, notices) is skipped. */
static void take_line(int receiver, const char *line, size_t length) {
  const char *marker = memmem(line, length, "@@", 2);
  if (!marker) return;
  long long sent = 0;
  int sender = 0, seq = 0;
  if (sscanf(marker + 2, "%d:%d:%lld:", &sender, &seq, &sent) != 3) return;
  if (sender < 0 || sender >= clients || sender == receiver) return;
  int *last = &last_seq[receiver * clients + sender];
  if (seq <= *last) {
    repeats++;
    return;
  }
  *last = seq;
  long long latency = now_ns() - sent;
  long long bucket = latency / BUCKET_NS;
  histogram[bucket > BUCKETS ? BUCKETS : bucket]++;
  if (latency > late_max_ns) late_max_ns = latency;
  delivered++;
}

static void drain(int index, int count_payloads) {
  struct client *c = &all[index];
  char buffer[65536];
  for (;;) {
    ssize_t got = recv(c->fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (got <= 0) {
      if (got == 0) {
        fprintf(stderr, "the server closed a connection\n");
        exit(1);
      }
      return; /* EAGAIN */
    }
    for (ssize_t i = 0; i < got; i++) {
      if (buffer[i] == '\n') {
        c->line[c->have] = '\0';
        if (count_payloads) take_line(index, c->line, c->have);
        c->have = 0;
      } else if (c->have < LINE_MAX_BYTES) {
        c->line[c->have++] = buffer[i];
      }
    }
  }
}

/* The bucket's upper edge, but never above the worst latency seen (nor past the last bucket). */
static double percentile_ms(double share) {
  long long want = (long long)(share * (double)delivered), seen = 0;
  for (int b = 0; b < BUCKETS; b++) {
    seen += histogram[b];
    if (seen > want) {
      long long edge = (long long)(b + 1) * BUCKET_NS;
      return (double)(edge < late_max_ns ? edge : late_max_ns) / 1e6;
    }
  }
  return (double)late_max_ns / 1e6;
}

/* Reads whatever is waiting (and the send timer's expiry), waiting up to `timeout_ms`. */
static void read_ready(int timeout_ms, int count_payloads) {
  struct epoll_event events[256];
  int ready = epoll_wait(poll_fd, events, 256, timeout_ms);
  for (int e = 0; e < ready; e++) {
    if (events[e].data.u32 == UINT32_MAX) {
      uint64_t expirations;
      if (read(timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) exit(1);
    } else {
      drain((int)events[e].data.u32, count_payloads);
    }
  }
}

/*
 * Sends a whole line without ever blocking the loop: while the socket is full
 * (the server reads this talker more slowly because its readers are behind),
 * the readers are read, so that they can catch up.
 */
static void send_line(struct client *c, const char *line, size_t length) {
  while (length > 0) {
    ssize_t sent = send(c->fd, line, length, MSG_DONTWAIT);
    if (sent > 0) {
      line += sent;
      length -= (size_t)sent;
    } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      read_ready(1, 1);
    } else {
      perror("send");
      exit(1);
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: paced_floor PORT CLIENTS MESSAGES RATE [SIZE]\n");
    return 2;
  }
  int port = atoi(argv[1]), messages = atoi(argv[3]);
  clients = atoi(argv[2]);
  double rate = atof(argv[4]);
  int size = argc > 5 ? atoi(argv[5]) : 64;
  if (port <= 0 || clients < 2 || messages < 1 || rate <= 0 || size < 40 || size > 4000) {
    fprintf(stderr, "paced_floor: PORT, CLIENTS >= 2, MESSAGES >= 1, RATE > 0, SIZE 40..4000\n");
    return 2;
  }
  all = calloc((size_t)clients, sizeof *all);
  last_seq = malloc((size_t)clients * (size_t)clients * sizeof *last_seq);
  if (!all || !last_seq) return 1;
  for (int i = 0; i < clients * clients; i++) last_seq[i] = -1;
  poll_fd = epoll_create1(0);
  for (int i = 0; i < clients; i++) {
    all[i].fd = connect_to(port);
    struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(poll_fd, EPOLL_CTL_ADD, all[i].fd, &event);
  }
  for (int i = 0; i < clients; i++) {
    /* Line clients of parley greet silent connections after a short wait; this one speaks. */
    if (send(all[i].fd, "\n", 1, 0) != 1) return 1;
  }
  long long settle_until = now_ns() + SETTLE_NS;
  while (now_ns() < settle_until) read_ready(10, 0);

  int timer = timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct epoll_event timer_event = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
  epoll_ctl(poll_fd, EPOLL_CTL_ADD, timer, &timer_event);
  long long interval = (long long)(1e9 / rate), start = now_ns() + 10000000LL;
  long long total = (long long)clients * messages, sent_count = 0;
  long long expected = total * (clients - 1);
  char payload[4096];
  long long last_send = start, deadline = 0;
  int next_client = 0, next_seq = 0; /* sends go out in time order: client i at start + i*interval/clients + seq*interval */
  for (;;) {
    if (sent_count < total) {
      long long due = start + (long long)next_seq * interval +
                      (long long)next_client * interval / clients;
      if (now_ns() >= due) {
        struct client *c = &all[next_client];
        int head = snprintf(payload, sizeof payload, "@@%d:%d:%lld:", next_client, next_seq, now_ns());
        if (head >= size - 1) {
          fprintf(stderr, "paced_floor: SIZE %d is too small for the line's header\n", size);
          return 2;
        }
        memset(payload + head, 'x', (size_t)(size - head - 1));
        payload[size - 1] = '\n';
        send_line(c, payload, (size_t)size);
        sent_count++;
        last_send = now_ns();
        if (++next_client == clients) next_client = 0, next_seq++;
        continue;
      }
      struct itimerspec at = {.it_value = {due / 1000000000LL, due % 1000000000LL}};
      timerfd_settime(timer, TFD_TIMER_ABSTIME, &at, NULL);
    } else if (deadline == 0) {
      deadline = last_send + GIVE_UP_NS;
    }
    if (delivered >= expected) break;
    if (deadline && now_ns() > deadline) break;
    read_ready(sent_count < total ? -1 : 100, 1);
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double cpu = (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
               (double)usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  printf("delivered %lld of %lld  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms  client CPU %.2f s"
         "  repeats %lld\n",
         delivered, expected, percentile_ms(0.50), percentile_ms(0.90), percentile_ms(0.99),
         (double)late_max_ns / 1e6, cpu, repeats);
  return delivered >= expected && repeats == 0 ? 0 : 1;
}
