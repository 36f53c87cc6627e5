// apps/cmd_rollout_worker.cpp: `grpo rollout-worker --listen HOST:PORT --config JOB.yaml`
// serves proto/rollout.proto until SIGTERM/SIGINT, then drains in-flight calls for up to
// --drain-timeout seconds. --port-file writes the bound port (used with port 0 by local
// workers started from `grpo train`).
#include <signal.h>

#include <iostream>

#include <ATen/Parallel.h>

#include "apps/cli.h"
#include "job/assembly.h"
#include "job/options.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "rollout/server.h"

namespace grpo::cmd {
void register_rollout_worker(CLI::App& app) {
  auto* sub = app.add_subcommand("rollout-worker", "serve the rollout gRPC contract (proto/rollout.proto)");
  auto args = std::make_shared<cli::JobArgs>();
  auto listen = std::make_shared<std::string>("0.0.0.0:50051");
  auto port_file = std::make_shared<std::string>();
  auto drain = std::make_shared<double>(30.0);
  args->add_to(sub);
  sub->add_option("--listen", *listen, "HOST:PORT to serve on (port 0: any free port)")
      ->capture_default_str();
  sub->add_option("--port-file", *port_file, "write the bound port to this file once listening");
  sub->add_option("--drain-timeout", *drain, "seconds in-flight calls may finish after SIGTERM")
      ->capture_default_str();
  sub->callback([args, listen, port_file, drain] {
    JobConfig cfg;
    if (!args->load(cfg)) return;
    if (cfg.rollout.num_threads > 0) at::set_num_threads(static_cast<int>(cfg.rollout.num_threads));
    // Block the stop signals before any thread starts, then wait for them here.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    auto worker = job::make_worker(cfg, *listen);
    worker->start();
    log::info(str("rollout worker listening on ", worker->address(),
                  job::auth_token(cfg).empty() ? " (no auth token: open to anyone who can reach it)" : ""));
    if (!port_file->empty()) fs::write_atomic(*port_file, std::to_string(worker->port()) + "\n");
    int sig = 0;
    sigwait(&set, &sig);
    log::info(str("rollout worker: signal ", sig, ", draining for up to ", *drain, " s"));
    worker->shutdown(*drain);
  });
}
}  // namespace grpo::cmd
