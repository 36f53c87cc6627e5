// rewards/sandbox.h: runs untrusted programs (model-written code) with limits, for the
// `code` reward and for custom rewards that need to run something.
//
// Each run gets a fresh temporary directory (its only writable place) and a separate
// process tree with: CPU-time (RLIMIT_CPU), address-space (RLIMIT_AS), file-size
// (RLIMIT_FSIZE), open-file and core-dump limits; a wall-time limit after which the whole
// tree is killed; stdout and stderr read through pipes up to a byte cap (the tree is
// killed past it); stdin written from memory. How far it is isolated depends on what the
// kernel allows, probed once (Sandbox::isolation()):
//  - kNamespaces (root or CAP_SYS_ADMIN): the tree runs in new PID, network and mount
//    namespaces. Its first process is a small init of ours: when the program ends or is
//    killed, the kernel kills everything else in the PID namespace (forks and daemons
//    included). The network namespace has no interfaces up: no network. Every mount is
//    made read-only in its mount namespace except the run's directory. The program runs
//    as an unprivileged uid of its own (leased per run), so RLIMIT_NPROC caps its
//    processes and the supervisor can sum the CPU time of the whole tree (killed past
//    2 x cpu_time_s: a fork bomb's processes each stay under RLIMIT_CPU).
//  - Every run's processes get `nice` (10) and die with the supervising process (parent-death
//    signal). Constructing a Sandbox sets SIGPIPE to ignored in this process.
//  - kBasic (otherwise): a new session / process group killed as a whole, and the rlimits;
//    no network, filesystem or process-count containment beyond them (reported once).
// It is NOT a security boundary against a determined attacker (kernel exploits, side
// channels, resource use within the limits): run it inside a container or VM for that.
// See docs/rewards.md for the exact guarantees.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace grpo::rewards {

class DeadlineRunner;

struct SandboxLimits {
  double cpu_time_s = 2.0;             // RLIMIT_CPU (rounded up to whole seconds)
  double wall_time_s = 5.0;            // the tree is killed after this
  size_t memory_bytes = 512ull << 20;  // RLIMIT_AS of the program
  size_t output_bytes = 1ull << 20;    // stdout + stderr kept; killed beyond
  size_t file_bytes = 16ull << 20;     // RLIMIT_FSIZE: largest file it may write
  int max_processes = 32;              // RLIMIT_NPROC of its uid (kNamespaces only)
  int nice = 10;  // its scheduling priority: it yields to the learner and rollout workers
};

struct SandboxFile {
  std::string contents;
  bool executable = false;
};

struct ProgramSpec {
  std::vector<std::string> argv;             // argv[0]: absolute path of the program
  std::string stdin_data;                    // written to its stdin, then closed
  std::map<std::string, SandboxFile> files;  // written into its directory first
  std::vector<std::string> keep;             // files to read back afterwards (<= 64 MiB)
  SandboxLimits limits;
};

struct ProgramResult {
  enum class Status {
    kExited,       // exit_code is valid
    kSignaled,     // killed by `signal` (e.g. SIGSEGV, SIGKILL at the CPU hard limit)
    kCpuLimit,     // SIGXCPU: ran out of CPU time
    kWallTimeout,  // still running at wall_time_s: killed
    kOutputLimit,  // wrote more than output_bytes: killed
    kStartFailed,  // could not set up or exec (message in error)
  };
  Status status = Status::kStartFailed;
  int exit_code = -1;
  int signal = 0;
  std::string stdout_data, stderr_data;
  std::map<std::string, std::string> kept;  // the `keep` files that existed
  double wall_s = 0;
  std::string error;

  bool ok() const { return status == Status::kExited && exit_code == 0; }
  std::string describe() const;  // "exit 1", "killed: wall time 5 s", ...
};

struct SandboxOptions {
  size_t slots = 4;                // programs running at once
  std::string temp_root = "/tmp";  // run directories are created here
  int uid_base = 420000;           // kNamespaces: slot k runs as uid/gid uid_base + k
};

class Sandbox {
 public:
  enum class Isolation { kNamespaces, kBasic };

  // Probes the isolation once per process. Throws grpo::Error for bad options.
  explicit Sandbox(SandboxOptions options = {});
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Runs one program in a free slot (waits for one). Never throws for the program's
  // behaviour; setup failures are kStartFailed. Thread-safe.
  ProgramResult run(const ProgramSpec& spec) const;
  // Runs all, up to `slots` at once; results in order. Thread-safe.
  std::vector<ProgramResult> run_many(const std::vector<ProgramSpec>& specs) const;

  Isolation isolation() const;
  size_t slots() const { return options_.slots; }

 private:
  SandboxOptions options_;
  std::unique_ptr<DeadlineRunner> runner_;
};

// One run without slots (what Sandbox runs in each slot): blocking, never throws.
ProgramResult run_program(const SandboxOptions& options, const ProgramSpec& spec);

// The absolute path of a Python 3 interpreter that an unprivileged user can run
// (/usr/bin/python3 when present, else python3 from PATH, resolved); "" when none.
std::string find_python3();

}  // namespace grpo::rewards
