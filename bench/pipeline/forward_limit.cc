// bench-pipeline's in-process limit: the example's segmenter and matting net called back to back
// from C++ threads through LibTorch, with no server and nothing else: no decode, no pre- or
// post-processing, inputs made once. Each loop thread loads its own copy of both models, as each
// of Tandem's instances does: TorchScript files (.pt) or AOTInductor packages (.pt2). Intra-op
// threads come from OMP_NUM_THREADS, which the caller sets. Host memory is kept for reuse as the
// server keeps it (device/host_memory.h), so that the limit pays no page faults the server does
// not.
//
// Usage: forward_limit SEGMENTER.pt[2] MATTING.pt[2] SIZE HEIGHT WIDTH BATCH LOOPS SECONDS [WHICH]
//   SIZE: the segmenter's input side; HEIGHT, WIDTH: the matting input's; BATCH images a
//   segmenter call (then BATCH matting calls). WHICH: both (default), or segmenter or matting
//   alone (a model alone keeps its weights and activations in its core's caches, as a Tandem
//   instance that serves one model does). Prints the images per second of all loops.
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/script.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "device/host_memory.h"

namespace {

// One model, loaded from a TorchScript file or an AOTInductor package by its file name.
class Model {
 public:
  explicit Model(const std::string& file) {
    if (file.size() > 4 && file.compare(file.size() - 4, 4, ".pt2") == 0) {
      package_ = std::make_unique<torch::inductor::AOTIModelPackageLoader>(file, "model");
    } else {
      script_ = torch::jit::load(file);
      script_.eval();
    }
  }

  void Forward(const at::Tensor& x) {
    if (package_) {
      package_->run({x});
    } else {
      script_.forward({x});
    }
  }

 private:
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> package_;
  torch::jit::Module script_;
};

}  // namespace

int main(int argc, char** argv) {
  std::fprintf(stderr, "%s\n", tandem::KeepHostMemoryForReuse().c_str());
  if (argc != 9 && argc != 10) {
    std::fprintf(stderr,
                 "usage: forward_limit SEGMENTER.pt[2] MATTING.pt[2] SIZE HEIGHT WIDTH BATCH LOOPS "
                 "SECONDS [both|segmenter|matting]\n");
    return 2;
  }
  const std::string which = argc == 10 ? argv[9] : "both";
  const bool run_segmenter = which != "matting", run_matting = which != "segmenter";
  const std::string segmenter_file = argv[1], matting_file = argv[2];
  const int64_t size = std::atoll(argv[3]), height = std::atoll(argv[4]),
                width = std::atoll(argv[5]), batch = std::atoll(argv[6]);
  const int loops = std::atoi(argv[7]);
  const double seconds = std::atof(argv[8]);

  std::mutex mu;
  std::condition_variable cv;
  int ready = 0;
  std::atomic<int64_t> images{0};
  std::chrono::steady_clock::time_point start, stop;
  std::vector<std::thread> threads;
  for (int i = 0; i < loops; ++i) {
    threads.emplace_back([&] {
      c10::InferenceMode inference_mode;
      Model segmenter(segmenter_file), matting(matting_file);
      const at::Tensor x = at::rand({batch, 3, size, size});
      const at::Tensor m = at::rand({1, 4, height, width});
      auto forward = [&] {
        if (run_segmenter) segmenter.Forward(x);
        for (int64_t b = 0; run_matting && b < batch; ++b) matting.Forward(m);
      };
      for (int w = 0; w < 3; ++w) forward();  // TorchScript profiles, then optimises
      {
        std::unique_lock lock(mu);
        if (++ready == loops) {
          start = std::chrono::steady_clock::now();
          stop = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                             std::chrono::duration<double>(seconds));
          cv.notify_all();
        } else {
          cv.wait(lock, [&] { return ready == loops; });
        }
      }
      while (std::chrono::steady_clock::now() < stop) {
        forward();
        images += batch;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.4f\n", static_cast<double>(images.load()) / elapsed);
  return 0;
}
