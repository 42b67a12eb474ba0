#include "server/grpc/grpc_server.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "grpc_service.grpc.pb.h"
#include "server/grpc/grpc_codec.h"
#include "server/grpc/grpc_messages.h"
#include "server/model_json.h"

#if defined(__SANITIZE_THREAD__)
#define TANDEM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TANDEM_TSAN 1
#endif
#endif
#ifdef TANDEM_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace tandem {
namespace {

// gRPC passes a tag from the thread that starts an operation to the thread that takes it from
// the queue under its own locks, which ThreadSanitizer cannot see (the distribution's gRPC is
// not instrumented). Where those are two threads (a Hop, posted from a worker), the hand-off is
// told to it: HandOver before the operation starts, TakeOver as the tag leaves the queue.
void HandOver([[maybe_unused]] const void* tag) {
#ifdef TANDEM_TSAN
  __tsan_release(const_cast<void*>(tag));
#endif
}
void TakeOver([[maybe_unused]] const void* tag) {
#ifdef TANDEM_TSAN
  __tsan_acquire(const_cast<void*>(tag));
#endif
}

using AsyncService = inference::GRPCInferenceService::AsyncService;
using inference::ModelInferRequest;
using inference::ModelInferResponse;
using inference::ModelStreamInferResponse;

// What the server's calls share. `live` counts the calls a client has started and that are not
// yet finished and freed: the completion queues shut down only once it is zero, since a call
// still in the engine comes back to its queue when answered.
struct Shared {
  Shared(Engine& engine, ModelControl& control, RequestMemory& memory)
      : engine(engine), control(control), memory(memory) {}

  void CallStarted() {
    std::lock_guard lock(mu);
    ++live;
  }
  void CallEnded() {
    std::lock_guard lock(mu);
    if (--live == 0) ended.notify_all();
  }
  void WaitForCalls() {
    std::unique_lock lock(mu);
    ended.wait(lock, [&] { return live == 0; });
  }

  Engine& engine;
  ModelControl& control;
  RequestMemory& memory;
  AsyncService service;
  std::atomic<bool> stopping{false};  // no new calls are awaited
  std::mutex mu;
  std::condition_variable ended;
  int live = 0;  // guarded by mu
};

// The tag of an operation on a completion queue: the queue's thread runs it when the operation
// completes, with whether it succeeded.
class QueueEvent {
 public:
  virtual void Run(bool ok) = 0;

 protected:
  ~QueueEvent() = default;
};

// A QueueEvent that runs a member function of its owner (a call with several operations).
template <typename Owner, void (Owner::*Step)(bool)>
class StepEvent final : public QueueEvent {
 public:
  explicit StepEvent(Owner* owner) : owner_(owner) {}
  void Run(bool ok) override { (owner_->*Step)(ok); }

 private:
  Owner* const owner_;
};

// Runs `fn` once on `queue`'s thread: how an answer completed on a worker (or the model control
// thread) comes back to the thread that encodes it and finishes its call, as HTTP posts its
// answers to the connection's strand. An alarm already due is gRPC's way to post to a queue; it
// is set in the infinite past because gRPC's timers count whole milliseconds, and one due "now"
// would wait for the next millisecond.
class Hop final : public QueueEvent {
 public:
  static void Post(grpc::ServerCompletionQueue* queue, std::function<void()> fn) {
    auto* hop = new Hop(std::move(fn));
    HandOver(hop);
    hop->alarm_.Set(queue, gpr_inf_past(GPR_CLOCK_MONOTONIC), static_cast<QueueEvent*>(hop));
  }

  void Run(bool) override {
    std::function<void()> fn = std::move(fn_);
    delete this;
    fn();
  }

 private:
  explicit Hop(std::function<void()> fn) : fn_(std::move(fn)) {}
  std::function<void()> fn_;
  grpc::Alarm alarm_;
};

// The request's deadline: its `timeout` parameter, or the call's deadline when that is sooner.
void ApplyCallDeadline(const grpc::ServerContext& context, InferRequest& request) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return;
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
      deadline - std::chrono::system_clock::now());
  const auto timeout = std::max(left, std::chrono::microseconds(1));
  if (!request.timeout || timeout < *request.timeout) request.timeout = timeout;
}

// A decoded request and what holds its bytes against the budget (the message its tensors view,
// with its hold): kept until the request is answered, so that inputs copied out of the message
// stay counted while they live.
struct HeldRequest {
  InferRequest request;
  std::shared_ptr<const void> memory;
};

// `message` (emptied: its contents move into what the tensors keep alive) held and decoded, the
// inputs copied out of it added to its hold; the refusal (UNAVAILABLE) when they do not fit, or
// why the message does not decode.
StatusOr<HeldRequest> HoldAndDecode(ModelInferRequest& message, RequestMemory& memory) {
  const uint64_t bytes = message.ByteSizeLong();
  std::unique_ptr<RequestMemory::Hold> hold = memory.TryHold(bytes);
  if (!hold) return Unavailable(memory.RefusalMessage(bytes));
  struct Owned {
    ModelInferRequest message;
    std::unique_ptr<RequestMemory::Hold> hold;
  };
  auto owned = std::make_shared<Owned>();
  owned->message.Swap(&message);
  owned->hold = std::move(hold);
  const ModelInferRequest* view = &owned->message;
  ASSIGN_OR_RETURN(InferRequest request,
                   DecodeInferRequest(std::shared_ptr<const ModelInferRequest>(owned, view)));
  RETURN_IF_ERROR(owned->hold->AddCopies(view, request.inputs));
  return HeldRequest{std::move(request), std::move(owned)};
}

// Model control takes no files or config from the request: models load from the repository
// only, by name (as over HTTP).
Status CheckLoadRequest(
    const std::string& name,
    const google::protobuf::Map<std::string, inference::ModelRepositoryParameter>& parameters) {
  if (!IsValidModelName(name)) {
    return InvalidArgument("'" + name.substr(0, 64) + "' is not a valid model name");
  }
  for (const auto& [key, value] : parameters) {
    if (key == "unload_dependents") continue;
    return InvalidArgument("parameter '" + key +
                           "' is not supported: models load from the repository only, by name");
  }
  return Status::Ok();
}

// One unary call of one method on one completion queue: awaited, handled on the queue's thread
// (which awaits the next call of the method first), finished, freed. The handler answers with
// Finish, at once or later from a Hop to this queue.
template <typename Request, typename Response>
class UnaryCall final : public QueueEvent {
 public:
  using Requester = void (AsyncService::*)(grpc::ServerContext*, Request*,
                                           grpc::ServerAsyncResponseWriter<Response>*,
                                           grpc::CompletionQueue*, grpc::ServerCompletionQueue*,
                                           void*);
  using Handler = void (*)(Shared&, UnaryCall&);

  static void Await(Shared& shared, grpc::ServerCompletionQueue* queue, Requester requester,
                    Handler handler) {
    auto* call = new UnaryCall(shared, queue, requester, handler);
    (shared.service.*requester)(&call->context_, &call->request_, &call->responder_, queue, queue,
                                static_cast<QueueEvent*>(call));
  }

  void Run(bool ok) override {
    if (!started_) {
      if (!ok) return delete this;  // the server is shutting down: no call came
      started_ = true;
      shared_.CallStarted();
      if (!shared_.stopping) Await(shared_, queue_, requester_, handler_);
      return handler_(shared_, *this);
    }
    shared_.CallEnded();  // finished (sent, or the client went away)
    delete this;
  }

  // Answers the call; on its queue's thread.
  void Finish(const Status& status) {
    if (status.ok()) return responder_.Finish(response_, grpc::Status::OK, this);
    responder_.FinishWithError(GrpcStatus(status), this);
  }

  const grpc::ServerContext& context() const { return context_; }
  grpc::ServerCompletionQueue* queue() const { return queue_; }
  Request& request() { return request_; }
  Response& response() { return response_; }

 private:
  UnaryCall(Shared& shared, grpc::ServerCompletionQueue* queue, Requester requester,
            Handler handler)
      : shared_(shared),
        queue_(queue),
        requester_(requester),
        handler_(handler),
        responder_(&context_) {}

  Shared& shared_;
  grpc::ServerCompletionQueue* const queue_;
  const Requester requester_;
  const Handler handler_;
  grpc::ServerContext context_;
  Request request_;
  Response response_;
  grpc::ServerAsyncResponseWriter<Response> responder_;
  bool started_ = false;
};

// Tensors are views of the request message, which the engine keeps alive with its contents
// (HoldAndDecode). The answer is encoded and the call finished back on the call's queue.
void ModelInfer(Shared& shared, UnaryCall<ModelInferRequest, ModelInferResponse>& call) {
  auto held = HoldAndDecode(call.request(), shared.memory);
  if (!held.ok()) return call.Finish(held.status());
  ApplyCallDeadline(call.context(), held->request);
  // `memory` goes with the engine's callback, once the request is answered.
  shared.engine.Infer(std::move(held->request), [call = &call, memory = std::move(held->memory)](
                                                    StatusOr<InferResponse> result) {
    Hop::Post(call->queue(), [call, result = std::move(result)] {
      if (!result.ok()) return call->Finish(result.status());
      EncodeInferResponse(*result, call->response());
      call->Finish(Status::Ok());
    });
  });
}

// A load or unload, queued on the model control thread; its answer comes back to the call's
// queue.
template <typename Request, typename Response>
void Control(Shared& shared, UnaryCall<Request, Response>& call, bool load) {
  const Request& request = call.request();
  if (Status checked = CheckLoadRequest(request.model_name(), request.parameters());
      !checked.ok()) {
    return call.Finish(checked);
  }
  auto finish = [call = &call](Status status) {
    Hop::Post(call->queue(), [call, status = std::move(status)] { call->Finish(status); });
  };
  if (load) {
    shared.control.Load(request.model_name(), std::move(finish));
  } else {
    shared.control.Unload(request.model_name(), std::move(finish));
  }
}

// One ModelStreamInfer call on one completion queue; every step runs on the queue's thread, so
// its state needs no lock. Each request read is admitted at once and the next read started; each
// answer is written as it completes (in completion order; ids tell them apart), one write at a
// time. A failed request is answered with error_message set, and the stream goes on. The call
// finishes once the client has finished writing and every answer is written.
class StreamCall final {
 public:
  static void Await(Shared& shared, grpc::ServerCompletionQueue* queue) {
    auto* call = new StreamCall(shared, queue);
    shared.service.RequestModelStreamInfer(&call->context_, &call->stream_, queue, queue,
                                           static_cast<QueueEvent*>(&call->started_));
  }

 private:
  StreamCall(Shared& shared, grpc::ServerCompletionQueue* queue)
      : shared_(shared), queue_(queue), stream_(&context_) {}

  void OnStarted(bool ok) {
    if (!ok) return delete this;  // the server is shutting down: no call came
    shared_.CallStarted();
    if (!shared_.stopping) Await(shared_, queue_);
    Read();
  }

  void Read() {
    reading_ = true;
    stream_.Read(&read_message_, &read_);
  }

  void OnRead(bool ok) {
    if (!ok) {  // the client finished writing, or the call ended
      reading_ = false;
      return MaybeFinish();
    }
    ModelInferRequest message;
    message.Swap(&read_message_);
    ++pending_;
    Read();
    const std::string model = message.model_name(), id = message.id();
    auto held = HoldAndDecode(message, shared_.memory);
    if (!held.ok()) return Answer(model, id, held.status());
    ApplyCallDeadline(context_, held->request);
    // `memory` goes with the engine's callback, once the request is answered.
    auto answered = [this, model, id,
                     memory = std::move(held->memory)](StatusOr<InferResponse> result) {
      Hop::Post(queue_, [this, model, id, result = std::move(result)] {
        if (!result.ok()) return Answer(model, id, result.status());
        ModelStreamInferResponse answer;
        EncodeInferResponse(*result, *answer.mutable_infer_response());
        Write(std::move(answer));
      });
    };
    shared_.engine.Infer(std::move(held->request), std::move(answered));
  }

  void Answer(const std::string& model, const std::string& id, const Status& failed) {
    ModelStreamInferResponse answer;
    answer.set_error_message(failed.message());
    answer.mutable_infer_response()->set_model_name(model);
    answer.mutable_infer_response()->set_id(id);
    Write(std::move(answer));
  }

  void Write(ModelStreamInferResponse answer) {
    unwritten_.push_back(std::move(answer));
    if (unwritten_.size() == 1) stream_.Write(unwritten_.front(), &written_);
  }

  void OnWritten(bool) {  // written, or the client went away: either way, the next
    unwritten_.pop_front();
    --pending_;
    if (!unwritten_.empty()) return stream_.Write(unwritten_.front(), &written_);
    MaybeFinish();
  }

  // Finishes the call once nothing is left to read or write.
  void MaybeFinish() {
    if (reading_ || pending_ > 0 || finishing_) return;
    finishing_ = true;
    stream_.Finish(grpc::Status::OK, &finished_);
  }

  void OnFinished(bool) {
    shared_.CallEnded();
    delete this;
  }

  Shared& shared_;
  grpc::ServerCompletionQueue* const queue_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<ModelStreamInferResponse, ModelInferRequest> stream_;
  StepEvent<StreamCall, &StreamCall::OnStarted> started_{this};
  StepEvent<StreamCall, &StreamCall::OnRead> read_{this};
  StepEvent<StreamCall, &StreamCall::OnWritten> written_{this};
  StepEvent<StreamCall, &StreamCall::OnFinished> finished_{this};
  ModelInferRequest read_message_;  // the read in progress (one at a time)
  // Answers to write, in order; the front is being written (a deque, so it stays put).
  std::deque<ModelStreamInferResponse> unwritten_;
  int pending_ = 0;  // requests read and not yet written
  bool reading_ = false;
  bool finishing_ = false;
};

// Awaits one call of every method on `queue`.
void AwaitCalls(Shared& shared, grpc::ServerCompletionQueue* queue) {
  using namespace inference;  // NOLINT(build/namespaces): the service's messages, in one place
  UnaryCall<ServerLiveRequest, ServerLiveResponse>::Await(
      shared, queue, &AsyncService::RequestServerLive, [](Shared&, auto& call) {
        call.response().set_live(true);
        call.Finish(Status::Ok());
      });
  UnaryCall<ServerReadyRequest, ServerReadyResponse>::Await(
      shared, queue, &AsyncService::RequestServerReady, [](Shared& shared, auto& call) {
        call.response().set_ready(shared.engine.Ready());
        call.Finish(Status::Ok());
      });
  UnaryCall<ModelReadyRequest, ModelReadyResponse>::Await(
      shared, queue, &AsyncService::RequestModelReady, [](Shared& shared, auto& call) {
        auto info = shared.engine.Info(call.request().name(), call.request().version());
        call.response().set_ready(!shared.engine.draining() && info.ok() &&
                                  info->state == ModelState::kReady);
        call.Finish(Status::Ok());
      });
  UnaryCall<ServerMetadataRequest, ServerMetadataResponse>::Await(
      shared, queue, &AsyncService::RequestServerMetadata, [](Shared&, auto& call) {
        call.response().set_name("tandem");
        call.response().set_version(kServerVersion);
        for (const char* extension : kServerExtensions) call.response().add_extensions(extension);
        call.Finish(Status::Ok());
      });
  UnaryCall<ModelMetadataRequest, ModelMetadataResponse>::Await(
      shared, queue, &AsyncService::RequestModelMetadata, [](Shared& shared, auto& call) {
        const ModelMetadataRequest& request = call.request();
        auto config = shared.engine.Config(request.name(), request.version());
        if (!config.ok()) return call.Finish(config.status());
        auto versions = shared.engine.Versions(request.name());
        if (!versions.ok()) return call.Finish(versions.status());
        if (!request.version().empty()) *versions = {request.version()};
        FillModelMetadata(**config, *versions, call.response());
        call.Finish(Status::Ok());
      });
  UnaryCall<ModelConfigRequest, ModelConfigResponse>::Await(
      shared, queue, &AsyncService::RequestModelConfig, [](Shared& shared, auto& call) {
        auto config = shared.engine.Config(call.request().name(), call.request().version());
        if (!config.ok()) return call.Finish(config.status());
        FillModelConfig(**config, *call.response().mutable_config());
        call.Finish(Status::Ok());
      });
  UnaryCall<ModelStatisticsRequest, ModelStatisticsResponse>::Await(
      shared, queue, &AsyncService::RequestModelStatistics, [](Shared& shared, auto& call) {
        auto reports = shared.engine.Stats(call.request().name(), call.request().version());
        if (!reports.ok()) return call.Finish(reports.status());
        FillModelStatistics(*reports, call.response());
        call.Finish(Status::Ok());
      });
  UnaryCall<RepositoryIndexRequest, RepositoryIndexResponse>::Await(
      shared, queue, &AsyncService::RequestRepositoryIndex, [](Shared& shared, auto& call) {
        std::vector<ModelVersionInfo> index = shared.engine.Index();
        if (call.request().ready()) {
          std::erase_if(index,
                        [](const ModelVersionInfo& m) { return m.state != ModelState::kReady; });
        }
        FillRepositoryIndex(index, call.response());
        call.Finish(Status::Ok());
      });
  UnaryCall<RepositoryModelLoadRequest, RepositoryModelLoadResponse>::Await(
      shared, queue, &AsyncService::RequestRepositoryModelLoad,
      [](Shared& shared, auto& call) { Control(shared, call, /*load=*/true); });
  UnaryCall<RepositoryModelUnloadRequest, RepositoryModelUnloadResponse>::Await(
      shared, queue, &AsyncService::RequestRepositoryModelUnload,
      [](Shared& shared, auto& call) { Control(shared, call, /*load=*/false); });
  UnaryCall<ModelInferRequest, ModelInferResponse>::Await(
      shared, queue, &AsyncService::RequestModelInfer, &ModelInfer);
  StreamCall::Await(shared, queue);
}

}  // namespace

struct GrpcServer::Impl {
  Impl(Engine& engine, ModelControl& control, RequestMemory& memory)
      : shared(engine, control, memory) {}
  Shared shared;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues;
  std::unique_ptr<grpc::Server> server;
  std::vector<std::thread> threads;  // one a queue
  std::once_flag shut_down;
};

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

GrpcServer::~GrpcServer() {
  Shutdown(std::chrono::system_clock::now());
  // Calls still in the engine come back to their queues: the queues close after the last.
  impl_->shared.WaitForCalls();
  for (auto& queue : impl_->queues) queue->Shutdown();
  for (std::thread& thread : impl_->threads) thread.join();
}

StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const GrpcServerOptions& options,
                                                        Engine& engine, ModelControl& control) {
  // Debian builds Abseil without NDEBUG, so the Mutex gRPC locks throughout would check every
  // lock order against a process-wide graph, under a lock of its own: 1–2% of the server's CPU
  // under gRPC load, in a profile. Tandem's own locks are checked by the TSan run instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto impl = std::make_unique<Impl>(engine, control, *options.request_memory);
  const std::string address = options.host + ":" + std::to_string(options.port);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<uint64_t>(options.max_message_bytes, INT_MAX)));
  builder.SetMaxSendMessageSize(-1);  // answers are as large as the model makes them
  // gRPC's own buffers (messages being received) are bounded by the same limit.
  grpc::ResourceQuota quota("tandem-grpc");
  quota.Resize(static_cast<size_t>(options.request_memory->limit()));
  builder.SetResourceQuota(quota);
  builder.RegisterService(&impl->shared.service);
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    impl->queues.push_back(builder.AddCompletionQueue());
  }
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || port == 0) {
    return Unavailable("cannot serve gRPC on " + address +
                       " (is the port taken? --grpc-port sets it, --allow-grpc=false turns gRPC "
                       "off)");
  }
  for (auto& queue : impl->queues) {
    AwaitCalls(impl->shared, queue.get());
    impl->threads.emplace_back([queue = queue.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (queue->Next(&tag, &ok)) {
        TakeOver(tag);
        static_cast<QueueEvent*>(tag)->Run(ok);
      }
    });
  }
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl), port));
}

void GrpcServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  std::call_once(impl_->shut_down, [&] {
    impl_->shared.stopping = true;
    impl_->server->Shutdown(deadline);
  });
}

}  // namespace tandem
