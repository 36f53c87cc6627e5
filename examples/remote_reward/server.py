"""Example remote reward server for grpo's `remote` reward (proto/reward.proto).

It hosts two rules, picked by the request's `reward` field (the client's args.reward):
  contains_answer (default)  1.0 when the ground truth's "answer" appears verbatim in the
                             text after the last "</think>", else 0.0
  length_ratio               len(completion) / server_args["max_chars"] (default 1000)
A request item whose ground truth has "fail": true gets a per-item error, and the
"slow_s" field of server_args delays the whole reply (both for tests of failure handling).

The Python stubs are generated at start-up with grpc_tools.protoc into a temporary
directory, so nothing generated is committed.

Run:  /opt/grpo/venv/bin/python examples/remote_reward/server.py --port 50051
      (--port 0 picks a free port; the chosen one is printed as "PORT <n>" on stdout)
Config: rewards: [{name: remote, args: {address: "localhost:50051", batch_size: 64}}]
"""
import argparse
import importlib
import json
import pathlib
import sys
import tempfile
import time
from concurrent import futures

import grpc
from grpc_tools import protoc

REPO = pathlib.Path(__file__).resolve().parents[2]


def load_stubs():
    out = tempfile.mkdtemp(prefix="grpo_reward_stubs_")
    proto_include = pathlib.Path(protoc.__file__).parent / "_proto"
    rc = protoc.main(["protoc", f"-I{REPO}", f"-I{proto_include}", f"--python_out={out}",
                      f"--grpc_python_out={out}", str(REPO / "proto" / "reward.proto")])
    if rc != 0:
        sys.exit(f"server.py: protoc failed on {REPO / 'proto' / 'reward.proto'} (exit {rc})")
    sys.path.insert(0, out)
    return importlib.import_module("proto.reward_pb2"), importlib.import_module("proto.reward_pb2_grpc")


pb, pb_grpc = load_stubs()


def score_item(rule, args, item):
    truth = json.loads(item.ground_truth_json or "{}")
    if truth.get("fail"):
        return pb.ItemScore(error="ground truth asked this item to fail")
    completion = item.completion.decode("utf-8", errors="replace")
    if rule in ("", "contains_answer"):
        if "answer" not in truth:
            return pb.ItemScore(error="ground truth has no 'answer'")
        region = completion.rsplit("</think>", 1)[-1]
        hit = str(truth["answer"]) in region
        return pb.ItemScore(score=1.0 if hit else 0.0, details_json=json.dumps({"found": hit}))
    if rule == "length_ratio":
        return pb.ItemScore(score=len(completion) / float(args.get("max_chars", 1000)))
    return pb.ItemScore(error=f"unknown rule {rule!r}")


class RewardService(pb_grpc.RewardServiceServicer):
    def Score(self, request, context):
        args = json.loads(request.args_json or "{}")
        if args.get("slow_s"):
            time.sleep(float(args["slow_s"]))
        return pb.ScoreResponse(scores=[score_item(request.reward, args, it) for it in request.items])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=50051)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--workers", type=int, default=8)
    a = ap.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=a.workers),
                         options=[("grpc.max_receive_message_length", 256 << 20),
                                  ("grpc.max_send_message_length", 256 << 20)])
    pb_grpc.add_RewardServiceServicer_to_server(RewardService(), server)
    port = server.add_insecure_port(f"{a.host}:{a.port}")
    if port == 0:
        sys.exit(f"server.py: cannot listen on {a.host}:{a.port}")
    server.start()
    print(f"PORT {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
