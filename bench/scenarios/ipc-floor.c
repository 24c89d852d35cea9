/* The IPC floor: ping-pong of `size`-byte messages over an AF_UNIX SOCK_STREAM socketpair
 * (the transport Node's IPC channel uses) between two processes.
 * usage: ipc-floor [round_trips=200000] [size=32]; prints round trips per second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int xfer(int fd, char *buf, size_t size, int writing) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = writing ? write(fd, buf + done, size - done) : read(fd, buf + done, size - done);
    if (n <= 0) return -1;
    done += (size_t)n;
  }
  return 0;
}

int main(int argc, char **argv) {
  long rounds = argc > 1 ? atol(argv[1]) : 200000;
  size_t size = argc > 2 ? (size_t)atol(argv[2]) : 32;
  char buf[4096];
  int sv[2];
  if (size > sizeof buf || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  memset(buf, 'x', sizeof buf);
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    close(sv[0]);
    while (xfer(sv[1], buf, size, 0) == 0 && xfer(sv[1], buf, size, 1) == 0) {}
    _exit(0);
  }
  close(sv[1]);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < rounds; i++) {
    if (xfer(sv[0], buf, size, 1) || xfer(sv[0], buf, size, 0)) return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  close(sv[0]);
  waitpid(pid, NULL, 0);
  double secs = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  printf("%.0f\n", rounds / secs);
  return 0;
}
