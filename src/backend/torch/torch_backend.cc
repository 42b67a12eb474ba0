#include "backend/torch/torch_backend.h"

#include <ATen/cuda/CUDAGraph.h>
#include <torch/script.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <set>

#include "backend/torch/model_io.h"
#include "device/torch_status.h"
#include "device/torch_tensors.h"

namespace tandem {
namespace {

// The file each version folder holds: torch.jit.save's output.
constexpr char kArtifact[] = "model.pt";

class TorchScriptInstance final : public Instance {
 public:
  TorchScriptInstance(const ModelConfig& config, torch::jit::Module module, Device device,
                      c10::Device torch_device)
      : config_(config),
        module_(std::move(module)),
        device_(device),
        torch_device_(torch_device),
        weight_bytes_(WeightBytes(module_)) {}

  Device device() const override { return device_; }
  uint64_t weight_bytes() const override { return weight_bytes_; }
  GraphCounts cuda_graphs() const override {
    return {graphs_captured_.load(std::memory_order_relaxed),
            graph_replays_.load(std::memory_order_relaxed)};
  }

  StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    return RunModel(config_, torch_device_, inputs,
                    [&](std::vector<at::Tensor> args) -> StatusOr<std::vector<at::Tensor>> {
                      if (UsesGraphs()) return RunGraph(args);
                      return SplitOutputs(module_.forward(AsIValues(args)));
                    });
  }

 private:
  // A forward() captured as a CUDA graph, with the device buffers it reads and writes.
  struct CapturedForward {
    std::vector<at::Tensor> inputs;
    std::vector<at::Tensor> outputs;
    std::unique_ptr<at::cuda::CUDAGraph> graph;
  };

  static uint64_t WeightBytes(const torch::jit::Module& module) {
    std::vector<at::Tensor> weights;
    for (const at::Tensor& p : module.parameters(/*recurse=*/true)) weights.push_back(p);
    for (const at::Tensor& b : module.buffers(/*recurse=*/true)) weights.push_back(b);
    return StorageBytes(weights);
  }

  static std::vector<c10::IValue> AsIValues(const std::vector<at::Tensor>& tensors) {
    return std::vector<c10::IValue>(tensors.begin(), tensors.end());
  }

  bool UsesGraphs() const { return config_.cuda_graphs && torch_device_.is_cuda(); }

  // Replays the graph captured for this batch size. Graphs are captured during warm-up, one
  // for each of warmup.batch_sizes (the engine warms up on a stream of its own, never the
  // default one, which cannot be captured); a batch of another size runs eagerly.
  StatusOr<std::vector<at::Tensor>> RunGraph(const std::vector<at::Tensor>& args) {
    const int64_t batch = config_.batched() && !args.empty() ? args.front().size(0) : 0;
    auto it = graphs_.find(batch);
    if (it == graphs_.end()) {
      const auto& warmup = config_.warmup_batch_sizes;
      const bool is_warmup_size =
          std::find(warmup.begin(), warmup.end(), config_.batched() ? batch : 1) != warmup.end();
      if (!is_warmup_size || captured_all_) {
        return SplitOutputs(module_.forward(AsIValues(args)));
      }
      ASSIGN_OR_RETURN(CapturedForward captured, Capture(args));
      it = graphs_.emplace(batch, std::move(captured)).first;
      graphs_captured_.fetch_add(1, std::memory_order_relaxed);
      captured_all_ = graphs_.size() == std::set<int64_t>(warmup.begin(), warmup.end()).size();
    }
    CapturedForward& captured = it->second;
    for (size_t i = 0; i < args.size(); ++i) {
      captured.inputs[i].copy_(args[i], /*non_blocking=*/true);
    }
    captured.graph->replay();
    graph_replays_.fetch_add(1, std::memory_order_relaxed);
    // The next replay overwrites the graph's outputs; a request keeps its own copy.
    std::vector<at::Tensor> outputs;
    for (const at::Tensor& out : captured.outputs) outputs.push_back(out.clone());
    return outputs;
  }

  StatusOr<CapturedForward> Capture(const std::vector<at::Tensor>& args) {
    CapturedForward captured;
    for (const at::Tensor& arg : args) captured.inputs.push_back(arg.clone());
    // TorchScript profiles its first runs and then switches to an optimised plan: capture the
    // plan it will keep running.
    for (int i = 0; i < 3; ++i) module_.forward(AsIValues(captured.inputs));
    captured.graph = std::make_unique<at::cuda::CUDAGraph>();
    // Thread-local capture: other workers keep using the device meanwhile.
    captured.graph->capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
    c10::IValue result;
    try {
      result = module_.forward(AsIValues(captured.inputs));
      captured.graph->capture_end();
    } catch (const std::exception& e) {
      try {
        captured.graph->capture_end();  // leaves the stream out of capture mode
      } catch (...) {
      }
      return TorchErrorStatus(
          e, "capturing a CUDA graph failed (set cuda_graphs: false for this model)");
    }
    ASSIGN_OR_RETURN(captured.outputs, SplitOutputs(result));
    return captured;
  }

  // Maps the forward() result to the config's outputs: a tensor is the single output, a tuple
  // or list maps by position (an output's place in the config, or its `position`; a config may
  // declare any of the items), a dict with string keys maps by output name (any subset).
  StatusOr<std::vector<at::Tensor>> SplitOutputs(const c10::IValue& result) const {
    const size_t expected = config_.outputs.size();
    std::vector<at::Tensor> out;
    auto count_error = [&](size_t got) {
      return Internal("returned " + std::to_string(got) + " output(s) but model.yaml declares " +
                      std::to_string(expected));
    };
    auto take = [&](const c10::IValue& v, const std::string& where) -> Status {
      if (!v.isTensor()) return Internal(where + " is not a tensor (" + v.tagKind() + ")");
      out.push_back(v.toTensor());
      return Status::Ok();
    };
    if (result.isTensor()) {
      if (expected != 1) return count_error(1);
      RETURN_IF_ERROR(take(result, "the output"));
    } else if (result.isTuple() || result.isList()) {
      std::vector<c10::IValue> items =
          result.isTuple() ? result.toTupleRef().elements().vec() : result.toList().vec();
      std::vector<at::Tensor> tensors;
      for (size_t i = 0; i < items.size(); ++i) {
        if (items[i].isTensor()) {
          tensors.push_back(items[i].toTensor());
        } else {
          tensors.emplace_back();  // an error below if the config declares it
        }
      }
      ASSIGN_OR_RETURN(out, OutputsByPosition(config_, std::move(tensors)));
      for (size_t i = 0; i < out.size(); ++i) {
        if (!out[i].defined()) {
          return Internal("output '" + config_.outputs[i].name + "' is not a tensor");
        }
      }
    } else if (result.isGenericDict()) {
      c10::Dict<c10::IValue, c10::IValue> dict = result.toGenericDict();
      for (const TensorConfig& spec : config_.outputs) {
        auto it = dict.find(c10::IValue(spec.name));
        if (it == dict.end()) {
          return Internal("returned a dict without the key '" + spec.name +
                          "' that model.yaml names");
        }
        RETURN_IF_ERROR(take(it->value(), "output '" + spec.name + "'"));
      }
    } else {
      return Internal("returned " + result.tagKind() +
                      "; expected a tensor, a tuple or list of tensors, or a dict of tensors");
    }
    return out;
  }

  const ModelConfig config_;
  torch::jit::Module module_;
  const Device device_;
  const c10::Device torch_device_;
  const uint64_t weight_bytes_;
  std::map<int64_t, CapturedForward> graphs_;  // by batch size (0: unbatched)
  // What cuda_graphs() reports to other threads: graphs_.size(), and the replays so far.
  std::atomic<uint64_t> graphs_captured_{0};
  std::atomic<uint64_t> graph_replays_{0};
  bool captured_all_ = false;  // every warm-up batch size has its graph
};

class TorchScriptBackend final : public Backend {
 public:
  StatusOr<std::unique_ptr<Instance>> CreateInstance(const ModelConfig& config,
                                                     const std::filesystem::path& version_dir,
                                                     Device device) override {
    const std::filesystem::path file = version_dir / kArtifact;
    return CatchTorch("loading " + file.string(), [&]() -> StatusOr<std::unique_ptr<Instance>> {
      ASSIGN_OR_RETURN(c10::Device torch_device, ToTorchDevice(device));
      torch::jit::Module module = torch::jit::load(file.string(), torch_device);
      module.eval();
      return std::unique_ptr<Instance>(
          new TorchScriptInstance(config, std::move(module), device, torch_device));
    });
  }
};

}  // namespace

BackendDescription TorchScriptBackendDescription() {
  BackendDescription d;
  d.rules = {"torchscript", kArtifact, /*cuda_graphs=*/true, CheckNumericTensors};
  d.platform = "pytorch_libtorch";
  d.accelerator = Device::Kind::kCuda;
  d.make = [](const DeviceSet&) { return std::make_unique<TorchScriptBackend>(); };
  return d;
}

}  // namespace tandem
