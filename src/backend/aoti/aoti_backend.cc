#include "backend/aoti/aoti_backend.h"

#include <c10/cuda/CUDAStream.h>
#include <rapidjson/document.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>

#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "backend/torch/model_io.h"
#include "device/torch_status.h"
#include "device/torch_tensors.h"

namespace tandem {
namespace {

// The file each version folder holds: aoti_compile_and_package's output.
constexpr char kArtifact[] = "model.pt2";

// Whether this CPU has one feature of Inductor's vector ISA names ("AVX2", "AVX512",
// "AVX512_VNNI", ...), with the instructions Inductor compiles each for. Names not known here
// pass: the package then fails to load if it truly cannot run.
bool CpuHas(const std::string& feature) {
#if defined(__x86_64__)
  if (feature == "AVX2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (feature == "AVX512") {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  }
  if (feature == "AVX512_VNNI") return __builtin_cpu_supports("avx512vnni");
#endif
  return true;
}

// The first feature of `isa` (a package's AOTI_CPU_ISA, "AVX512 AVX512_VNNI" say, one word per
// feature) this CPU lacks, or nothing.
std::optional<std::string> MissingCpuFeature(const std::string& isa) {
  std::istringstream words(isa);
  std::string word;
  while (words >> word) {
    if (!CpuHas(word)) return word;
  }
  return std::nullopt;
}

// How many tensors a pytree spec flattens to (its leaves): torch.utils._pytree's JSON, as a
// package's call spec holds it ([version, tree]), or nothing if it cannot be read.
std::optional<size_t> SpecLeaves(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  if (doc.HasParseError() || !doc.IsArray() || doc.Size() != 2) return std::nullopt;
  std::function<size_t(const rapidjson::Value&)> leaves = [&](const rapidjson::Value& node) {
    if (!node.IsObject()) return size_t{0};
    auto type = node.FindMember("type");
    if (type == node.MemberEnd() || type->value.IsNull()) return size_t{1};
    size_t count = 0;
    auto children = node.FindMember("children_spec");
    if (children != node.MemberEnd() && children->value.IsArray()) {
      for (const rapidjson::Value& child : children->value.GetArray()) count += leaves(child);
    }
    return count;
  };
  return leaves(doc[1]);
}

// The package's own input and output counts against the config's, where its call spec says.
Status CheckCallSpec(const ModelConfig& config, const std::vector<std::string>& spec) {
  if (spec.size() != 2) return Status::Ok();
  if (auto inputs = SpecLeaves(spec[0]); inputs && *inputs != config.inputs.size()) {
    return InvalidArgument("the package takes " + std::to_string(*inputs) +
                           " input(s) but model.yaml declares " +
                           std::to_string(config.inputs.size()));
  }
  auto outputs = SpecLeaves(spec[1]);
  if (!outputs) return Status::Ok();
  for (size_t i = 0; i < config.outputs.size(); ++i) {
    const size_t position = config.OutputPosition(i);
    if (position >= *outputs) {
      return InvalidArgument("model.yaml's output '" + config.outputs[i].name + "' is item " +
                             std::to_string(position) + " of the result, but the package returns " +
                             std::to_string(*outputs) + " tensor(s)");
    }
  }
  return Status::Ok();
}

class AotiInstance final : public Instance {
 public:
  AotiInstance(const ModelConfig& config,
               std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader, Device device,
               c10::Device torch_device)
      : config_(config),
        loader_(std::move(loader)),
        device_(device),
        torch_device_(torch_device),
        weight_bytes_(ConstantBytes(*loader_)) {}

  Device device() const override { return device_; }
  uint64_t weight_bytes() const override { return weight_bytes_; }

  StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    return RunModel(config_, torch_device_, inputs,
                    [&](std::vector<at::Tensor> args) -> StatusOr<std::vector<at::Tensor>> {
                      return Forward(std::move(args), inputs);
                    });
  }

 private:
  // The package's constants (its weights, folded or not) as the runner holds them.
  static uint64_t ConstantBytes(torch::inductor::AOTIModelPackageLoader& loader) {
    std::vector<at::Tensor> constants;
    for (const auto& [name, tensor] :
         loader.get_runner()->extract_constants_map(/*use_inactive=*/false)) {
      constants.push_back(tensor);
    }
    return StorageBytes(constants);
  }

  StatusOr<std::vector<at::Tensor>> Forward(std::vector<at::Tensor> args,
                                            const std::vector<Tensor>& inputs) {
    // A package runs a batch above the size it was exported for without a word, so none may
    // reach it: the scheduler never merges past max_batch_size, and this says so if it did.
    if (config_.batched() && !args.empty() && args.front().size(0) > config_.max_batch_size) {
      return InvalidArgument("a batch of " + std::to_string(args.front().size(0)) +
                             " is over max_batch_size " + std::to_string(config_.max_batch_size));
    }
    for (at::Tensor& arg : args) arg = arg.contiguous();
    // On a GPU, the worker's stream (made current by its DeviceStream).
    void* stream =
        torch_device_.is_cuda()
            ? static_cast<void*>(c10::cuda::getCurrentCUDAStream(torch_device_.index()).stream())
            : nullptr;
    std::vector<at::Tensor> items;
    try {
      items = loader_->run(args, stream);
    } catch (const std::exception& e) {
      // The compiled code reports its own error to the log and the runner throws a generic
      // "API call failed"; say what usually causes it.
      if (std::string(e.what()).find("API call failed") == std::string::npos) throw;
      std::string shapes;
      for (const Tensor& input : inputs) {
        shapes += (shapes.empty() ? "" : ", ") + std::string(DataTypeName(input.dtype())) + " " +
                  input.shape().ToString();
      }
      return Internal("the compiled model failed on inputs " + shapes +
                      " (its own error is in the log just before this; inputs of another "
                      "dtype or shape than it was exported for fail this way)");
    }
    return OutputsByPosition(config_, std::move(items));
  }

  const ModelConfig config_;
  const std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader_;
  const Device device_;
  const c10::Device torch_device_;
  const uint64_t weight_bytes_;
};

class AotiBackend final : public Backend {
 public:
  StatusOr<std::unique_ptr<Instance>> CreateInstance(const ModelConfig& config,
                                                     const std::filesystem::path& version_dir,
                                                     Device device) override {
    const std::filesystem::path file = version_dir / kArtifact;
    const std::string context = "loading " + file.string();
    return CatchTorch(context, [&]() -> StatusOr<std::unique_ptr<Instance>> {
      ASSIGN_OR_RETURN(c10::Device torch_device, ToTorchDevice(device));
      // The package says what it was compiled for; check that before loading its code.
      std::unordered_map<std::string, std::string> metadata =
          torch::inductor::AOTIModelPackageLoader::load_metadata_from_package(file.string(),
                                                                              "model");
      const std::string compiled_for = metadata["AOTI_DEVICE_KEY"];
      const std::string kind = torch_device.is_cuda() ? "cuda" : "cpu";
      if (compiled_for != kind) {
        return InvalidArgument(
            context + ": the package was compiled for " +
            (compiled_for.empty() ? std::string("an unknown device") : compiled_for) + ", not " +
            kind + " (" + device.ToString() +
            "): export it on the device it will run on, or set instances");
      }
      if (auto missing = MissingCpuFeature(metadata["AOTI_CPU_ISA"]); kind == "cpu" && missing) {
        return InvalidArgument(context + ": the package was compiled for CPUs with " +
                               metadata["AOTI_CPU_ISA"] + " and this CPU lacks " + *missing +
                               ": export it on a machine like this one");
      }
      auto loader = std::make_unique<torch::inductor::AOTIModelPackageLoader>(
          file.string(), "model", /*run_single_threaded=*/false, /*num_runners=*/1,
          torch_device.is_cuda() ? torch_device.index() : static_cast<c10::DeviceIndex>(-1));
      RETURN_IF_ERROR(CheckCallSpec(config, loader->get_call_spec()).WithContext(context));
      return std::unique_ptr<Instance>(
          new AotiInstance(config, std::move(loader), device, torch_device));
    });
  }
};

}  // namespace

BackendDescription AotiBackendDescription() {
  BackendDescription d;
  d.rules = {"aoti", kArtifact, /*cuda_graphs=*/false, CheckNumericTensors};
  d.platform = "torch_aoti";
  d.accelerator = Device::Kind::kCuda;
  d.make = [](const DeviceSet&) { return std::make_unique<AotiBackend>(); };
  return d;
}

}  // namespace tandem
