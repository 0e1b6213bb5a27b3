// Deterministic data sets for bench/run.sh.
//
//   gendata create DIR COUNT SIZE SEED PER_DIR
//       COUNT files of SIZE bytes: DIR/dNNNNN/fNNNNNNN.bin, PER_DIR files per folder,
//       pseudo-random (incompressible) bytes from (SEED, index), mtime 2023-11-14 + index s.
//   gendata modify DIR COUNT SIZE SEED PER_DIR VERSION INDEX...
//       rewrites the given files with the content of VERSION (0 = the original):
//       VERSION > 0 gets mtime = now (so every tool, aws s3 sync included, sees a change),
//       VERSION 0 gets its original content and mtime back.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const int64_t kBaseMtime = 1700000000;  // 2023-11-14T22:13:20Z

static uint64_t splitmix(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void die(const char* what, const char* path) {
  fprintf(stderr, "gendata: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

static char* buf;
static size_t buf_size = 1 << 20;

static void write_file(const char* dir, uint64_t i, uint64_t size, uint64_t seed, uint64_t per_dir,
                       uint64_t version, int make_dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/d%05llu", dir, (unsigned long long)(i / per_dir));
  if (make_dir && i % per_dir == 0 && mkdir(path, 0755) != 0 && errno != EEXIST) die("mkdir", path);
  snprintf(path, sizeof path, "%s/d%05llu/f%07llu.bin", dir, (unsigned long long)(i / per_dir),
           (unsigned long long)i);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open", path);
  uint64_t s = seed * 0x100000001b3ull ^ (i << 20) ^ (version << 52);
  uint64_t left = size;
  while (left > 0) {
    size_t n = left < buf_size ? (size_t)left : buf_size;
    for (size_t k = 0; k < n; k += 8) {
      uint64_t r = splitmix(&s);
      memcpy(buf + k, &r, 8);
    }
    const char* p = buf;
    size_t m = n;
    while (m > 0) {
      ssize_t w = write(fd, p, m);
      if (w < 0) die("write", path);
      p += w;
      m -= (size_t)w;
    }
    left -= n;
  }
  struct timespec ts[2];
  if (version == 0) {
    ts[0].tv_sec = ts[1].tv_sec = kBaseMtime + (int64_t)i;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
  } else {
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[1] = ts[0];
  }
  if (futimens(fd, ts) != 0) die("futimens", path);
  if (close(fd) != 0) die("close", path);
}

int main(int argc, char** argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: gendata create|modify DIR COUNT SIZE SEED PER_DIR [VERSION INDEX...]\n");
    return 2;
  }
  const char* dir = argv[2];
  uint64_t count = strtoull(argv[3], 0, 10), size = strtoull(argv[4], 0, 10);
  uint64_t seed = strtoull(argv[5], 0, 10), per_dir = strtoull(argv[6], 0, 10);
  if (per_dir == 0) per_dir = 1000;
  buf = malloc(buf_size + 8);
  if (!buf) return 1;
  if (strcmp(argv[1], "create") == 0) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) die("mkdir", dir);
    for (uint64_t i = 0; i < count; ++i) write_file(dir, i, size, seed, per_dir, 0, 1);
    return 0;
  }
  if (strcmp(argv[1], "modify") == 0 && argc >= 8) {
    uint64_t version = strtoull(argv[7], 0, 10);
    for (int a = 8; a < argc; ++a) {
      uint64_t i = strtoull(argv[a], 0, 10);
      if (i >= count) {
        fprintf(stderr, "gendata: index %llu out of range\n", (unsigned long long)i);
        return 2;
      }
      write_file(dir, i, size, seed, per_dir, version, 0);
    }
    return 0;
  }
  fprintf(stderr, "gendata: unknown mode %s\n", argv[1]);
  return 2;
}
