// rewards/sandbox.cpp: the process supervisor behind rewards/sandbox.h.
// Layout of one run (kNamespaces): the supervising thread clone()s an init process into
// new PID + network + mount namespaces; init makes every mount read-only but the run's
// directory, forks the program (new session, rlimits, its own uid, exec) and reports the
// program's wait status through a pipe before it exits, which kills whatever else is left
// in the namespace. kBasic: the program is fork()ed directly into a new session. The
// supervisor polls the pipes (stdin out, stdout/stderr in, capped), enforces the wall
// time and kills the tree (init, or the process group) on any limit.
// Everything a child needs is prepared before clone/fork: after it, only system calls.
#include "rewards/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

#include "core/error.h"
#include "core/log.h"
#include "rewards/deadline_runner.h"

namespace grpo::rewards {

using Clock = std::chrono::steady_clock;

namespace {

// ---------------------------------------------------------------------------------------
// The child side (async-signal-safe only).

struct ChildPlan {
  std::vector<std::string> argv_s, env_s, ro_mounts;
  std::vector<char*> argv, envp;
  std::string dir;
  int in_fd = -1, out_fd = -1, err_fd = -1, status_fd = -1;
  SandboxLimits limits;
  int uid = -1;      // >= 0: drop to this uid/gid
  rlim_t nproc = 0;  // RLIMIT_NPROC (0: none)
  int max_fd = 1024;
};

void write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w, n -= static_cast<size_t>(w);
  }
}

// Closes every fd >= 3 but the `keep` ones (close_range(2) where the kernel has it).
void close_fds_except(std::initializer_list<int> keep_list, int max_fd) {
  int keep[8];
  int n = 0;
  for (int k : keep_list) {
    if (k >= 3 && n < 8) keep[n++] = k;
  }
  for (int i = 1; i < n; ++i) {  // insertion sort: no library call after fork
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) std::swap(keep[j - 1], keep[j]);
  }
  int from = 3;
  for (int i = 0; i <= n; ++i) {
    int to = i < n ? keep[i] - 1 : max_fd;
    if (to >= from && syscall(SYS_close_range, from, to, 0) != 0) {
      for (int fd = from; fd <= to; ++fd) close(fd);
    }
    if (i < n) from = keep[i] + 1;
  }
}

[[noreturn]] void child_fail(const ChildPlan& p, const char* what) {
  int err = errno;
  write_all(p.status_fd, "E", 1);
  write_all(p.status_fd, what, strlen(what));
  const char* why = strerror(err);  // glibc: a static table read, no allocation
  write_all(p.status_fd, ": ", 2);
  write_all(p.status_fd, why, strlen(why));
  _exit(127);
}

void set_limit(const ChildPlan& p, int resource, rlim_t soft, rlim_t hard) {
  struct rlimit rl {
    soft, hard
  };
  if (setrlimit(resource, &rl) != 0) child_fail(p, "setrlimit");
}

[[noreturn]] void exec_program(const ChildPlan& p) {
  setsid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_DFL);
  if (p.limits.nice > 0) (void)nice(p.limits.nice);  // yield the CPU to the learner
  if (dup2(p.in_fd, 0) < 0 || dup2(p.out_fd, 1) < 0 || dup2(p.err_fd, 2) < 0) {
    child_fail(p, "dup2");
  }
  close_fds_except({p.status_fd}, p.max_fd);
  const SandboxLimits& l = p.limits;
  rlim_t cpu = static_cast<rlim_t>(std::ceil(std::max(0.001, l.cpu_time_s)));
  set_limit(p, RLIMIT_CPU, cpu, cpu + 1);
  set_limit(p, RLIMIT_AS, l.memory_bytes, l.memory_bytes);
  set_limit(p, RLIMIT_FSIZE, l.file_bytes, l.file_bytes);
  set_limit(p, RLIMIT_CORE, 0, 0);
  set_limit(p, RLIMIT_NOFILE, 64, 64);
  if (p.nproc > 0) set_limit(p, RLIMIT_NPROC, p.nproc, p.nproc);
  if (p.uid >= 0) {
    if (setgroups(0, nullptr) != 0) child_fail(p, "setgroups");
    if (setgid(static_cast<gid_t>(p.uid)) != 0) child_fail(p, "setgid");
    if (setuid(static_cast<uid_t>(p.uid)) != 0) child_fail(p, "setuid");
  }
  if (chdir(p.dir.c_str()) != 0) child_fail(p, "chdir");
  execve(p.argv[0], p.argv.data(), p.envp.data());
  child_fail(p, "exec");
}

// PID 1 of the new namespaces.
int init_main(void* arg) {
  const ChildPlan& p = *static_cast<const ChildPlan*>(arg);
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // our supervisor gone: the namespace goes with us
  signal(SIGPIPE, SIG_DFL);
  // Copies of other runs' pipes (cloned from a busy process) would delay their EOF.
  close_fds_except({p.in_fd, p.out_fd, p.err_fd, p.status_fd}, p.max_fd);
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) child_fail(p, "mount");
  if (mount(p.dir.c_str(), p.dir.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    child_fail(p, "bind mount");
  }
  for (const std::string& mp : p.ro_mounts) {
    int rc = mount(nullptr, mp.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr);
    if (rc != 0 && mp == "/") child_fail(p, "read-only remount of /");
  }
  pid_t pid = fork();
  if (pid < 0) child_fail(p, "fork");
  if (pid == 0) exec_program(p);
  close(p.in_fd), close(p.out_fd), close(p.err_fd);
  int st = 0;
  for (;;) {
    pid_t w = waitpid(-1, &st, 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) _exit(126);
  }
  write_all(p.status_fd, "S", 1);
  write_all(p.status_fd, &st, sizeof st);
  _exit(0);
}

// ---------------------------------------------------------------------------------------
// Isolation probe.

int probe_main(void*) {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(1);
  _exit(0);
}

pid_t clone_namespaced(int (*fn)(void*), void* arg, std::vector<char>& stack) {
  stack.resize(256 * 1024);
  return clone(fn, stack.data() + stack.size(), CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | SIGCHLD,
               arg);
}

Sandbox::Isolation probe_isolation() {
  if (geteuid() != 0) return Sandbox::Isolation::kBasic;  // no uid of its own to drop to
  std::vector<char> stack;
  pid_t pid = clone_namespaced(probe_main, nullptr, stack);
  if (pid < 0) return Sandbox::Isolation::kBasic;
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? Sandbox::Isolation::kNamespaces
                                               : Sandbox::Isolation::kBasic;
}

Sandbox::Isolation isolation_once() {
  static const Sandbox::Isolation iso = [] {
    Sandbox::Isolation i = probe_isolation();
    if (i == Sandbox::Isolation::kBasic) {
      log::warn(
          "sandbox: PID/network/mount namespaces are not available (needs root or "
          "CAP_SYS_ADMIN): programs run with rlimits and a process-group kill only, WITH "
          "network access, no filesystem containment and only an approximate process cap");
    }
    return i;
  }();
  return iso;
}

// ---------------------------------------------------------------------------------------
// Supervisor side.

// Processes whose real uid is ours (RLIMIT_NPROC counts those).
rlim_t processes_of_this_user() {
  rlim_t n = 0;
  const std::string me = "Uid:\t" + std::to_string(getuid()) + "\t";
  // opendir, not std::filesystem: this library is linked with LibTorch, whose wheel
  // exports std::filesystem symbols of its own (issue 16).
  DIR* proc = opendir("/proc");
  if (!proc) return n;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream st(std::string("/proc/") + e->d_name + "/status");
    std::string line;
    while (std::getline(st, line)) {
      if (line.rfind("Uid:", 0) == 0) {
        n += line.rfind(me, 0) == 0;
        break;
      }
    }
  }
  closedir(proc);
  return n;
}

std::vector<std::string> writable_mounts() {
  std::vector<std::string> out{"/"};
  std::ifstream in("/proc/self/mounts");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string dev, mp, type, opts;
    ss >> dev >> mp >> type >> opts;
    if (mp == "/" || mp.find('\\') != std::string::npos) continue;
    if (opts.rfind("ro,", 0) == 0 || opts == "ro") continue;
    bool system = mp.rfind("/proc", 0) == 0 || mp.rfind("/sys", 0) == 0 ||
                  ((mp == "/dev" || mp.rfind("/dev/", 0) == 0) && mp.rfind("/dev/shm", 0) != 0);
    if (!system) out.push_back(mp);
  }
  return out;
}

struct Pipes {
  int fds[4][2] = {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}};  // in, out, err, status
  Pipes() {
    for (auto& p : fds) {
      if (pipe2(p, O_CLOEXEC) != 0)
        throw grpo::Error(grpo::str("sandbox: pipe: ", strerror(errno)));
    }
  }
  ~Pipes() {
    for (auto& p : fds) {
      for (int& fd : p) {
        if (fd >= 0) close(fd);
      }
    }
  }
  void close_fd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

std::string make_run_dir(const std::string& root) {
  std::string tmpl = root + "/grpo-sandbox-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    throw grpo::Error(
        grpo::str("sandbox: cannot create a directory in ", root, ": ", strerror(errno)));
  }
  return tmpl;
}

void write_files(const std::string& dir, const ProgramSpec& spec, int uid) {
  for (const auto& [name, f] : spec.files) {
    GRPO_ENSURE(!name.empty() && name.find('/') == std::string::npos && name != "." && name != "..",
                "sandbox: bad file name '", name, "'");
    std::string path = dir + "/" + name;
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  f.executable ? 0755 : 0644);
    GRPO_ENSURE(fd >= 0, "sandbox: cannot write ", path, ": ", strerror(errno));
    write_all(fd, f.contents.data(), f.contents.size());
    close(fd);
    if (uid >= 0 && chown(path.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(uid)) != 0) {
      throw grpo::Error(grpo::str("sandbox: chown ", path, ": ", strerror(errno)));
    }
  }
  if (uid >= 0 && chown(dir.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(uid)) != 0) {
    throw grpo::Error(grpo::str("sandbox: chown ", dir, ": ", strerror(errno)));
  }
}

void remove_tree(const std::string& dir) {
  nftw(
      dir.c_str(),
      [](const char* path, const struct stat*, int, struct FTW*) {
        remove(path);
        return 0;
      },
      16, FTW_DEPTH | FTW_PHYS);
}

void read_kept(const std::string& dir, const ProgramSpec& spec, ProgramResult& r) {
  for (const std::string& name : spec.keep) {
    if (name.find('/') != std::string::npos) continue;
    std::string path = dir + "/" + name;
    int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st {};
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= (64 << 20)) {
      std::string data(static_cast<size_t>(st.st_size), '\0');
      ssize_t n = read(fd, data.data(), data.size());
      if (n == st.st_size) r.kept[name] = std::move(data);
    }
    close(fd);
  }
}

ChildPlan make_plan(const ProgramSpec& spec, const std::string& dir, int uid, Pipes& pipes) {
  ChildPlan p;
  p.argv_s = spec.argv;
  p.env_s = {
      "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir,     "TMPDIR=" + dir, "LANG=C.UTF-8",
      "PYTHONDONTWRITEBYTECODE=1",         "PYTHONHASHSEED=0"};
  for (auto& s : p.argv_s) p.argv.push_back(s.data());
  p.argv.push_back(nullptr);
  for (auto& s : p.env_s) p.envp.push_back(s.data());
  p.envp.push_back(nullptr);
  p.dir = dir;
  p.in_fd = pipes.fds[0][0];
  p.out_fd = pipes.fds[1][1];
  p.err_fd = pipes.fds[2][1];
  p.status_fd = pipes.fds[3][1];
  p.limits = spec.limits;
  p.uid = uid;
  p.max_fd = static_cast<int>(std::min<long>(sysconf(_SC_OPEN_MAX), 65536));
  return p;
}

// Reads what is there from fd into out (up to cap); false at EOF.
bool drain(int fd, std::string& out, size_t cap, size_t& total) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      total += static_cast<size_t>(n);
      size_t room = cap > out.size() ? cap - out.size() : 0;
      out.append(buf, std::min(room, static_cast<size_t>(n)));
      continue;
    }
    if (n == 0) return false;
    return errno == EAGAIN || errno == EINTR;
  }
}

// Clock ticks of fields 14-17 of /proc/PID/stat: utime, stime, cutime, cstime.
bool proc_times(const std::string& pid, long long t[4]) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t paren = line.rfind(')');
  if (paren == std::string::npos) return false;
  std::istringstream ss(line.substr(paren + 2));
  std::string field;
  for (int i = 3; i < 14 && ss >> field; ++i) {
  }
  return static_cast<bool>(ss >> t[0] >> t[1] >> t[2] >> t[3]);
}

// CPU seconds used so far by a run's whole tree (kNamespaces: the run has a uid of its
// own): what init has reaped (its children's times) plus every live process of that uid.
double tree_cpu_s(pid_t init, int uid) {
  static const double kTick = static_cast<double>(sysconf(_SC_CLK_TCK));
  long long t[4] = {0, 0, 0, 0}, total = 0;
  if (proc_times(std::to_string(init), t)) total += t[2] + t[3];
  DIR* proc = opendir("/proc");
  if (!proc) return 0;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    struct stat st {};
    std::string dir = std::string("/proc/") + e->d_name;
    if (stat(dir.c_str(), &st) != 0 || st.st_uid != static_cast<uid_t>(uid)) continue;
    if (proc_times(e->d_name, t)) total += t[0] + t[1];
  }
  closedir(proc);
  return static_cast<double>(total) / kTick;
}

struct Supervision {
  bool timed_out = false, flooded = false, cpu = false;
  bool reaped = false;  // kBasic: the program was waited for already (status in `status`)
  int status = 0;
};

// Feeds stdin, collects output, enforces the wall time and the output cap; returns when
// both output pipes are closed (everything that held them is gone) or a limit hit.
Supervision supervise(pid_t tree, int uid, Pipes& pipes, const ProgramSpec& spec,
                      ProgramResult& r) {
  const bool namespaced = uid >= 0;
  auto kill_tree = [&] {
    if (namespaced)
      kill(tree, SIGKILL);  // init: the kernel kills the namespace with it
    else
      killpg(tree, SIGKILL);
  };
  int& in_w = pipes.fds[0][1];
  int& out_r = pipes.fds[1][0];
  int& err_r = pipes.fds[2][0];
  for (int fd : {in_w, out_r, err_r}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  size_t written = 0, total = 0;
  if (spec.stdin_data.empty()) pipes.close_fd(in_w);
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(spec.limits.wall_time_s));
  Supervision s;
  // The tree's CPU budget: a fork bomb's processes each stay under RLIMIT_CPU, together
  // they would starve the other slots until the wall time.
  const double tree_cpu_budget = 2 * spec.limits.cpu_time_s;
  auto next_cpu_check = Clock::now();
  while (out_r >= 0 || err_r >= 0) {
    if (namespaced && Clock::now() >= next_cpu_check) {
      next_cpu_check = Clock::now() + std::chrono::milliseconds(100);
      if (tree_cpu_s(tree, uid) > tree_cpu_budget) {
        s.cpu = true;
        kill_tree();
        break;
      }
    }
    if (!namespaced && !s.reaped && waitpid(tree, &s.status, WNOHANG) == tree) {
      s.reaped = true;  // its background children may still hold the pipes: end them
      killpg(tree, SIGKILL);
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      s.timed_out = true;
      kill_tree();
      break;
    }
    pollfd fds[3] = {{in_w, POLLOUT, 0}, {out_r, POLLIN, 0}, {err_r, POLLIN, 0}};
    poll(fds, 3, static_cast<int>(std::min<int64_t>(left.count() + 1, 100)));
    if (in_w >= 0 && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = write(in_w, spec.stdin_data.data() + written, spec.stdin_data.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) written = spec.stdin_data.size();
      if (written >= spec.stdin_data.size()) pipes.close_fd(in_w);
    }
    const size_t cap = spec.limits.output_bytes;
    if (out_r >= 0 && fds[1].revents && !drain(out_r, r.stdout_data, cap, total))
      pipes.close_fd(out_r);
    if (err_r >= 0 && fds[2].revents && !drain(err_r, r.stderr_data, cap, total))
      pipes.close_fd(err_r);
    if (total > cap) {
      s.flooded = true;
      kill_tree();
      break;
    }
  }
  // Stragglers never outlive the run: in a PID namespace init's exit kills them (init
  // must live to report the status); otherwise the process group is killed.
  if (!namespaced) killpg(tree, SIGKILL);
  return s;
}

// The program's wait status: from init's report (namespaces) or from waitpid.
bool program_status(pid_t tree, bool namespaced, Pipes& pipes, const Supervision& s, int* st,
                    std::string* error) {
  int tree_st = s.status;
  if (!s.reaped) {
    while (waitpid(tree, &tree_st, 0) < 0 && errno == EINTR) {
    }
  }
  pipes.close_fd(pipes.fds[3][1]);
  std::string report;
  char buf[512];
  ssize_t n;
  while ((n = read(pipes.fds[3][0], buf, sizeof buf)) > 0)
    report.append(buf, static_cast<size_t>(n));
  if (!report.empty() && report[0] == 'E') {
    *error = report.substr(1);
    return false;
  }
  if (namespaced) {
    if (report.size() < 1 + sizeof(int) || report[0] != 'S') return false;
    std::memcpy(st, report.data() + 1, sizeof(int));
    return true;
  }
  *st = tree_st;
  return true;
}

void classify(int st, const Supervision& s, ProgramResult& r) {
  using S = ProgramResult::Status;
  if (s.cpu) {
    r.status = S::kCpuLimit;
  } else if (s.timed_out) {
    r.status = S::kWallTimeout;
  } else if (s.flooded) {
    r.status = S::kOutputLimit;
  } else if (WIFEXITED(st)) {
    r.status = S::kExited;
    r.exit_code = WEXITSTATUS(st);
  } else if (WIFSIGNALED(st)) {
    r.signal = WTERMSIG(st);
    r.status = r.signal == SIGXCPU ? S::kCpuLimit : S::kSignaled;
  }
}

}  // namespace

std::string ProgramResult::describe() const {
  switch (status) {
    case Status::kExited:
      return grpo::str("exit ", exit_code);
    case Status::kSignaled:
      return grpo::str("killed by signal ", signal, " (", strsignal(signal), ")");
    case Status::kCpuLimit:
      return "killed: CPU time limit";
    case Status::kWallTimeout:
      return "killed: wall time limit";
    case Status::kOutputLimit:
      return "killed: output limit";
    case Status::kStartFailed:
      return "could not start: " + error;
  }
  return "?";
}

Sandbox::Sandbox(SandboxOptions options) : options_(std::move(options)) {
  GRPO_ENSURE(options_.slots >= 1 && options_.slots <= 1024, "sandbox: slots must be in [1, 1024]");
  runner_ = std::make_unique<DeadlineRunner>(
      DeadlineRunnerOptions{.slots = options_.slots, .max_abandoned = 16, .name = "sandbox"});
  static const bool sigpipe_ignored = [] {
    // A program that exits without reading its stdin must not kill us on write.
    signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)sigpipe_ignored;
  (void)isolation_once();
}

Sandbox::~Sandbox() = default;

Sandbox::Isolation Sandbox::isolation() const { return isolation_once(); }

namespace {

// A uid of its own for one run, held through an flock()ed file so that concurrent runs in
// this and in other processes (e.g. tests run in parallel) never share one: RLIMIT_NPROC
// and the tree's CPU are counted per uid.
struct UidLease {
  int uid = -1, fd = -1;
  UidLease() = default;
  UidLease(UidLease&& o) noexcept : uid(o.uid), fd(std::exchange(o.fd, -1)) {}
  UidLease& operator=(UidLease&&) = delete;
  ~UidLease() {
    if (fd >= 0) close(fd);
  }
};

UidLease lease_uid(const SandboxOptions& o) {
  for (int k = 0; k < 4096; ++k) {
    UidLease l;
    l.uid = o.uid_base + k;
    std::string path = o.temp_root + "/grpo-sandbox-uid-" + std::to_string(l.uid) + ".lock";
    l.fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    GRPO_ENSURE(l.fd >= 0, "sandbox: cannot open ", path, ": ", strerror(errno));
    if (flock(l.fd, LOCK_EX | LOCK_NB) == 0) return l;
  }
  throw grpo::Error(
      grpo::str("sandbox: no free uid in [", o.uid_base, ", ", o.uid_base + 4096, ")"));
}

}  // namespace

ProgramResult run_program(const SandboxOptions& options, const ProgramSpec& spec) {
  ProgramResult r;
  const bool ns = isolation_once() == Sandbox::Isolation::kNamespaces;
  auto t0 = Clock::now();
  std::string dir;
  try {
    UidLease lease = ns ? lease_uid(options) : UidLease();
    const int uid = lease.uid;
    GRPO_ENSURE(
        !spec.argv.empty() && (spec.argv[0].rfind('/', 0) == 0 || spec.argv[0].rfind("./", 0) == 0),
        "sandbox: argv[0] must be an absolute path or ./NAME in the run's directory");
    dir = make_run_dir(options.temp_root);
    write_files(dir, spec, ns ? uid : -1);
    Pipes pipes;
    ChildPlan plan = make_plan(spec, dir, ns ? uid : -1, pipes);
    if (ns) {
      plan.ro_mounts = writable_mounts();
      plan.nproc = static_cast<rlim_t>(spec.limits.max_processes);  // its own uid: exact
    } else if (getuid() != 0) {
      // The user's own uid: an approximate cap, room for every slot's program on top of
      // what the user runs now (root is not limited by RLIMIT_NPROC at all).
      plan.nproc =
          processes_of_this_user() + static_cast<rlim_t>(spec.limits.max_processes) * options.slots;
    }
    std::vector<char> stack;
    pid_t tree = ns ? clone_namespaced(init_main, &plan, stack) : fork();
    if (!ns && tree == 0) exec_program(plan);
    GRPO_ENSURE(tree > 0, "sandbox: cannot start a process: ", strerror(errno));
    for (int* fd : {&pipes.fds[0][0], &pipes.fds[1][1], &pipes.fds[2][1]}) pipes.close_fd(*fd);
    Supervision s = supervise(tree, ns ? uid : -1, pipes, spec, r);
    int st = 0;
    if (program_status(tree, ns, pipes, s, &st, &r.error) || s.timed_out || s.flooded || s.cpu) {
      classify(st, s, r);
    } else if (r.error.empty()) {
      r.error = "the sandbox's init ended without a report";
    }
    read_kept(dir, spec, r);
  } catch (const std::exception& e) {
    r.status = ProgramResult::Status::kStartFailed;
    r.error = e.what();
  }
  if (!dir.empty()) remove_tree(dir);
  r.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

std::vector<ProgramResult> Sandbox::run_many(const std::vector<ProgramSpec>& specs) const {
  std::vector<std::shared_ptr<ProgramResult>> results;
  std::vector<DeadlineRunner::Call> calls;
  for (const ProgramSpec& spec : specs) {
    auto res = std::make_shared<ProgramResult>();
    results.push_back(res);
    // Captures copies only: a call abandoned at the backstop may outlive this Sandbox.
    calls.push_back({[options = options_, spec, res] { *res = run_program(options, spec); },
                     // Backstop only: the supervisor itself kills the program at its wall time.
                     spec.limits.wall_time_s + 10.0});
  }
  std::vector<DeadlineRunner::Outcome> outcomes = runner_->run(std::move(calls));
  std::vector<ProgramResult> out;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (outcomes[i] == DeadlineRunner::Outcome::kDone) {
      out.push_back(std::move(*results[i]));
    } else {
      ProgramResult r;
      r.status = ProgramResult::Status::kStartFailed;
      r.error = "the sandbox supervisor did not finish in time";
      out.push_back(std::move(r));
    }
  }
  return out;
}

ProgramResult Sandbox::run(const ProgramSpec& spec) const { return std::move(run_many({spec})[0]); }

std::string find_python3() {
  for (const char* p : {"/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

}  // namespace grpo::rewards
