#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "backend/backend_registry.h"
#include "config/model_config.h"
#include "config/repository.h"

namespace tandem {
namespace {

constexpr const char* kValid = R"(
backend: torchscript
max_batch_size: 8
inputs:
  - {name: image, datatype: FP32, shape: [3, -1, -1]}
outputs:
  - {name: d0, datatype: FP32, shape: [3, 320, 320]}
  - {name: score, datatype: FP32, shape: []}
dynamic_batching: {max_queue_delay_us: 2000, preferred_batch_sizes: [4, 8], max_queue_size: 256}
instances:
  - {devices: auto, count: 2}
  - {devices: [cuda:0, cpu]}
warmup: {batch_sizes: [1, 8]}
parameters: {latency_us: 100}
)";

ModelConfig Parse(const std::string& yaml, ConfigProblems& problems) {
  return ParseModelConfig(yaml, "m", "m/model.yaml", problems, AllBackendRules());
}

// Parses `yaml` and returns its problems as "key: message" lines.
std::vector<std::string> ProblemsOf(const std::string& yaml) {
  ConfigProblems problems;
  Parse(yaml, problems);
  std::vector<std::string> out;
  for (const ConfigProblem& p : problems.all()) {
    EXPECT_EQ(p.file, "m/model.yaml");
    out.push_back(p.key + ": " + p.message);
  }
  return out;
}

bool Mentions(const std::vector<std::string>& problems, const std::string& text) {
  for (const std::string& p : problems) {
    if (p.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(ModelConfigTest, ParsesEveryField) {
  ConfigProblems problems;
  ModelConfig c = Parse(kValid, problems);
  ASSERT_TRUE(problems.empty()) << problems.ToStatus().message();
  EXPECT_EQ(c.name, "m");
  EXPECT_EQ(c.backend, "torchscript");
  EXPECT_EQ(c.max_batch_size, 8);
  ASSERT_EQ(c.inputs.size(), 1u);
  EXPECT_EQ(c.inputs[0].shape, Shape({3, -1, -1}));
  ASSERT_EQ(c.outputs.size(), 2u);
  EXPECT_EQ(c.outputs[1].shape, Shape({}));
  ASSERT_TRUE(c.dynamic_batching.has_value());
  EXPECT_EQ(c.dynamic_batching->max_queue_delay_us, 2000);
  EXPECT_EQ(c.dynamic_batching->preferred_batch_sizes, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(c.dynamic_batching->max_queue_size, 256);
  ASSERT_EQ(c.instances.size(), 2u);
  EXPECT_EQ(c.instances[0].selector, InstanceGroupConfig::Selector::kAuto);
  EXPECT_EQ(c.instances[0].count, 2);
  EXPECT_EQ(c.instances[1].devices, (std::vector<Device>{Device::Cuda(0), Device::Cpu()}));
  EXPECT_EQ(c.warmup_batch_sizes, (std::vector<int64_t>{1, 8}));
  EXPECT_EQ(c.parameters.at("latency_us"), "100");
}

TEST(ModelConfigTest, DefaultsToOneInstanceOnAutoAndNoBatching) {
  ConfigProblems problems;
  ModelConfig c = Parse(
      "backend: sim\ninputs: [{name: x, datatype: INT64, shape: [4]}]\n"
      "outputs: [{name: y, datatype: INT64, shape: [4]}]\n",
      problems);
  ASSERT_TRUE(problems.empty()) << problems.ToStatus().message();
  EXPECT_FALSE(c.batched());
  ASSERT_EQ(c.instances.size(), 1u);
  EXPECT_EQ(c.instances[0].selector, InstanceGroupConfig::Selector::kAuto);
  EXPECT_EQ(c.instances[0].count, 1);
}

TEST(ModelConfigTest, ReportsEveryProblemWithItsKey) {
  auto problems = ProblemsOf(R"(
backend: tensorflow
max_batch_size: -2
max_batchsize: 4
inputs:
  - {name: x, datatype: FP33, shape: [3, 0]}
  - {name: x, datatype: FP32, shape: oops}
outputs: []
instances:
  - {devices: tpu, count: 0}
warmup: {batch_sizes: [0]}
)");
  EXPECT_TRUE(Mentions(problems,
                       "backend: unknown backend 'tensorflow' (expected aoti, torchscript or sim)"))
      << problems.size();
  EXPECT_TRUE(Mentions(problems, "max_batch_size: must be at least 0"));
  EXPECT_TRUE(Mentions(problems, "max_batchsize: unknown key"));
  EXPECT_TRUE(Mentions(problems, "inputs[0].datatype: unknown datatype 'FP33'"));
  EXPECT_TRUE(Mentions(problems, "inputs[0].shape[1]: must be a positive size or -1"));
  EXPECT_TRUE(Mentions(problems, "inputs[1].name: 'x' appears twice"));
  EXPECT_TRUE(Mentions(problems, "inputs[1].shape: must be a list"));
  EXPECT_TRUE(Mentions(problems, "outputs: must be a non-empty list"));
  EXPECT_TRUE(Mentions(problems, "instances[0].devices: 'tpu' is not auto"));
  EXPECT_TRUE(Mentions(problems, "instances[0].count: must be at least 1"));
  EXPECT_TRUE(Mentions(problems, "warmup.batch_sizes[0]: must be between 1 and 1"));
}

TEST(ModelConfigTest, RequiresBackendInputsAndOutputs) {
  auto problems = ProblemsOf("max_batch_size: 1\n");
  EXPECT_TRUE(Mentions(problems, "backend: is required"));
  EXPECT_TRUE(Mentions(problems, "inputs: must be a non-empty list"));
  EXPECT_TRUE(Mentions(problems, "outputs: must be a non-empty list"));
}

TEST(ModelConfigTest, ReportsYamlSyntaxErrorsWithLine) {
  auto problems = ProblemsOf("backend: [torchscript\ninputs: 3\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(Mentions(problems, "not valid YAML")) << problems[0];
  EXPECT_TRUE(Mentions(problems, "line"));
}

TEST(ModelConfigTest, RejectsANonMapDocument) {
  EXPECT_TRUE(Mentions(ProblemsOf("- just\n- a list\n"), "must be a YAML map"));
}

TEST(ModelConfigTest, DynamicBatchingNeedsABatchDimension) {
  auto problems = ProblemsOf(R"(
backend: torchscript
inputs: [{name: x, datatype: FP32, shape: [1]}]
outputs: [{name: y, datatype: FP32, shape: [1]}]
dynamic_batching: {preferred_batch_sizes: [2]}
)");
  EXPECT_TRUE(Mentions(problems, "dynamic_batching: needs max_batch_size > 0"));
  EXPECT_TRUE(
      Mentions(problems, "dynamic_batching.preferred_batch_sizes[0]: must be between 1 and 0"));
}

TEST(ModelConfigTest, TorchScriptTakesNoBytes) {
  auto problems = ProblemsOf(R"(
backend: torchscript
inputs: [{name: x, datatype: BYTES, shape: [1]}]
outputs: [{name: y, datatype: FP32, shape: [1]}]
)");
  EXPECT_TRUE(Mentions(problems, "inputs[0].datatype: torchscript models take and return numeric"));
  EXPECT_TRUE(Mentions(ProblemsOf(R"(
backend: aoti
inputs: [{name: x, datatype: FP32, shape: [1]}]
outputs: [{name: y, datatype: BYTES, shape: [1]}]
)"),
                       "outputs[0].datatype: aoti models take and return numeric"));
}

TEST(ModelConfigTest, CudaGraphsNeedFixedShapesAndWarmUpSizes) {
  ConfigProblems problems;
  ModelConfig c = Parse(R"(
backend: torchscript
max_batch_size: 8
inputs: [{name: x, datatype: FP32, shape: [3, 4]}]
outputs: [{name: y, datatype: FP32, shape: [2]}]
warmup: {batch_sizes: [1, 8]}
cuda_graphs: true
)",
                        problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_TRUE(c.cuda_graphs);
  EXPECT_FALSE(Parse(kValid, problems).cuda_graphs);

  auto bad = ProblemsOf(R"(
backend: torchscript
inputs: [{name: x, datatype: FP32, shape: [-1, 4]}]
outputs: [{name: y, datatype: FP32, shape: [2]}]
cuda_graphs: true
)");
  EXPECT_TRUE(Mentions(bad, "cuda_graphs: a CUDA graph replays fixed shapes, but inputs[0] ('x')"));
  EXPECT_TRUE(Mentions(bad, "cuda_graphs: graphs are captured at warm-up"));
  EXPECT_TRUE(Mentions(ProblemsOf(R"(
backend: sim
inputs: [{name: x, datatype: FP32, shape: [4]}]
outputs: [{name: y, datatype: FP32, shape: [4]}]
warmup: {batch_sizes: [1]}
cuda_graphs: true
)"),
                       "cuda_graphs: only torchscript models"));
  EXPECT_TRUE(Mentions(ProblemsOf(R"(
backend: torchscript
inputs: [{name: x, datatype: FP32, shape: [4]}]
outputs: [{name: y, datatype: FP32, shape: [4]}]
cuda_graphs: yes please
)"),
                       "cuda_graphs: must be true or false"));
}

TEST(ModelConfigTest, WarmUpShapesGiveFlexibleDimensionsTheirSizes) {
  ConfigProblems problems;
  ModelConfig c = Parse(R"(
backend: torchscript
max_batch_size: 0
inputs: [{name: rgb, datatype: UINT8, shape: [-1, -1, 3]}, {name: t, datatype: FP32, shape: [-1]}]
outputs: [{name: y, datatype: FP32, shape: [1]}]
warmup: {shapes: {rgb: [479, 641, 3]}}
)",
                        problems);
  ASSERT_TRUE(problems.empty()) << problems.ToStatus().message();
  EXPECT_EQ(c.warmup_shapes.at("rgb"), Shape({479, 641, 3}));
  EXPECT_EQ(c.warmup_batch_sizes, std::vector<int64_t>{1});  // shapes alone ask for a warm-up

  ConfigProblems bad;
  Parse(R"(
backend: torchscript
max_batch_size: 0
inputs: [{name: rgb, datatype: UINT8, shape: [-1, -1, 3]}]
outputs: [{name: y, datatype: FP32, shape: [1]}]
warmup: {shapes: {rgb: [479, 641, 4], mask: [1], }}
)",
        bad);
  const std::string all = bad.ToStatus().message();
  EXPECT_NE(all.find("warmup.shapes.rgb: [479, 641, 4] does not fit input 'rgb' [-1, -1, 3]"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("warmup.shapes.mask: names no input of this model"), std::string::npos) << all;
}

TEST(ModelConfigTest, OutputPositionsAreCheckedAndOnlyForOutputs) {
  ConfigProblems problems;
  ModelConfig c = Parse(R"(
backend: torchscript
inputs: [{name: x, datatype: FP32, shape: [1]}]
outputs: [{name: a, datatype: FP32, shape: [1], position: 3}, {name: b, datatype: FP32, shape: [1]}]
)",
                        problems);
  ASSERT_TRUE(problems.empty()) << problems.ToStatus().message();
  EXPECT_EQ(c.output_positions, (std::map<std::string, int64_t>{{"a", 3}}));  // b: its place, 1
  const std::vector<std::string> bad = ProblemsOf(R"(
backend: torchscript
inputs: [{name: x, datatype: FP32, shape: [1], position: 0}]
outputs: [{name: a, datatype: FP32, shape: [1], position: 1}, {name: b, datatype: FP32, shape: [1]},
          {name: c, datatype: FP32, shape: [1], position: -2}]
)");
  EXPECT_TRUE(Mentions(bad, "inputs[0].position: unknown key"));
  EXPECT_TRUE(Mentions(bad, "outputs[1].position: position 1 is another one's too"));
  EXPECT_TRUE(Mentions(bad, "outputs[2].position: must be at least 0, got -2"));
}

TEST(ModelConfigTest, BadDeviceInAListIsNamed) {
  auto problems = ProblemsOf(R"(
backend: torchscript
inputs: [{name: x, datatype: FP32, shape: [1]}]
outputs: [{name: y, datatype: FP32, shape: [1]}]
instances: [{devices: [cuda:0, cuda], count: 1}]
)");
  EXPECT_TRUE(Mentions(problems, "instances[0].devices[1]: unknown device 'cuda'"));
}

class RepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("tandem_repo_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void Write(const std::filesystem::path& relative, const std::string& text) {
    std::filesystem::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << text;
  }

  static constexpr const char* kModel =
      "backend: torchscript\ninputs: [{name: x, datatype: FP32, shape: [1]}]\n"
      "outputs: [{name: y, datatype: FP32, shape: [1]}]\n";
  std::filesystem::path root_;
};

TEST_F(RepositoryTest, FindsNumericVersionsInOrder) {
  Write("a/model.yaml", kModel);
  Write("a/1/model.pt", "x");
  Write("a/10/model.pt", "x");
  Write("a/2/model.pt", "x");
  Write("a/notes/readme.txt", "ignored");
  RepositoryScan scan = ScanModelRepository(root_);
  ASSERT_TRUE(scan.problems.empty()) << scan.problems.ToStatus().message();
  ASSERT_EQ(scan.models.size(), 1u);
  EXPECT_EQ(scan.models[0].versions, (std::vector<int64_t>{1, 2, 10}));
}

TEST_F(RepositoryTest, ReportsMissingFilesAndBadModelsButKeepsGoodOnes) {
  Write("good/model.yaml", kModel);
  Write("good/1/model.pt", "x");
  Write("noversion/model.yaml", kModel);
  Write("nofile/model.yaml", kModel);
  Write("nofile/1/other.bin", "x");
  Write("broken/model.yaml", "backend: [\n");
  Write("empty/README", "");
  RepositoryScan scan = ScanModelRepository(root_);
  ASSERT_EQ(scan.models.size(), 1u);
  EXPECT_EQ(scan.models[0].config.name, "good");
  std::string all = scan.problems.ToStatus().message();
  EXPECT_NE(all.find("noversion: no version folder: expected noversion/1/model.pt"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("nofile/1/model.pt: missing"), std::string::npos) << all;
  EXPECT_NE(all.find("broken/model.yaml: not valid YAML"), std::string::npos) << all;
  EXPECT_NE(all.find("empty: holds neither model.yaml nor pipeline.yaml"), std::string::npos)
      << all;
}

TEST_F(RepositoryTest, EachBackendLooksForItsOwnFile) {
  const std::string model = kModel;
  const std::string aoti = "backend: aoti\n" + model.substr(model.find('\n') + 1);
  Write("compiled/model.yaml", aoti);
  Write("compiled/1/model.pt2", "x");
  Write("wrong_file/model.yaml", aoti);
  Write("wrong_file/1/model.pt", "x");
  RepositoryScan scan = ScanModelRepository(root_);
  ASSERT_EQ(scan.models.size(), 1u);
  EXPECT_EQ(scan.models[0].config.name, "compiled");
  std::string all = scan.problems.ToStatus().message();
  EXPECT_NE(all.find("wrong_file/1/model.pt2: missing: each version folder of a model with "
                     "backend: aoti holds model.pt2"),
            std::string::npos)
      << all;
}

TEST_F(RepositoryTest, AMissingRepositoryIsAProblem) {
  RepositoryScan scan = ScanModelRepository(root_ / "absent");
  EXPECT_NE(scan.problems.ToStatus().message().find("not a directory"), std::string::npos);
}

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

TEST(ModelConfigTest, SimModelsMirrorInputsAndTakeNumericParameters) {
  auto problems = ProblemsOf(R"(
backend: sim
inputs: [{name: a, datatype: FP32, shape: [2]}, {name: b, datatype: BOOL, shape: [1]}]
outputs: [{name: y, datatype: INT32, shape: [2]}]
parameters: {latency_us: -5, scale: big, speed: 3}
)");
  EXPECT_TRUE(Mentions(problems, "outputs: a sim model declares as many outputs as inputs"));
  EXPECT_TRUE(Mentions(problems, "outputs[0]: must have the datatype and shape of inputs[0]"));
  EXPECT_TRUE(Mentions(problems, "inputs[1].datatype: sim models compute on integer"));
  EXPECT_TRUE(Mentions(problems, "parameters.latency_us: must be 0 or more"));
  EXPECT_TRUE(Mentions(problems, "parameters.scale: 'big' is not a number"));
  EXPECT_TRUE(Mentions(problems, "parameters.speed: unknown sim parameter"));
}

}  // namespace
}  // namespace tandem

namespace tandem {
namespace {

TEST(ModelNameTest, OnlyPlainNamesAreValid) {
  for (const char* ok : {"classifier", "remove_background", "model.tar.gz", "a-1", "X"}) {
    EXPECT_TRUE(IsValidModelName(ok)) << ok;
  }
  for (const char* bad : {"", ".hidden", "..", "../etc", "a/b", "a b", "a\\b", "a%2Fb"}) {
    EXPECT_FALSE(IsValidModelName(bad)) << bad;
  }
  EXPECT_FALSE(IsValidModelName(std::string(129, 'a')));
}

}  // namespace
}  // namespace tandem
