#include "server/grpc/grpc_server.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <climits>
#include <deque>
#include <mutex>

#include "grpc_service.grpc.pb.h"
#include "server/grpc/grpc_codec.h"
#include "server/grpc/grpc_messages.h"
#include "server/model_json.h"

namespace tandem {
namespace {

using inference::GRPCInferenceService;
using inference::ModelInferRequest;
using inference::ModelInferResponse;
using inference::ModelStreamInferResponse;

grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, const Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(GrpcStatus(status));
  return reactor;
}

// The request's deadline: its `timeout` parameter, or the call's deadline when that is sooner.
void ApplyCallDeadline(const grpc::CallbackServerContext& context, InferRequest& request) {
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

// `message` held and decoded, the inputs copied out of it added to its hold; the refusal
// (UNAVAILABLE) when they do not fit, or why the message does not decode.
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

class Service final : public GRPCInferenceService::CallbackService {
 public:
  // `answers`: where completed requests are encoded, never on the worker that completed them.
  Service(Engine& engine, ModelControl& control, boost::asio::thread_pool& answers,
          RequestMemory& memory)
      : engine_(engine), control_(control), answers_(answers), memory_(memory) {}

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const inference::ServerLiveRequest*,
                                       inference::ServerLiveResponse* response) override {
    response->set_live(true);
    return Answer(context, Status::Ok());
  }

  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const inference::ServerReadyRequest*,
                                        inference::ServerReadyResponse* response) override {
    response->set_ready(engine_.Ready());
    return Answer(context, Status::Ok());
  }

  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override {
    auto info = engine_.Info(request->name(), request->version());
    response->set_ready(!engine_.draining() && info.ok() && info->state == ModelState::kReady);
    return Answer(context, Status::Ok());
  }

  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const inference::ServerMetadataRequest*,
                                           inference::ServerMetadataResponse* response) override {
    response->set_name("tandem");
    response->set_version(kServerVersion);
    for (const char* extension : kServerExtensions) response->add_extensions(extension);
    return Answer(context, Status::Ok());
  }

  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override {
    auto config = engine_.Config(request->name(), request->version());
    if (!config.ok()) return Answer(context, config.status());
    auto versions = engine_.Versions(request->name());
    if (!versions.ok()) return Answer(context, versions.status());
    if (!request->version().empty()) *versions = {request->version()};
    FillModelMetadata(**config, *versions, *response);
    return Answer(context, Status::Ok());
  }

  grpc::ServerUnaryReactor* ModelConfig(grpc::CallbackServerContext* context,
                                        const inference::ModelConfigRequest* request,
                                        inference::ModelConfigResponse* response) override {
    auto config = engine_.Config(request->name(), request->version());
    if (!config.ok()) return Answer(context, config.status());
    FillModelConfig(**config, *response->mutable_config());
    return Answer(context, Status::Ok());
  }

  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const inference::ModelStatisticsRequest* request,
                                            inference::ModelStatisticsResponse* response) override {
    auto reports = engine_.Stats(request->name(), request->version());
    if (!reports.ok()) return Answer(context, reports.status());
    FillModelStatistics(*reports, *response);
    return Answer(context, Status::Ok());
  }

  grpc::ServerUnaryReactor* RepositoryIndex(grpc::CallbackServerContext* context,
                                            const inference::RepositoryIndexRequest* request,
                                            inference::RepositoryIndexResponse* response) override {
    std::vector<ModelVersionInfo> index = engine_.Index();
    if (request->ready()) {
      std::erase_if(index, [](const ModelVersionInfo& m) { return m.state != ModelState::kReady; });
    }
    FillRepositoryIndex(index, *response);
    return Answer(context, Status::Ok());
  }

  grpc::ServerUnaryReactor* RepositoryModelLoad(
      grpc::CallbackServerContext* context, const inference::RepositoryModelLoadRequest* request,
      inference::RepositoryModelLoadResponse*) override {
    return Control(context, *request, /*load=*/true);
  }

  grpc::ServerUnaryReactor* RepositoryModelUnload(
      grpc::CallbackServerContext* context, const inference::RepositoryModelUnloadRequest* request,
      inference::RepositoryModelUnloadResponse*) override {
    return Control(context, *request, /*load=*/false);
  }

  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const ModelInferRequest* request,
                                       ModelInferResponse* response) override {
    // The tensors are views of the request message, and may outlive this call in the engine:
    // its contents move into a message they keep alive. gRPC hands the request as const, but
    // it is this call's alone until Finish, and read by nothing else.
    auto held = HoldAndDecode(*const_cast<ModelInferRequest*>(request), memory_);
    if (!held.ok()) return Answer(context, held.status());
    ApplyCallDeadline(*context, held->request);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    // `memory` goes with the engine's callback, once the request is answered.
    engine_.Infer(std::move(held->request),
                  [this, reactor, response,
                   memory = std::move(held->memory)](StatusOr<InferResponse> result) {
                    boost::asio::post(answers_, [reactor, response, result = std::move(result)] {
                      if (!result.ok()) return reactor->Finish(GrpcStatus(result.status()));
                      EncodeInferResponse(*result, *response);
                      reactor->Finish(grpc::Status::OK);
                    });
                  });
    return reactor;
  }

  grpc::ServerBidiReactor<ModelInferRequest, ModelStreamInferResponse>* ModelStreamInfer(
      grpc::CallbackServerContext* context) override;

 private:
  // A load or unload, queued on the model control thread, which finishes the call.
  template <typename Request>
  grpc::ServerUnaryReactor* Control(grpc::CallbackServerContext* context, const Request& request,
                                    bool load) {
    if (Status checked = CheckLoadRequest(request.model_name(), request.parameters());
        !checked.ok()) {
      return Answer(context, checked);
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto finish = [reactor](Status status) { reactor->Finish(GrpcStatus(status)); };
    if (load) {
      control_.Load(request.model_name(), std::move(finish));
    } else {
      control_.Unload(request.model_name(), std::move(finish));
    }
    return reactor;
  }

  Engine& engine_;
  ModelControl& control_;
  boost::asio::thread_pool& answers_;
  RequestMemory& memory_;
};

// One ModelStreamInfer call: each request read is admitted at once, and each answer written as
// it completes (in completion order; ids tell them apart), one write at a time. A failed
// request is answered with error_message set, and the stream goes on. The call finishes when
// the client has finished writing and every answer is written.
class StreamReactor final
    : public grpc::ServerBidiReactor<ModelInferRequest, ModelStreamInferResponse> {
 public:
  StreamReactor(Engine& engine, boost::asio::thread_pool& answers, RequestMemory& memory,
                grpc::CallbackServerContext* context)
      : engine_(engine), answers_(answers), memory_(memory), context_(context) {
    Read();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client finished writing, or the call ended
      std::unique_lock lock(mu_);
      reading_ = false;
      return MaybeFinish(lock);
    }
    std::unique_ptr<ModelInferRequest> read = std::move(reading_message_);
    {
      std::lock_guard lock(mu_);
      ++pending_;
    }
    Read();
    const std::string model = read->model_name(), id = read->id();
    auto held = HoldAndDecode(*read, memory_);
    if (!held.ok()) return Write(model, id, held.status());
    ApplyCallDeadline(*context_, held->request);
    // `memory` goes with the engine's callback, once the request is answered.
    engine_.Infer(std::move(held->request), [this, model, id, memory = std::move(held->memory)](
                                                StatusOr<InferResponse> result) {
      boost::asio::post(answers_, [this, model, id, result = std::move(result)] {
        if (!result.ok()) return Write(model, id, result.status());
        ModelStreamInferResponse answer;
        EncodeInferResponse(*result, *answer.mutable_infer_response());
        Write(std::move(answer));
      });
    });
  }

  void OnWriteDone(bool) override {
    std::unique_lock lock(mu_);
    written_.pop_front();
    --pending_;
    if (!written_.empty()) {
      ModelStreamInferResponse* next = &written_.front();  // stays put while it is written
      lock.unlock();
      return StartWrite(next);
    }
    MaybeFinish(lock);
  }

  void OnDone() override { delete this; }

 private:
  void Read() {
    reading_message_ = std::make_unique<ModelInferRequest>();
    StartRead(reading_message_.get());
  }

  void Write(const std::string& model, const std::string& id, const Status& failed) {
    ModelStreamInferResponse answer;
    answer.set_error_message(failed.message());
    answer.mutable_infer_response()->set_model_name(model);
    answer.mutable_infer_response()->set_id(id);
    Write(std::move(answer));
  }

  void Write(ModelStreamInferResponse answer) {
    std::unique_lock lock(mu_);
    written_.push_back(std::move(answer));
    if (written_.size() > 1) return;  // OnWriteDone writes it after those before it
    ModelStreamInferResponse* next = &written_.front();
    lock.unlock();
    StartWrite(next);
  }

  // Finishes the call once nothing is left to read or write. gRPC's calls are made with `lock`
  // released: a reaction may run before they return.
  void MaybeFinish(std::unique_lock<std::mutex>& lock) {
    if (reading_ || pending_ > 0 || finished_) return;
    finished_ = true;
    lock.unlock();
    Finish(grpc::Status::OK);
  }

  Engine& engine_;
  boost::asio::thread_pool& answers_;
  RequestMemory& memory_;
  grpc::CallbackServerContext* const context_;
  std::unique_ptr<ModelInferRequest> reading_message_;  // the read in progress (one at a time)
  std::mutex mu_;
  // Answers to write, in order; the front is being written. Guarded by mu_; a deque, so the
  // front stays where it is while others are added.
  std::deque<ModelStreamInferResponse> written_;
  int pending_ = 0;        // requests read and not yet written; guarded by mu_
  bool reading_ = true;    // guarded by mu_
  bool finished_ = false;  // guarded by mu_
};

grpc::ServerBidiReactor<ModelInferRequest, ModelStreamInferResponse>* Service::ModelStreamInfer(
    grpc::CallbackServerContext* context) {
  return new StreamReactor(engine_, answers_, memory_, context);
}

}  // namespace

struct GrpcServer::Impl {
  explicit Impl(int answer_threads) : answers(static_cast<size_t>(answer_threads)) {}
  boost::asio::thread_pool answers;  // before the server: its calls post here until shut down
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  std::once_flag shut_down;
};

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

GrpcServer::~GrpcServer() { Shutdown(std::chrono::system_clock::now()); }

StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const GrpcServerOptions& options,
                                                        Engine& engine, ModelControl& control) {
  // Debian builds Abseil without NDEBUG, so the Mutex gRPC locks throughout would check every
  // lock order against a process-wide graph, under a lock of its own: 1–2% of the server's CPU
  // under gRPC load, in a profile. Tandem's own locks are checked by the TSan run instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto impl = std::make_unique<Impl>(std::max(1, options.answer_threads));
  impl->service =
      std::make_unique<Service>(engine, control, impl->answers, *options.request_memory);
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
  builder.RegisterService(impl->service.get());
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || port == 0) {
    return Unavailable("cannot serve gRPC on " + address +
                       " (is the port taken? --grpc-port sets it, --allow-grpc=false turns gRPC "
                       "off)");
  }
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl), port));
}

void GrpcServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  std::call_once(impl_->shut_down, [&] { impl_->server->Shutdown(deadline); });
}

}  // namespace tandem
