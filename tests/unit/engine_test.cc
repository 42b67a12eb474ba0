// The engine as a registry of servables: loading beside what serves, swapping, retiring, and
// pipelines that lose and regain their models. Sim models on a simulated GPU (y = x·scale +
// offset, with a latency on a timer), so the tests are quick and run under TSan.
#include "engine/engine.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/model_control.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;

std::string SimModel(double offset, int latency_us = 2000) {
  return "backend: sim\nmax_batch_size: 8\n"
         "inputs: [{name: x, datatype: FP32, shape: [2]}]\n"
         "outputs: [{name: y, datatype: FP32, shape: [2]}]\n"
         "instances: [{devices: sim, count: 1}]\n"
         "dynamic_batching: {max_queue_delay_us: 500}\n"
         "parameters: {latency_us: " +
         std::to_string(latency_us) + ", scale: 1, offset: " + std::to_string(offset) + "}\n";
}

const char* kPipeline =
    "inputs: [{name: a, datatype: FP32, shape: [1, 2]}]\n"
    "outputs: [{name: b, datatype: FP32, shape: [1, 2]}]\n"
    "steps: [{name: s, model: m, inputs: {x: a}, outputs: {y: b}}]\n";

class EngineRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("engine_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    Write("m/model.yaml", SimModel(1));
    Write("p/pipeline.yaml", kPipeline);
    Start({});
  }
  // A new engine over the repository as it is now, everything loaded that can be.
  void Start(std::vector<MemoryLimit> limits) {
    engine_.reset();
    EngineOptions options;
    options.repository = root_;
    options.devices.sim_gpus = 1;
    options.memory_limits = std::move(limits);
    auto engine = Engine::Create(options);
    ASSERT_TRUE(engine.ok()) << engine.status().message();
    engine_ = std::move(*engine);
    static_cast<void>(engine_->LoadAll());
  }
  void TearDown() override {
    engine_.reset();
    fs::remove_all(root_);
  }

  void Write(const std::string& file, const std::string& text) {
    fs::create_directories((root_ / file).parent_path());
    std::ofstream(root_ / file) << text;
  }

  // Sends x = [value, value] to `model` (whose input is `input`): admitted (or refused) before
  // this returns; the future holds y[0] or the failure.
  std::future<StatusOr<float>> Send(const std::string& model, float value,
                                    const std::string& input = "x") {
    InferRequest request;
    request.model = model;
    Tensor x = *Tensor::Allocate(DataType::kFp32, Shape({1, 2}));
    auto* data = reinterpret_cast<float*>(x.mutable_data());
    data[0] = data[1] = value;
    request.inputs.push_back({input, x});
    auto answered = std::make_shared<std::promise<StatusOr<float>>>();
    std::future<StatusOr<float>> result = answered->get_future();
    engine_->Infer(std::move(request), [answered](StatusOr<InferResponse> response) {
      if (!response.ok()) return answered->set_value(response.status());
      answered->set_value(response->outputs.at(0).tensor.Values<float>()[0]);
    });
    return result;
  }
  StatusOr<float> Call(const std::string& model, float value, const std::string& input = "x") {
    return Send(model, value, input).get();
  }

  fs::path root_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineRegistryTest, AReloadUnderLoadFailsNoRequestAndSwitchesAnswers) {
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0}, old_answers{0}, new_answers{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      while (!stop) {
        // Directly and through the pipeline, which is assembled again over each new version.
        StatusOr<float> y = c % 2 ? Call("m", 10) : Call("p", 10, "a");
        if (!y.ok()) {
          ++failed;
          ADD_FAILURE() << y.status().message();
        } else if (*y == 11) {
          ++old_answers;
        } else if (*y == 12) {
          ++new_answers;
        } else {
          ADD_FAILURE() << "unexpected answer " << *y;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  Write("m/model.yaml", SimModel(2));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(engine_->Load("m").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_GT(old_answers, 0);
  EXPECT_GT(new_answers, 0);
  EXPECT_EQ(*Call("m", 10), 12);
}

TEST_F(EngineRegistryTest, APipelineUnderConcurrentRequestsAnswersEachItsOwn) {
  // Steps of different requests batch together on the sim GPU and split back apart.
  std::vector<std::thread> clients;
  std::atomic<int> wrong{0};
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      std::vector<std::pair<float, std::future<StatusOr<float>>>> sent;
      for (int i = 0; i < 25; ++i) {
        const float x = static_cast<float>(c * 100 + i);
        sent.emplace_back(x, Send(i % 2 ? "p" : "m", x, i % 2 ? "a" : "x"));
      }
      for (auto& [x, answer] : sent) {
        StatusOr<float> y = answer.get();
        if (!y.ok() || *y != x + 1) ++wrong;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong, 0);
}

TEST_F(EngineRegistryTest, UnloadAnswersWhatWasAdmittedThenRefusesNamingTheModel) {
  // Infer admits before it returns; each request then takes 2 ms on the sim GPU.
  std::vector<std::future<StatusOr<float>>> admitted;
  for (int i = 0; i < 6; ++i) admitted.push_back(Send("m", 1));
  ASSERT_TRUE(engine_->Unload("m").ok());
  for (auto& f : admitted) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    StatusOr<float> y = f.get();
    ASSERT_TRUE(y.ok()) << y.status().message();
    EXPECT_EQ(*y, 2);
  }
  StatusOr<float> after = Call("m", 1);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), StatusCode::kNotFound);
  EXPECT_NE(after.status().message().find("'m'"), std::string::npos);
  EXPECT_EQ(engine_->Unload("m").code(), StatusCode::kNotFound);
}

TEST_F(EngineRegistryTest, APipelineLosesItsModelNamingItAndRegainsIt) {
  ASSERT_EQ(*Call("p", 5, "a"), 6);
  ASSERT_TRUE(engine_->Unload("m").ok());
  StatusOr<float> lost = Call("p", 5, "a");
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(lost.status().message().find("model 'm' is not loaded"), std::string::npos)
      << lost.status().message();
  EXPECT_FALSE(engine_->Ready());
  ASSERT_TRUE(engine_->Load("m").ok());
  EXPECT_EQ(*Call("p", 5, "a"), 6);
  EXPECT_TRUE(engine_->Ready());
}

TEST_F(EngineRegistryTest, AFailedReloadKeepsTheOldVersionServingAndSaysWhy) {
  Write("m/model.yaml", "backend: sim\nmax_batch_size: nope\n");
  Status bad_config = engine_->Load("m");
  EXPECT_EQ(bad_config.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_config.message().find("max_batch_size"), std::string::npos) << bad_config.message();
  EXPECT_EQ(*Call("m", 1), 2);

  // A config that parses but cannot load: no such device.
  std::string yaml = SimModel(3);
  yaml.replace(yaml.find("devices: sim"), 12, "devices: [sim:7]");
  Write("m/model.yaml", yaml);
  Status bad_load = engine_->Load("m");
  EXPECT_FALSE(bad_load.ok());
  EXPECT_NE(bad_load.message().find("still serve"), std::string::npos) << bad_load.message();
  EXPECT_EQ(*Call("m", 1), 2);
  EXPECT_EQ(*Call("p", 1, "a"), 2);
}

TEST_F(EngineRegistryTest, NewVersionsAppearAndRemovedOnesGo) {
  // Sim models serve version 1 without a folder; with version folders, those serve.
  fs::create_directories(root_ / "m" / "3");
  fs::create_directories(root_ / "m" / "4");
  ASSERT_TRUE(engine_->Load("m").ok());
  EXPECT_EQ(*engine_->Versions("m"), (std::vector<std::string>{"3", "4"}));
  EXPECT_EQ(*Call("m", 1), 2);
  fs::remove_all(root_ / "m" / "4");
  ASSERT_TRUE(engine_->Load("m").ok());
  EXPECT_EQ(*engine_->Versions("m"), (std::vector<std::string>{"3"}));
}

TEST_F(EngineRegistryTest, ARepositoryArtifactIsNamespacedAndLoadsAllOrNothing) {
  Write("art/m/model.yaml", SimModel(5));
  Write("art/p/pipeline.yaml", kPipeline);
  auto served = engine_->LoadArtifact("x", root_ / "art");
  ASSERT_TRUE(served.ok()) << served.status().message();
  EXPECT_EQ(*served, (std::vector<std::string>{"x.m", "x.p"}));
  EXPECT_EQ(*Call("x.p", 1, "a"), 6);  // its pipeline runs its own m, not the repository's
  EXPECT_EQ(*Call("p", 1, "a"), 2);
  EXPECT_EQ(engine_->LoadArtifact("x", root_ / "art").status().code(), StatusCode::kAlreadyExists);

  // A model that cannot load takes the whole artifact with it.
  std::string yaml = SimModel(6);
  yaml.replace(yaml.find("devices: sim"), 12, "devices: [sim:7]");
  Write("broken/a/model.yaml", SimModel(6));
  Write("broken/b/model.yaml", yaml);
  EXPECT_FALSE(engine_->LoadArtifact("y", root_ / "broken").ok());
  for (const std::string& name : engine_->ModelNames()) EXPECT_NE(name.rfind("y.", 0), 0u) << name;

  auto one = engine_->LoadArtifact("single", root_ / "art" / "m");
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(*one, std::vector<std::string>{"single"});
  EXPECT_EQ(*Call("single", 1), 6);
}

// A sim model whose instance reports holding `bytes` of weights on its device.
std::string WithWeights(std::string yaml, uint64_t bytes) {
  return yaml.replace(yaml.find("scale:"), 0, "weight_bytes: " + std::to_string(bytes) + ", ");
}

EngineMetrics::DeviceEntry Sim0(const Engine& engine) {
  for (const EngineMetrics::DeviceEntry& d : engine.Metrics().devices) {
    if (d.device == Device::Sim(0)) return d;
  }
  ADD_FAILURE() << "no sim:0 in the metrics";
  return {};
}

TEST_F(EngineRegistryTest, ALoadPastTheMemoryLimitIsRefusedAndAnUnloadMakesRoom) {
  Write("m/model.yaml", WithWeights(SimModel(1), 600));
  Write("n/model.yaml", WithWeights(SimModel(2), 600));
  Start({MemoryLimit{Device::Sim(0), 1000, 0}});
  // m loaded first (and p over it); n did not fit.
  EXPECT_EQ(*Call("m", 1), 2);
  EXPECT_EQ(*Call("p", 1, "a"), 2);
  auto n = engine_->Info("n", "");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->state, ModelState::kUnavailable);
  EXPECT_NE(n->reason.find("--model-load-memory-limit"), std::string::npos) << n->reason;
  EXPECT_EQ(Sim0(*engine_).weight_bytes, 600u);
  EXPECT_EQ(Sim0(*engine_).model_versions, 1u);
  EXPECT_EQ(Sim0(*engine_).weight_limit, std::optional<uint64_t>(1000));

  // A reload builds beside what serves, so it needs room for both: refused, m keeps serving.
  Status reload = engine_->Load("m");
  EXPECT_EQ(reload.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(reload.message().find("needs 600 bytes on sim:0, and loaded models hold 600 of its "
                                  "1000-byte limit"),
            std::string::npos)
      << reload.message();
  EXPECT_EQ(*Call("m", 1), 2);

  ASSERT_TRUE(engine_->Unload("p").ok());
  ASSERT_TRUE(engine_->Unload("m").ok());
  EXPECT_EQ(Sim0(*engine_).weight_bytes, 0u);
  ASSERT_TRUE(engine_->Load("n").ok());
  EXPECT_EQ(*Call("n", 1), 3);
  EXPECT_EQ(Sim0(*engine_).weight_bytes, 600u);
}

TEST(MemoryLimitTest, ParsesBytesAndFractionsAndNamesWhatIsWrong) {
  auto bytes = ParseMemoryLimit("cpu=8000000000");
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  EXPECT_EQ(bytes->device, Device::Cpu());
  EXPECT_EQ(bytes->bytes, 8000000000u);
  EXPECT_EQ(bytes->fraction, 0);
  auto fraction = ParseMemoryLimit("cuda:1=0.9");
  ASSERT_TRUE(fraction.ok()) << fraction.status().message();
  EXPECT_EQ(fraction->device, Device::Cuda(1));
  EXPECT_DOUBLE_EQ(fraction->fraction, 0.9);
  for (const char* bad :
       {"cpu", "cpu=", "cpu=lots", "cpu=-5", "cpu=1.5", "cpu=0.0", "gpu=5", "cpu=5x", "cpu=.5.5"}) {
    auto parsed = ParseMemoryLimit(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find(std::string("'") + bad + "'"), std::string::npos)
        << parsed.status().message();
  }
}

TEST(MemoryLimitTest, ResolvesFractionsOfKnownMemoryOnly) {
  auto devices = DeviceSet::Create(/*cuda_count=*/0, {.allow = {}, .sim_gpus = 1});
  ASSERT_TRUE(devices.ok());
  auto half = ResolveMemoryLimits({{Device::Cpu(), 0, 0.5}}, *devices);
  ASSERT_TRUE(half.ok()) << half.status().message();
  EXPECT_GT(half->at(Device::Cpu()), 0u);
  EXPECT_LE(half->at(Device::Cpu()), *DeviceSet::TotalMemoryOf(Device::Cpu()) / 2);
  auto sim = ResolveMemoryLimits({{Device::Sim(0), 0, 0.5}}, *devices);
  EXPECT_FALSE(sim.ok());
  EXPECT_TRUE(ResolveMemoryLimits({{Device::Sim(0), 100, 0}}, *devices).ok());
  auto absent = ResolveMemoryLimits({{Device::Cuda(0), 100, 0}}, *devices);
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.status().message().find("cuda:0"), std::string::npos);
  EXPECT_FALSE(ResolveMemoryLimits({{Device::Cpu(), 1, 0}, {Device::Cpu(), 2, 0}}, *devices).ok());
}

// The scheduling policy of each thread of this process (field 41 of /proc/self/task/TID/stat).
std::vector<int> ThreadPolicies() {
  std::vector<int> out;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t comm_end = stat.rfind(')');
    if (comm_end == std::string::npos) continue;  // the thread has just ended
    std::istringstream fields(stat.substr(comm_end + 2));
    std::string field;
    for (int i = 3; i <= 41 && fields >> field; ++i) {
      if (i == 41) out.push_back(std::stoi(field));
    }
  }
  return out;
}

TEST_F(EngineRegistryTest, ALoadWhileServingRunsAtIdlePriorityAndItsWorkersDoNot) {
  ModelControl control(*engine_, ModelControlMode::kExplicit, std::chrono::seconds(60));
  ASSERT_TRUE(control.Start().ok());
  const int serving = sched_getscheduler(0);
  ASSERT_NE(serving, SCHED_IDLE);
  Write("m/model.yaml",  // its warm-up takes a while
        SimModel(5, /*latency_us=*/200000) + "warmup: {batch_sizes: [1]}\n");
  // Shared with the callback, as in Send: whichever thread lets go of it last destroys it (the
  // control thread keeps its callback after calling it).
  auto loaded = std::make_shared<std::promise<Status>>();
  std::future<Status> done = loaded->get_future();
  control.Load("m", [loaded](Status status) { loaded->set_value(status); });
  std::set<int> during;
  while (done.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) {
    for (int policy : ThreadPolicies()) during.insert(policy);
  }
  ASSERT_TRUE(done.get().ok());
  EXPECT_EQ(during.count(SCHED_IDLE), 1u) << "the warm-up ran at the serving priority";
  // The reloaded model's workers, started after the warm-up, serve at the serving priority.
  for (int policy : ThreadPolicies()) EXPECT_EQ(policy, serving);
  control.Stop();
  EXPECT_NEAR(*Call("m", 2), 7, 1e-6);  // the model it reloaded serves
}

TEST_F(EngineRegistryTest, LoadingWhatTheRepositoryLacksIsNotFound) {
  Status missing = engine_->Load("nothing");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("'nothing'"), std::string::npos);
}

}  // namespace
}  // namespace tandem
