/*
 * confine_attacker: run inside a container that shares a PID namespace with processes the
 * runtime starts (pod containers, `runp exec`, exec probes). For a bounded time it watches
 * /proc for every other process of the namespace and reports any that
 *   - has the HOST's root: /proc/<pid>/root/tmp/<marker> opens (the test created
 *     /tmp/<marker> on the host only), or
 *   - holds CAP_SYS_ADMIN in CapEff or CapBnd (no container of the test is granted it, so such
 *     a process is the runtime itself, still privileged, inside the container's namespace).
 *
 *   confine_attacker SECONDS MARKER
 *
 * Output (line-buffered on stdout):
 *   START pid=<own pid> max=<highest pid seen>
 *   FOUND root <pid> comm=<comm>
 *   FOUND caps <pid> <CapEff|CapBnd>:<hex> comm=<comm>
 *   DONE iterations=<n> scans=<n> pids=<distinct pids seen> found=<n>
 * At most MAX_REPORTS FOUND lines are printed (one per pid and kind); `found` counts all.
 *
 * The watch: a full scan of /proc every SCAN_EVERY iterations (and on start), and in every
 * iteration a tight probe of the pids just around the highest pid seen (max-2 .. max+16),
 * where a newly forked process appears. Bounded by the deadline; exits 2 on bad usage.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPORTS 12
#define SCAN_EVERY 64
#define PID_LIMIT (1 << 22) /* the kernel's maximum pid_max */
#define CAP_SYS_ADMIN_BIT 21

static const char *marker;
static int self;
static int maxpid;
static unsigned long found, printed;
static unsigned char seen[PID_LIMIT / 8];
static unsigned long distinct;
/* pids already reported, per kind (0 root, 1 caps) */
static int reported[2][MAX_REPORTS];
static int nreported[2];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void comm_of(int pid, char *buf, size_t len) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0) {
        snprintf(buf, len, "?");
        return;
    }
    buf[n] = 0;
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = 0;
}

static void report(int kind, int pid, const char *what) {
    found++;
    for (int i = 0; i < nreported[kind]; i++)
        if (reported[kind][i] == pid)
            return;
    if (printed >= MAX_REPORTS || nreported[kind] >= MAX_REPORTS)
        return;
    reported[kind][nreported[kind]++] = pid;
    printed++;
    char comm[64];
    comm_of(pid, comm, sizeof comm);
    if (kind == 0)
        printf("FOUND root %d comm=%s\n", pid, comm);
    else
        printf("FOUND caps %d %s comm=%s\n", pid, what, comm);
}

/* Returns 1 when the value after "Tag:\t" in a status text has CAP_SYS_ADMIN. */
static int has_sys_admin(const char *status, const char *tag, char *out, size_t outlen) {
    const char *p = strstr(status, tag);
    if (!p)
        return 0;
    p += strlen(tag);
    while (*p == ' ' || *p == '\t')
        p++;
    uint64_t v = strtoull(p, NULL, 16);
    if (!(v & (1ULL << CAP_SYS_ADMIN_BIT)))
        return 0;
    snprintf(out, outlen, "%s%016llx", tag, (unsigned long long)v); /* e.g. CapEff:000001ffffffffff */
    return 1;
}

/* Probes one pid; returns 1 when the process exists. */
static int probe(int pid) {
    if (pid <= 0 || pid >= PID_LIMIT || pid == self)
        return 0;
    char path[512];
    /* The root first: that window is the one that matters. */
    snprintf(path, sizeof path, "/proc/%d/root/tmp/%s", pid, marker);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd >= 0) {
        close(fd);
        report(0, pid, NULL);
    }
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0) {
        buf[n] = 0;
        char what[64];
        if (has_sys_admin(buf, "CapEff:", what, sizeof what) || has_sys_admin(buf, "CapBnd:", what, sizeof what))
            report(1, pid, what);
    }
    if (!(seen[pid / 8] & (1u << (pid % 8)))) {
        seen[pid / 8] |= (unsigned char)(1u << (pid % 8));
        distinct++;
    }
    if (pid > maxpid)
        maxpid = pid;
    return 1;
}

static void full_scan(void) {
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end == 0 && pid > 0)
            probe((int)pid);
    }
    closedir(d);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SECONDS MARKER\n", argv[0]);
        return 2;
    }
    double secs = atof(argv[1]);
    marker = argv[2];
    if (secs <= 0 || secs > 600 || !*marker || strchr(marker, '/')) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    self = getpid();
    full_scan();
    printf("START pid=%d max=%d\n", self, maxpid);
    double deadline = now() + secs;
    unsigned long iterations = 0, scans = 1;
    while (now() < deadline) {
        iterations++;
        if (iterations % SCAN_EVERY == 0) {
            full_scan();
            scans++;
        }
        int base = maxpid;
        for (int pid = base - 2; pid <= base + 16; pid++)
            probe(pid);
    }
    printf("DONE iterations=%lu scans=%lu pids=%lu found=%lu\n", iterations, scans, distinct, found);
    return 0;
}
