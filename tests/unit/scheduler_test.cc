#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "scheduler/batch_tensors.h"
#include "scheduler/dynamic_batcher.h"
#include "scheduler/model_queue.h"

namespace tandem {
namespace {

using std::chrono::microseconds;

// A job of `batch` rows of `width` FP32 values, enqueued at `at`.
std::unique_ptr<InferJob> Job(int64_t batch, SteadyClock::time_point at, int64_t width = 2) {
  auto job = std::make_unique<InferJob>();
  job->inputs.push_back(*Tensor::Allocate(DataType::kFp32, Shape({batch, width})));
  job->batch_size = batch;
  job->enqueued = at;
  job->done = [](StatusOr<std::vector<Tensor>>) {};
  return job;
}

BatchingOptions Batching(int64_t max_batch, std::vector<int64_t> preferred = {},
                         microseconds delay = microseconds(1000)) {
  return {true, max_batch, std::move(preferred), delay};
}

// The batcher is pure: every test below sets "now" itself, so no test waits on a real clock.
class DynamicBatcherTest : public ::testing::Test {
 protected:
  // The jobs queued, and the view of them the batcher is given.
  const std::vector<const InferJob*>& View() {
    view_.clear();
    for (const auto& job : queue_) view_.push_back(job.get());
    return view_;
  }
  SteadyClock::time_point t0_ = SteadyClock::time_point() + std::chrono::hours(1);
  std::deque<std::unique_ptr<InferJob>> queue_;
  std::vector<const InferJob*> view_;
};

TEST_F(DynamicBatcherTest, WithoutBatchingEveryRequestRunsAloneAtOnce) {
  DynamicBatcher batcher(BatchingOptions{false, 8, {}, microseconds(0)});
  queue_.push_back(Job(1, t0_));
  queue_.push_back(Job(1, t0_));
  EXPECT_EQ(batcher.Decide(View(), t0_).take, 1u);
}

TEST_F(DynamicBatcherTest, WaitsForTheDelayThenTakesWhatIsThere) {
  DynamicBatcher batcher(Batching(8));
  queue_.push_back(Job(1, t0_));
  queue_.push_back(Job(2, t0_ + microseconds(100)));
  auto early = batcher.Decide(View(), t0_ + microseconds(500));
  EXPECT_EQ(early.take, 0u);
  EXPECT_EQ(early.wake_at, t0_ + microseconds(1000));  // the oldest request's delay
  EXPECT_EQ(batcher.Decide(View(), t0_ + microseconds(1000)).take, 2u);
}

TEST_F(DynamicBatcherTest, AFullBatchRunsAtOnceAndNeverExceedsTheMaximum) {
  DynamicBatcher batcher(Batching(4));
  for (int i = 0; i < 3; ++i) queue_.push_back(Job(1, t0_));
  EXPECT_EQ(batcher.Decide(View(), t0_).take, 0u);
  queue_.push_back(Job(1, t0_));
  queue_.push_back(Job(1, t0_));
  EXPECT_EQ(batcher.Decide(View(), t0_).take, 4u);  // 4 rows; the fifth waits for the next batch
}

TEST_F(DynamicBatcherTest, ARequestThatWouldOverflowTheBatchClosesIt) {
  DynamicBatcher batcher(Batching(4));
  queue_.push_back(Job(3, t0_));
  queue_.push_back(Job(2, t0_));
  EXPECT_EQ(batcher.Decide(View(), t0_).take, 1u);  // 3 + 2 > 4, and waiting cannot help
}

TEST_F(DynamicBatcherTest, PreferredSizesRunAtOnceTrimmedToAPreferredSize) {
  DynamicBatcher batcher(Batching(16, {4, 8}));
  for (int i = 0; i < 7; ++i) queue_.push_back(Job(1, t0_));
  EXPECT_EQ(batcher.Decide(View(), t0_).take, 0u);  // 7 < 8: wait
  for (int i = 0; i < 3; ++i) queue_.push_back(Job(1, t0_));
  EXPECT_EQ(batcher.Decide(View(), t0_).take, 8u);  // 10 queued: run exactly 8
}

TEST_F(DynamicBatcherTest, PreferredSizeNotReachableExactlyRunsTheWholeCandidate) {
  DynamicBatcher batcher(Batching(16, {4}));
  queue_.push_back(Job(3, t0_));
  queue_.push_back(Job(3, t0_));
  EXPECT_EQ(batcher.Decide(View(), t0_).take, 2u);  // 6 >= 4 but no prefix is exactly 4
}

TEST_F(DynamicBatcherTest, OnlyEqualShapesMerge) {
  DynamicBatcher batcher(Batching(8));
  queue_.push_back(Job(1, t0_, 2));
  queue_.push_back(Job(1, t0_, 2));
  queue_.push_back(Job(1, t0_, 3));  // another width: cannot join
  queue_.push_back(Job(1, t0_, 2));
  // The batch stops at the mismatch and runs at once, since waiting cannot grow it.
  EXPECT_EQ(batcher.Decide(View(), t0_).take, 2u);
}

TEST_F(DynamicBatcherTest, ARequestDeadlineInsideTheDelayRunsTheBatchAtOnce) {
  DynamicBatcher batcher(Batching(8));
  queue_.push_back(Job(1, t0_));
  queue_.back()->deadline = t0_ + microseconds(300);
  EXPECT_EQ(batcher.Decide(View(), t0_).take, 1u);
}

TEST_F(DynamicBatcherTest, RequestsArrivingAloneRunAtOnce) {
  DynamicBatcher batcher(Batching(8));
  queue_.push_back(Job(1, t0_));
  // Fewer lone arrivals than kLoneArrivals: the batch waits for company as configured.
  EXPECT_EQ(batcher.Decide(View(), t0_, DynamicBatcher::kLoneArrivals - 1).take, 0u);
  EXPECT_EQ(batcher.Decide(View(), t0_, DynamicBatcher::kLoneArrivals).take, 1u);
  // What is queued still runs as one batch.
  queue_.push_back(Job(2, t0_));
  EXPECT_EQ(batcher.Decide(View(), t0_, DynamicBatcher::kLoneArrivals).take, 2u);
}

class ModelQueueTest : public ::testing::Test {
 protected:
  // A job whose completion is recorded in `results_`.
  std::unique_ptr<InferJob> Tracked(int id, std::optional<SteadyClock::time_point> deadline = {}) {
    auto job = Job(1, SteadyClock::now());
    job->deadline = deadline;
    job->done = [this, id](StatusOr<std::vector<Tensor>> r) {
      std::lock_guard lock(mu_);
      results_.emplace_back(id, r.ok() ? StatusCode::kOk : r.status().code());
    };
    return job;
  }
  std::mutex mu_;
  std::vector<std::pair<int, StatusCode>> results_;
};

TEST_F(ModelQueueTest, AFullQueueRefusesWithUnavailable) {
  ModelQueue queue("m", BatchingOptions{}, 2);
  ASSERT_TRUE(queue.Enqueue(Tracked(1)).ok());
  ASSERT_TRUE(queue.Enqueue(Tracked(2)).ok());
  Status full = queue.Enqueue(Tracked(3));
  EXPECT_EQ(full.code(), StatusCode::kUnavailable);
  EXPECT_NE(full.message().find("is full (2 requests"), std::string::npos) << full.message();
  EXPECT_EQ(queue.PopBatch(Device::Cpu()).size(), 1u);
  EXPECT_TRUE(queue.Enqueue(Tracked(4)).ok());  // room again
}

TEST_F(ModelQueueTest, ExpiredRequestsAreNeverRunAndGetDeadlineExceeded) {
  ModelQueue queue("m", BatchingOptions{}, 0);
  ASSERT_TRUE(queue.Enqueue(Tracked(1, SteadyClock::now() - microseconds(1))).ok());
  ASSERT_TRUE(queue.Enqueue(Tracked(2)).ok());
  auto batch = queue.PopBatch(Device::Cpu());
  ASSERT_EQ(batch.size(), 1u);
  batch[0]->done(std::vector<Tensor>{});
  std::lock_guard lock(mu_);
  EXPECT_EQ(results_, (std::vector<std::pair<int, StatusCode>>{{1, StatusCode::kDeadlineExceeded},
                                                               {2, StatusCode::kOk}}));
}

TEST_F(ModelQueueTest, CloseRunsWhatIsQueuedWithoutWaitingThenStops) {
  ModelQueue queue("m", Batching(8, {}, microseconds(3600ll * 1000 * 1000)), 0);
  ASSERT_TRUE(queue.Enqueue(Tracked(1)).ok());
  ASSERT_TRUE(queue.Enqueue(Tracked(2)).ok());
  queue.Close();
  EXPECT_EQ(queue.Enqueue(Tracked(3)).code(), StatusCode::kUnavailable);
  EXPECT_EQ(queue.PopBatch(Device::Cpu()).size(), 2u);  // the hour-long delay is not waited for
  EXPECT_TRUE(queue.PopBatch(Device::Cpu()).empty());
}

// A thread's scheduler state as /proc shows it: 'R' running, 'S' sleeping (in a wait), ...
char ThreadState(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() ? '?' : text[paren + 2];
}

TEST_F(ModelQueueTest, AWaitingWorkerWakesForANewJob) {
  ModelQueue queue("m", BatchingOptions{}, 0);
  std::atomic<pid_t> tid{0};
  std::atomic<size_t> got{0};
  std::thread worker([&] {
    tid = gettid();
    got = queue.PopBatch(Device::Cpu()).size();
  });
  // The job goes in only once the worker sleeps inside PopBatch, so it must wake the worker.
  while (tid == 0) std::this_thread::yield();
  while (ThreadState(tid) != 'S') std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(got.load(), 0u);
  ASSERT_TRUE(queue.Enqueue(Tracked(1)).ok());
  worker.join();
  EXPECT_EQ(got.load(), 1u);
}

TEST_F(ModelQueueTest, JobsForADeviceGoOnlyToThatDevice) {
  ModelQueue queue("m", BatchingOptions{}, 0);
  auto job = Tracked(1);
  job->device = Device::Sim(1);
  ASSERT_TRUE(queue.Enqueue(std::move(job)).ok());
  ASSERT_TRUE(queue.Enqueue(Tracked(2)).ok());
  // sim:0 may only take the job without a device.
  auto first = queue.PopBatch(Device::Sim(0));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_FALSE(first[0]->device.has_value());
  queue.Close();
  EXPECT_TRUE(queue.PopBatch(Device::Sim(0)).empty());  // nothing left for sim:0
  auto second = queue.PopBatch(Device::Sim(1));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(*second[0]->device, Device::Sim(1));
}

TEST(BatchTensorsTest, ConcatThenSplitRestoresEachRequest) {
  auto a = *Tensor::Allocate(DataType::kInt32, Shape({1, 2}));
  auto b = *Tensor::Allocate(DataType::kInt32, Shape({2, 2}));
  reinterpret_cast<int32_t*>(a.mutable_data())[1] = 7;
  reinterpret_cast<int32_t*>(b.mutable_data())[3] = 9;
  auto merged = ConcatBatch({&a, &b});
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->shape(), Shape({3, 2}));
  auto pieces = SplitBatch(*merged, {1, 2});
  ASSERT_TRUE(pieces.ok());
  EXPECT_EQ((*pieces)[0].shape(), Shape({1, 2}));
  EXPECT_EQ((*pieces)[0].Values<int32_t>()[1], 7);
  EXPECT_EQ((*pieces)[1].shape(), Shape({2, 2}));
  EXPECT_EQ((*pieces)[1].Values<int32_t>()[3], 9);
}

TEST(BatchTensorsTest, BytesSplitAtElementBoundaries) {
  auto a = *Tensor::FromStrings(Shape({1, 2}), {"a", "bb"});
  auto b = *Tensor::FromStrings(Shape({1, 2}), {"", "dddd"});
  auto merged = *ConcatBatch({&a, &b});
  auto pieces = *SplitBatch(merged, {1, 1});
  auto second = pieces[1].Strings();
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0], "");
  EXPECT_EQ(second[1], "dddd");
}

TEST(BatchTensorsTest, AnOutputWithTheWrongBatchSizeIsAnError) {
  auto out = *Tensor::Allocate(DataType::kFp32, Shape({3, 2}));
  auto pieces = SplitBatch(out, {1, 1});
  ASSERT_FALSE(pieces.ok());
  EXPECT_NE(pieces.status().message().find("the batch has 2 rows"), std::string::npos);
}

}  // namespace
}  // namespace tandem
