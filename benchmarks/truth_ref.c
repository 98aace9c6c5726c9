/* The reference open loop of benchmarks/truth.py: the simplest honest harness, to check
 * golat's loop against. One thread; arrivals at a constant rate or Poisson (exponential
 * gaps); each request's intended start comes from the schedule, never from the previous
 * completion; the thread sleeps while the next start is more than 2 ms away (waking 1 ms
 * early) and spins the rest, as golat's loop does; a request spins its service time from
 * its actual start. Latency and wait count from the intended start.
 *
 *   truth_ref RATE SERVICE_NS DIST SIGMA ARRIVALS DURATION_S WARMUP_S SEED CPU
 *   DIST: const | exp | lognormal (mean SERVICE_NS); ARRIVALS: constant | poisson;
 *   CPU: -1 (not pinned) or the CPU to pin the thread to.
 *
 * Prints one JSON object: requests, mean wait/latency/service (ns), E[S^2] (ns^2). */
#define _GNU_SOURCE
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int64_t now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t spin_until(int64_t t) {
	int64_t n;
	while ((n = now()) < t) {
	}
	return n;
}

static uint64_t rng_state;

static double uniform(void) { /* splitmix64, (0, 1] */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return ((z >> 11) + 1) * (1.0 / 9007199254740992.0);
}

static double normal(void) { /* Box-Muller */
	return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

int main(int argc, char **argv) {
	if (argc != 10) {
		fprintf(stderr, "usage: %s RATE SERVICE_NS DIST SIGMA ARRIVALS DURATION_S WARMUP_S SEED CPU\n", argv[0]);
		return 2;
	}
	double rate = atof(argv[1]), service = atof(argv[2]), sigma = atof(argv[4]);
	const char *dist = argv[3];
	int poisson = strcmp(argv[5], "poisson") == 0;
	int64_t duration = (int64_t)(atof(argv[6]) * 1e9), warmup = (int64_t)(atof(argv[7]) * 1e9);
	rng_state = strtoull(argv[8], NULL, 10);
	int cpu = atoi(argv[9]);
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0) {
			perror("sched_setaffinity");
			return 1;
		}
	}
	double gap = 1e9 / rate, mu = log(service) - sigma * sigma / 2;
	int64_t t0 = now() + 1000000, from = t0 + warmup, end = from + duration;
	double x = t0; /* the schedule in double ns, as golat's */
	int64_t n = 0;
	double sum_wait = 0, sum_lat = 0, sum_s = 0, sum_s2 = 0;
	for (;;) {
		int64_t intended = (int64_t)x;
		if (intended >= end)
			break;
		x += poisson ? -log(uniform()) * gap : gap;
		double s = service;
		if (strcmp(dist, "exp") == 0)
			s = -log(uniform()) * service;
		else if (strcmp(dist, "lognormal") == 0)
			s = exp(mu + sigma * normal());
		if (intended - now() > 2000000) {
			struct timespec ts = {.tv_sec = (intended - 1000000) / 1000000000, .tv_nsec = (intended - 1000000) % 1000000000};
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		int64_t start = spin_until(intended);
		int64_t done = spin_until(now() + (int64_t)s);
		if (intended < from)
			continue;
		double svc = (double)(done - start);
		n++;
		sum_wait += (double)(start - intended);
		sum_lat += (double)(done - intended);
		sum_s += svc;
		sum_s2 += svc * svc;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru); /* the process is this one thread */
	printf("{\"requests\": %lld, \"wait_ns\": %.1f, \"latency_ns\": %.1f, \"service_ns\": %.1f, "
	       "\"service_sq_ns2\": %.1f, \"involuntary_switches\": %ld}\n",
	       (long long)n, sum_wait / n, sum_lat / n, sum_s / n, sum_s2 / n, ru.ru_nivcsw);
	return 0;
}
