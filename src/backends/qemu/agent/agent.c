// kmodspec-agent: /init of the kmodspec test VM. Runs commands for the host over a serial line
// of its own (ttyS1; ttyS0 is the kernel console) and returns exit code, stdout, stderr and the
// /dev/kmsg records each command caused. No shell is ever involved: commands are execve'd.
//
// Wire format, both directions: u32 little-endian body length, then the body.
// A body starts with one type byte; strings and blobs are u32 length + bytes.
//   host -> agent
//     'P' u32 token                                  ping            -> 'P' u32 token
//     'E' path, u32 argc, argc x arg, cwd, redir, file  exec         -> 'R' i32 status, out, err, kmsg
//         redir: "" (none), ">" or ">>": stdout goes to file (opened by the agent)
//     'W' path, u32 mode, u32 append, u32 length     put file        -> 'O' | 'X' message
//         the bytes are in the shared memory window (ivshmem BAR 2) at offset 0: a serial line
//         moves about 40 KB/s under TCG, shared memory needs no copy through the guest's tty
//         layer, and mapping a PCI BAR through sysfs loads no module (lsmod stays empty).
//     'D' path                                       mkdir -p        -> 'O' | 'X' message
//     'S' u32 quiet_ms, u32 max_ms                   settle          -> 'O' | 'X' message
//         waits until the kernel has finished its asynchronous boot work: the CRNG is seeded, %p has
//         its hash key (so it never prints "(____ptrval____)"), the
//         TSC refinement is done (tsc-early unregistered), and no record came for quiet_ms of the
//         guest's monotonic clock. The host saves the VM state only after this, so no boot
//         message can land in a test's step on a faster or slower host.
//   agent -> host
//     'H' release                                    hello, once, when ready
// kmsg is a sequence of blobs, each one raw /dev/kmsg record ("prio,seq,usec,flags;text\n...").
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define CHANNEL "/dev/ttyS1"

static int chan = -1;
static int kmsg = -1;

struct buf { char *p; size_t len, cap; };

static void die(const char *what) {
	// PID 1 must not exit (the kernel would panic): report on the console and idle.
	fprintf(stderr, "kmodspec-agent: %s: %s\n", what, strerror(errno));
	for (;;) pause();
}

static void put(struct buf *b, const void *data, size_t n) {
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n) cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p) die("realloc");
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void put_u32(struct buf *b, uint32_t v) {
	unsigned char le[4] = { v, v >> 8, v >> 16, v >> 24 };
	put(b, le, 4);
}

static void put_blob(struct buf *b, const void *data, size_t n) {
	put_u32(b, (uint32_t)n);
	put(b, data, n);
}

static void write_all(int fd, const char *p, size_t n) {
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN) continue;
			die("write channel");
		}
		p += w;
		n -= (size_t)w;
	}
}

static void read_all(int fd, void *dst, size_t n) {
	char *p = dst;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
		if (r <= 0) die("read channel");
		p += r;
		n -= (size_t)r;
	}
}

static void send_frame(struct buf *body) {
	struct buf f = { 0 };
	put_u32(&f, (uint32_t)body->len);
	put(&f, body->p, body->len);
	write_all(chan, f.p, f.len);
	free(f.p);
}

// A cursor over a received body.
struct rd { const char *p; size_t left; };

static uint32_t get_u32(struct rd *r) {
	if (r->left < 4) return 0;
	const unsigned char *u = (const unsigned char *)r->p;
	uint32_t v = u[0] | (u[1] << 8) | (u[2] << 16) | ((uint32_t)u[3] << 24);
	r->p += 4;
	r->left -= 4;
	return v;
}

// Returns a NUL-terminated copy (strings never contain NUL; blobs use the length).
static char *get_blob(struct rd *r, size_t *len) {
	uint32_t n = get_u32(r);
	if (n > r->left) n = (uint32_t)r->left;
	char *s = malloc(n + 1);
	if (!s) die("malloc");
	memcpy(s, r->p, n);
	s[n] = 0;
	r->p += n;
	r->left -= n;
	if (len) *len = n;
	return s;
}

static void reply_status(char type, const char *message) {
	struct buf b = { 0 };
	put(&b, &type, 1);
	if (message) put_blob(&b, message, strlen(message));
	send_frame(&b);
	free(b.p);
}

static int mkdir_p(const char *path) {
	char tmp[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof tmp) { errno = ENAMETOOLONG; return -1; }
	memcpy(tmp, path, n + 1);
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/') continue;
		*s = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
		*s = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
	return 0;
}

// Reads every /dev/kmsg record available now; keep them in out (when given) as blobs.
static void drain_kmsg(struct buf *out) {
	char rec[8192];
	for (;;) {
		ssize_t n = read(kmsg, rec, sizeof rec);
		if (n < 0) {
			if (errno == EINTR) continue;
			if (errno == EPIPE) continue; // records were overwritten; the read position moved on
			break; // EAGAIN: nothing more
		}
		if (n == 0) break;
		if (out) put_blob(out, rec, (size_t)n);
	}
}

static void drain_pipe(int *fd, struct buf *into) {
	char chunk[4096];
	ssize_t n = read(*fd, chunk, sizeof chunk);
	if (n > 0) {
		put(into, chunk, (size_t)n);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		close(*fd);
		*fd = -1;
	}
}

static void do_exec(struct rd *r) {
	char *path = get_blob(r, NULL);
	uint32_t argc = get_u32(r);
	char **argv = calloc(argc + 1, sizeof *argv);
	for (uint32_t i = 0; i < argc; i++) argv[i] = get_blob(r, NULL);
	char *cwd = get_blob(r, NULL);
	char *redir = get_blob(r, NULL);
	char *file = get_blob(r, NULL);

	struct buf out = { 0 }, err = { 0 }, log = { 0 };
	drain_kmsg(NULL); // records from before this command belong to no step
	int status = 0;
	int outp[2], errp[2];
	int target = -1;
	if (redir[0]) {
		int flags = O_WRONLY | O_CREAT | (strcmp(redir, ">>") == 0 ? O_APPEND : O_TRUNC);
		char full[8192];
		if (file[0] != '/') snprintf(full, sizeof full, "%s/%s", cwd, file);
		else snprintf(full, sizeof full, "%s", file);
		target = open(full, flags | O_CLOEXEC, 0644);
		if (target < 0) {
			char msg[8400];
			int n = snprintf(msg, sizeof msg, "%s: can't create %s: %s\n", argv[0], file, strerror(errno));
			put(&err, msg, (size_t)n);
			status = 1;
			goto done;
		}
	}
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) die("pipe");
	pid_t pid = fork();
	if (pid < 0) die("fork");
	if (pid == 0) {
		dup2(target >= 0 ? target : outp[1], 1);
		dup2(errp[1], 2);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0) dup2(devnull, 0);
		if (chdir(cwd) < 0) {
			dprintf(2, "kmodspec-agent: cannot enter %s: %s\n", cwd, strerror(errno));
			_exit(126);
		}
		char *envp[] = { "PATH=/sbin:/bin:/usr/sbin:/usr/bin", "HOME=/root", NULL };
		execve(path, argv, envp);
		dprintf(2, "kmodspec-agent: cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(outp[1]);
	close(errp[1]);
	if (target >= 0) close(target);
	int ofd = outp[0], efd = errp[0];
	while (ofd >= 0 || efd >= 0) {
		struct pollfd fds[2] = { { ofd, POLLIN, 0 }, { efd, POLLIN, 0 } };
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR) continue;
			die("poll");
		}
		if (ofd >= 0 && fds[0].revents) drain_pipe(&ofd, &out);
		if (efd >= 0 && fds[1].revents) drain_pipe(&efd, &err);
	}
	int ws = 0;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
	// A command killed by a signal (an oops kills insmod) reports 128+signal, as shells do.
	status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
done:
	drain_kmsg(&log);
	struct buf b = { 0 };
	put(&b, "R", 1);
	put_u32(&b, (uint32_t)status);
	put_blob(&b, out.p, out.len);
	put_blob(&b, err.p, err.len);
	put(&b, log.p, log.len);
	send_frame(&b);
	free(b.p); free(out.p); free(err.p); free(log.p);
	for (uint32_t i = 0; i < argc; i++) free(argv[i]);
	free(argv); free(path); free(cwd); free(redir); free(file);
}

static char *shm;
static size_t shm_size;

// Maps BAR 2 of QEMU's ivshmem-plain device (vendor 0x1af4, device 0x1110) through sysfs.
static int map_shm(void) {
	if (shm) return 0;
	DIR *d = opendir("/sys/bus/pci/devices");
	if (!d) return -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		char p[512], id[32] = { 0 };
		snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/device", e->d_name);
		int fd = open(p, O_RDONLY);
		if (fd < 0) continue;
		ssize_t n = read(fd, id, sizeof id - 1);
		close(fd);
		if (n <= 0 || strncmp(id, "0x1110", 6) != 0) continue;
		snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/resource2", e->d_name);
		fd = open(p, O_RDWR);
		if (fd < 0) continue;
		struct stat st;
		fstat(fd, &st);
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (m == MAP_FAILED) continue;
		shm = m;
		shm_size = (size_t)st.st_size;
		break;
	}
	closedir(d);
	return shm ? 0 : -1;
}

static void do_put(struct rd *r) {
	char *path = get_blob(r, NULL);
	uint32_t mode = get_u32(r);
	uint32_t append = get_u32(r);
	size_t len = get_u32(r);
	if (map_shm() < 0 || len > shm_size) {
		reply_status('X', "the shared memory window (ivshmem) is missing or too small");
		free(path);
		return;
	}
	char *data = shm;
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) { *slash = 0; mkdir_p(dir); }
	int fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC) | O_CLOEXEC, mode & 07777);
	if (fd < 0) {
		char msg[4200];
		snprintf(msg, sizeof msg, "cannot write %s: %s", path, strerror(errno));
		reply_status('X', msg);
	} else {
		write_all(fd, data, len);
		fchmod(fd, mode & 07777);
		close(fd);
		reply_status('O', NULL);
	}
	free(path);
}

static void do_mkdir(struct rd *r) {
	char *path = get_blob(r, NULL);
	if (mkdir_p(path) < 0) {
		char msg[4200];
		snprintf(msg, sizeof msg, "cannot create directory %s: %s", path, strerror(errno));
		reply_status('X', msg);
	} else {
		reply_status('O', NULL);
	}
	free(path);
}

static uint64_t now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

// True while the TSC's delayed refinement has not run: until then tsc-early stays registered,
// and the refinement logs "Refined TSC clocksource calibration" and switches the clocksource.
static int tsc_refinement_pending(void) {
	char list[512] = { 0 };
	int fd = open("/sys/devices/system/clocksource/clocksource0/available_clocksource", O_RDONLY | O_CLOEXEC);
	if (fd < 0) return 0;
	ssize_t n = read(fd, list, sizeof list - 1);
	close(fd);
	if (n <= 0) return 0;
	return strstr(list, "tsc-early") != NULL;
}

// True while %p would print "(____ptrval____)": 6.1 fills its pointer-hash key on the first %p after
// the CRNG is ready and turns hashing on from a workqueue, so without this the first %p of a test
// printed the placeholder or a hash depending on what the kernel printed before the save. Reading
// /proc/net/unix prints each socket with %pK (hashed like %p at kptr_restrict 0): the read itself
// fills the key. A kernel without AF_UNIX (a module on 6.12) cannot be asked: not pending.
static int sock_pair[2] = { -1, -1 };
static int pointer_key_pending(void) {
	if (sock_pair[0] < 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock_pair) < 0) return 0;
	char buf[4096] = { 0 };
	int fd = open("/proc/net/unix", O_RDONLY | O_CLOEXEC);
	if (fd < 0) return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) return 0;
	return strstr(buf, "ptrval") != NULL;
}

// The last few record texts, for the message when the kernel does not settle.
#define KEEP 4
static char recent[KEEP][256];
static int recent_n;

static int drain_kmsg_noting(void) {
	char rec[8192];
	int got = 0;
	for (;;) {
		ssize_t n = read(kmsg, rec, sizeof rec - 1);
		if (n < 0) {
			if (errno == EINTR || errno == EPIPE) continue;
			break;
		}
		if (n == 0) break;
		rec[n] = 0;
		char *text = strchr(rec, ';');
		text = text ? text + 1 : rec;
		char *nl = strchr(text, '\n');
		if (nl) *nl = 0;
		snprintf(recent[recent_n % KEEP], sizeof recent[0], "%s", text);
		recent_n++;
		got = 1;
	}
	return got;
}

static void do_settle(struct rd *r) {
	uint32_t quiet_ms = get_u32(r);
	uint32_t max_ms = get_u32(r);
	uint64_t start = now_ms();
	// A blocking getrandom() makes the kernel seed its CRNG now (jitter entropy in 6.1), so
	// "random: crng init done" comes before the save instead of at some later interrupt.
	char seed[16];
	while (getrandom(seed, sizeof seed, 0) < 0 && errno == EINTR) {}
	uint64_t last = now_ms();
	drain_kmsg_noting();
	for (;;) {
		uint64_t t = now_ms();
		if (drain_kmsg_noting()) last = t;
		int pending = tsc_refinement_pending();
		int keyless = pointer_key_pending();
		if (!pending && !keyless && t - last >= quiet_ms) break;
		if (t - start >= max_ms) {
			char msg[2048];
			int len = snprintf(msg, sizeof msg, "the kernel did not settle within %u ms (%s); its last records:",
				max_ms, pending ? "the TSC refinement never ran" : keyless ? "%p never got its hash key" : "it kept logging");
			int first = recent_n > KEEP ? recent_n - KEEP : 0;
			for (int i = first; i < recent_n && len < (int)sizeof msg - 8; i++)
				len += snprintf(msg + len, sizeof msg - (size_t)len, " \"%s\"", recent[i % KEEP]);
			if (recent_n == 0) snprintf(msg + len, sizeof msg - (size_t)len, " (none)");
			reply_status('X', msg);
			return;
		}
		struct pollfd p = { kmsg, POLLIN, 0 };
		poll(&p, 1, 50);
	}
	if (sock_pair[0] >= 0) { close(sock_pair[0]); close(sock_pair[1]); sock_pair[0] = sock_pair[1] = -1; }
	reply_status('O', NULL);
}

static void setup_system(void) {
	mkdir("/proc", 0555); mkdir("/sys", 0555); mkdir("/dev", 0755); mkdir("/tmp", 01777);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	int fd = open("/dev/console", O_RDWR);
	if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); if (fd > 2) close(fd); }
}

static void open_channel(void) {
	chan = open(CHANNEL, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (chan < 0) die("open " CHANNEL);
	struct termios t;
	if (tcgetattr(chan, &t) < 0) die("tcgetattr");
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cflag &= ~CRTSCTS;
	cfsetispeed(&t, B115200);
	cfsetospeed(&t, B115200);
	if (tcsetattr(chan, TCSANOW, &t) < 0) die("tcsetattr");
	tcflush(chan, TCIOFLUSH);
}

int main(void) {
	if (getpid() == 1) setup_system();
	signal(SIGPIPE, SIG_IGN);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg < 0) die("open /dev/kmsg");
	open_channel();

	struct utsname u;
	uname(&u);
	struct buf hello = { 0 };
	put(&hello, "H", 1);
	put_blob(&hello, u.release, strlen(u.release));
	send_frame(&hello);
	free(hello.p);

	for (;;) {
		unsigned char hdr[4];
		read_all(chan, hdr, 4);
		uint32_t len = hdr[0] | (hdr[1] << 8) | (hdr[2] << 16) | ((uint32_t)hdr[3] << 24);
		char *body = malloc(len ? len : 1);
		if (!body) die("malloc");
		read_all(chan, body, len);
		struct rd r = { body + 1, len ? len - 1 : 0 };
		switch (len ? body[0] : 0) {
		case 'P': {
			struct buf b = { 0 };
			put(&b, "P", 1);
			put_u32(&b, get_u32(&r));
			send_frame(&b);
			free(b.p);
			break;
		}
		case 'E': do_exec(&r); break;
		case 'W': do_put(&r); break;
		case 'D': do_mkdir(&r); break;
		case 'S': do_settle(&r); break;
		default: reply_status('X', "unknown request"); break;
		}
		free(body);
		// PID 1 inherits orphans: reap them so they do not pile up as zombies.
		while (waitpid(-1, NULL, WNOHANG) > 0) {}
	}
}
