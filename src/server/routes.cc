#include "server/routes.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "metrics/prometheus_text.h"
#include "server/http_status.h"
#include "server/json_util.h"
#include "server/model_json.h"
#include "server/npy_codec.h"
#include "server/v2_codec.h"

namespace tandem {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kNpy = "application/x-npy";
constexpr std::string_view kPng = "image/png";
// A v2 request or response with binary data, whose JSON part's length travels in the content
// type (json-header-size=N): SageMaker passes no other request header to the container.
constexpr std::string_view kSageMakerBinary = "application/vnd.sagemaker-triton.binary+json";

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse NoRoute(const HttpRequest& request) {
  return ErrorResponse(404, "no route for " + request.method + " " + request.target);
}

HttpResponse MethodNotAllowed(const HttpRequest& request, const char* allowed) {
  HttpResponse r = ErrorResponse(
      405, request.method + " is not allowed on " + request.target + "; use " + allowed);
  r.headers.emplace_back("Allow", allowed);
  return r;
}

// The v2 health convention: 200 means true, 400 false.
HttpResponse Health(bool yes) {
  return JsonResponse(yes ? 200 : 400, yes ? R"({"ready":true})" : R"({"ready":false})");
}

// Splits "/v2/models/m/ready?x=1" into {"v2", "models", "m", "ready"}.
std::vector<std::string> PathParts(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= target.size()) {
    size_t end = target.find('/', start);
    if (end == std::string_view::npos) end = target.size();
    if (end > start) parts.emplace_back(target.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// The non-empty items of a comma-separated header value ("image/png, */*;q=0.8").
std::vector<std::string_view> SplitList(std::string_view value) {
  std::vector<std::string_view> items;
  while (!value.empty()) {
    const size_t comma = std::min(value.find(','), value.size());
    std::string_view item = value.substr(0, comma);
    if (item.find_first_not_of(' ') != std::string_view::npos) items.push_back(item);
    value.remove_prefix(std::min(comma + 1, value.size()));
  }
  return items;
}

// The media type of a Content-Type or Accept value, without parameters, lower-cased.
std::string MediaType(std::string_view value) {
  value = value.substr(0, value.find(';'));
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  std::string out(value);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

StatusOr<std::optional<size_t>> JsonLength(const HttpRequest& request) {
  const std::string* header = request.FindHeader("Inference-Header-Content-Length");
  if (header == nullptr) return std::optional<size_t>();
  std::string_view value = *header;
  size_t length = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
  if (ec != std::errc() || end != value.data() + value.size()) {
    return InvalidArgument("Inference-Header-Content-Length '" + std::string(value) +
                           "' is not a byte count");
  }
  return std::optional<size_t>(length);
}

// The json-header-size parameter of a SageMaker binary content type
// ("application/vnd.sagemaker-triton.binary+json;json-header-size=123"), or INVALID_ARGUMENT
// naming what is wrong with it.
StatusOr<size_t> JsonHeaderSize(std::string_view content_type) {
  auto trimmed = [](std::string_view text) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    return text;
  };
  const std::string shown = "Content-Type '" + std::string(content_type) + "'";
  for (size_t at = content_type.find(';'); at != std::string_view::npos;
       at = content_type.find(';', at + 1)) {
    const std::string_view param =
        content_type.substr(at + 1, content_type.find(';', at + 1) - at - 1);
    const size_t equals = param.find('=');
    if (MediaType(trimmed(param.substr(0, equals))) != "json-header-size") continue;
    const std::string_view value =
        equals == std::string_view::npos ? "" : trimmed(param.substr(equals + 1));
    size_t length = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
      return InvalidArgument(shown + ": json-header-size '" + std::string(value) +
                             "' is not a byte count");
    }
    return length;
  }
  return InvalidArgument(shown + " needs json-header-size=N, the byte count of its JSON part");
}

// A v2 response. With binary data, its JSON part's length is in Inference-Header-Content-Length
// and, for SageMaker's routes (`sagemaker`), in the content type too.
HttpResponse EncodeV2(const InferResponse& response, const OutputEncoding& encoding,
                      bool sagemaker) {
  EncodedResponse encoded = EncodeInferResponse(response, encoding);
  HttpResponse r;
  r.body = std::move(encoded.body);
  if (encoded.json_length) {
    const std::string length = std::to_string(*encoded.json_length);
    r.content_type = sagemaker ? std::string(kSageMakerBinary) + ";json-header-size=" + length
                               : "application/octet-stream";
    r.headers.emplace_back("Inference-Header-Content-Length", length);
  }
  return r;
}

// The PNG file a response holds as its only output (one BYTES element), if it holds one: what
// a pipeline ending in image.encode_png answers. The view points into the response's tensor.
std::optional<std::string_view> SoleImage(const InferResponse& response) {
  if (response.outputs.size() != 1 || response.outputs[0].tensor.dtype() != DataType::kBytes) {
    return std::nullopt;
  }
  const std::vector<std::string_view> elements = response.outputs[0].tensor.Strings();
  if (elements.size() != 1 ||
      elements[0].substr(0, 8) != std::string_view("\x89PNG\r\n\x1a\n", 8)) {
    return std::nullopt;
  }
  return elements[0];
}

// The content type SageMaker clients send for an image, by its canonical name: image/jpg and
// image/x-png are common spellings of image/jpeg and image/png.
std::string CanonicalImageType(std::string type) {
  if (type == "image/jpg" || type == "image/pjpeg") return "image/jpeg";
  if (type == "image/x-png") return std::string(kPng);
  return type;
}

// The first BYTES output's first element, as an image/png body.
HttpResponse EncodePngResponse(const InferResponse& response) {
  for (const NamedTensor& output : response.outputs) {
    if (output.tensor.dtype() != DataType::kBytes) continue;
    std::vector<std::string_view> elements = output.tensor.Strings();
    if (elements.empty()) break;
    HttpResponse r;
    r.content_type = std::string(kPng);
    r.body = std::string(elements[0]);
    return r;
  }
  return ErrorResponse(406, "Accept: image/png needs a BYTES output holding a PNG, and model '" +
                                response.model + "' returned none; ask for application/json");
}

HttpResponse EncodeNpyResponse(const InferResponse& response) {
  if (response.outputs.size() != 1) {
    return ErrorResponse(406, "Accept: application/x-npy returns one output, but model '" +
                                  response.model + "' returned " +
                                  std::to_string(response.outputs.size()) +
                                  "; ask for application/json");
  }
  auto npy = EncodeNpy(response.outputs[0].tensor);
  if (!npy.ok()) return StatusResponse(npy.status());
  HttpResponse r;
  r.content_type = std::string(kNpy);
  r.body = std::move(*npy);
  return r;
}

// A model name and version from a URL or header, checked before any lookup: a name as the
// repository allows it (config/model_config.h), a version of digits.
Status CheckModelAndVersion(const std::string& model, const std::string& version) {
  auto shown = [](const std::string& s) { return s.size() > 64 ? s.substr(0, 64) + "..." : s; };
  if (!IsValidModelName(model)) {
    return InvalidArgument("'" + shown(model) +
                           "' is not a valid model name (1 to 128 letters, digits, '_', '-' "
                           "and '.', not starting with '.')");
  }
  const bool digits =
      !version.empty() && version.size() <= 18 &&
      std::all_of(version.begin(), version.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!version.empty() && !digits) {
    return InvalidArgument("'" + shown(version) + "' is not a version number");
  }
  return Status::Ok();
}

// An optional JSON body (`what` names the request in the message): empty, or an object.
Status OptionalJsonObject(const std::string& body, const char* what,
                          rapidjson::Document* out = nullptr) {
  if (body.empty()) return Status::Ok();
  rapidjson::Document doc;
  RETURN_IF_ERROR(ParseJson(body, doc));
  if (!doc.IsObject()) {
    return InvalidArgument(std::string("the ") + what + " request body must be a JSON object");
  }
  if (out != nullptr) *out = std::move(doc);
  return Status::Ok();
}

// "%2F"-style escapes decoded (a malformed one is kept as it is).
std::string PercentDecoded(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    auto hex = [&](size_t at) { return std::isxdigit(static_cast<unsigned char>(text[at])); };
    if (text[i] == '%' && i + 2 < text.size() && hex(i + 1) && hex(i + 2)) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// The value of query parameter `key` in `target` ("/models?next_page_token=3"), or nullopt.
std::optional<std::string> QueryParameter(std::string_view target, std::string_view key) {
  const size_t question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const std::string_view item = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), item.size() + 1));
    if (item.substr(0, item.find('=')) == key) {
      return item.find('=') == std::string_view::npos
                 ? ""
                 : PercentDecoded(item.substr(item.find('=') + 1));
    }
  }
  return std::nullopt;
}

// Answers through another exchange, adding the request's X-Amzn-SageMaker-Custom-Attributes to
// the response: SageMaker returns them to the client only when the container sets them.
class EchoCustomAttributes final : public HttpExchange {
 public:
  EchoCustomAttributes(std::shared_ptr<HttpExchange> inner, std::string attributes)
      : inner_(std::move(inner)), attributes_(std::move(attributes)) {}
  const HttpRequest& request() const override { return inner_->request(); }
  void Post(std::function<void()> fn) override { inner_->Post(std::move(fn)); }
  void Reply(HttpResponse response) override {
    response.headers.emplace_back("X-Amzn-SageMaker-Custom-Attributes", attributes_);
    inner_->Reply(std::move(response));
  }

 private:
  const std::shared_ptr<HttpExchange> inner_;
  const std::string attributes_;
};

constexpr size_t kModelsPerPage = 100;  // GET /models

}  // namespace

HttpResponse StatusResponse(const Status& status) {
  HttpResponse r = ErrorResponse(HttpStatusFor(status.code()), status.message());
  if (r.status == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

Routes::Routes(Engine& engine, RouteOptions options)
    : engine_(engine),
      options_(std::move(options)),
      metrics_(engine, *options_.http_counters, *options_.request_memory) {}

void Routes::Handle(std::shared_ptr<HttpExchange> exchange) {
  const HttpRequest& request = exchange->request();
  const std::vector<std::string> parts = PathParts(request.target);
  auto is = [&](std::initializer_list<std::string_view> path) {
    return std::equal(parts.begin(), parts.end(), path.begin(), path.end());
  };
  // Each route takes one method.
  auto route = [&](const char* method, auto&& handler) {
    if (request.method != method) return exchange->Reply(MethodNotAllowed(request, method));
    handler();
  };
  if (is({"ping"})) return route("GET", [&] { Ping(*exchange); });
  if (const std::string* attributes = request.FindHeader("X-Amzn-SageMaker-Custom-Attributes");
      attributes != nullptr && (is({"invocations"}) || (parts.size() == 3 && parts[0] == "models" &&
                                                        parts[2] == "invoke"))) {
    exchange = std::make_shared<EchoCustomAttributes>(std::move(exchange), *attributes);
  }
  if (is({"invocations"})) return route("POST", [&] { Invocations(exchange); });
  if (options_.multi_model != nullptr && !parts.empty() && parts[0] == "models") {
    return MultiModelRoute(exchange, parts);
  }
  if (is({"v2"})) {
    return route("GET", [&] { exchange->Reply(JsonResponse(200, ServerMetadataJson())); });
  }
  if (is({"v2", "health", "live"})) return route("GET", [&] { exchange->Reply(Health(true)); });
  if (is({"v2", "health", "ready"})) {
    return route("GET", [&] { exchange->Reply(Ready(engine_.Ready())); });
  }
  if (is({"metrics"})) {
    return route("GET", [&] {
      HttpResponse r;
      r.content_type = std::string(PrometheusText::kContentType);
      r.body = metrics_.Render();
      exchange->Reply(std::move(r));
    });
  }
  if (is({"v2", "repository", "index"})) {
    return route("POST", [&] {
      // v2: {"ready": bool}, optional.
      if (Status body = OptionalJsonObject(*request.body, "index"); !body.ok()) {
        return exchange->Reply(StatusResponse(body));
      }
      exchange->Reply(JsonResponse(200, RepositoryIndexJson(engine_.Index())));
    });
  }
  if (parts.size() == 5 && parts[0] == "v2" && parts[1] == "repository" && parts[2] == "models" &&
      (parts[4] == "load" || parts[4] == "unload")) {
    return route("POST", [&] { ModelControlRoute(exchange, parts[3], parts[4] == "load"); });
  }
  if (is({"v2", "models", "stats"})) return route("GET", [&] { Stats(*exchange, "", ""); });
  if (parts.size() >= 3 && parts[0] == "v2" && parts[1] == "models") {
    return ModelRoute(std::move(exchange), parts);
  }
  exchange->Reply(NoRoute(request));
}

// POST /v2/repository/models/{m}/load|unload: the load or unload runs on the model control
// thread and the answer (200 with an empty body, or the error) comes from there.
void Routes::ModelControlRoute(const std::shared_ptr<HttpExchange>& exchange,
                               const std::string& model, bool load) {
  if (Status name = CheckModelAndVersion(model, ""); !name.ok()) {
    return exchange->Reply(StatusResponse(name));
  }
  // v2: {"parameters": {...}}, optional. Loading takes no files or config from the request:
  // models load from the repository only, by name.
  rapidjson::Document doc;
  if (Status body = OptionalJsonObject(*exchange->request().body, "load", &doc); !body.ok()) {
    return exchange->Reply(StatusResponse(body));
  }
  if (doc.IsObject() && doc.HasMember("parameters") && doc["parameters"].IsObject()) {
    for (const auto& param : doc["parameters"].GetObject()) {
      const std::string key = param.name.GetString();
      if (key == "unload_dependents") continue;
      return exchange->Reply(ErrorResponse(
          400, "parameter '" + key +
                   "' is not supported: models load from the repository only, by name"));
    }
  }
  auto answer = [exchange](Status status) {
    // A model that does not fit its devices' memory limits is the request's problem, not a
    // server fault to retry: 400, as Triton answers a failed load.
    if (status.code() == StatusCode::kResourceExhausted) {
      return exchange->Reply(ErrorResponse(400, status.message()));
    }
    if (!status.ok()) return exchange->Reply(StatusResponse(status));
    HttpResponse r;
    r.status = 200;
    exchange->Reply(std::move(r));
  };
  if (load) {
    options_.control->Load(model, std::move(answer));
  } else {
    options_.control->Unload(model, std::move(answer));
  }
}

// Readiness in the v2 convention, except while draining: then 503, as for /ping, so that load
// balancers and SageMaker take the instance out of rotation.
HttpResponse Routes::Ready(bool ready) const {
  if (engine_.draining()) return StatusResponse(Unavailable("the server is shutting down"));
  return Health(ready);
}

void Routes::Ping(HttpExchange& exchange) {
  if (engine_.draining()) {
    return exchange.Reply(StatusResponse(Unavailable("the server is shutting down")));
  }
  // A multi-model endpoint's /ping is liveness: SageMaker loads the models afterwards.
  if (options_.multi_model != nullptr) {
    return exchange.Reply(JsonResponse(200, "{\"status\":\"healthy\"}"));
  }
  if (engine_.Ready()) return exchange.Reply(JsonResponse(200, "{\"status\":\"healthy\"}"));
  std::string waiting;
  for (const ModelVersionInfo& info : engine_.Index()) {
    if (info.state == ModelState::kReady) continue;
    waiting += (waiting.empty() ? "" : ", ") + info.name +
               (info.version.empty() ? "" : "/" + info.version) + " " +
               std::string(ModelStateName(info.state)) +
               (info.reason.empty() ? "" : " (" + info.reason + ")");
  }
  exchange.Reply(StatusResponse(Unavailable("not ready: " + waiting)));
}

// /v2/models/{m}[/versions/{v}][/ready|/config|/infer]
void Routes::ModelRoute(std::shared_ptr<HttpExchange> exchange,
                        const std::vector<std::string>& parts) {
  const HttpRequest& request = exchange->request();
  const std::string& model = parts[2];
  std::string version;
  size_t next = 3;
  if (parts.size() >= 5 && parts[3] == "versions") {
    version = parts[4];
    next = 5;
  }
  const std::string action = next < parts.size() ? parts[next] : "";
  if (next + 1 < parts.size() || (next < parts.size() && action != "ready" && action != "config" &&
                                  action != "infer" && action != "stats")) {
    return exchange->Reply(NoRoute(request));
  }
  if (Status names = CheckModelAndVersion(model, version); !names.ok()) {
    return exchange->Reply(StatusResponse(names));
  }
  const char* allowed = action == "infer" ? "POST" : "GET";
  if (request.method != allowed) return exchange->Reply(MethodNotAllowed(request, allowed));
  if (action == "infer") return V2Infer(std::move(exchange), model, version);
  if (action == "stats") return Stats(*exchange, model, version);
  auto config = engine_.Config(model, version);
  if (!config.ok()) return exchange->Reply(StatusResponse(config.status()));
  if (action == "ready") {
    auto info = engine_.Info(model, version);
    return exchange->Reply(Ready(info.ok() && info->state == ModelState::kReady));
  }
  if (action == "config") return exchange->Reply(JsonResponse(200, ModelConfigJson(**config)));
  // The model may have been unloaded since its config was read: then this is a 404 too.
  auto versions = engine_.Versions(model);
  if (!versions.ok()) return exchange->Reply(StatusResponse(versions.status()));
  if (!version.empty()) *versions = {version};
  exchange->Reply(JsonResponse(200, ModelMetadataJson(**config, *versions)));
}

void Routes::Stats(HttpExchange& exchange, const std::string& model, const std::string& version) {
  auto reports = engine_.Stats(model, version);
  if (!reports.ok()) return exchange.Reply(StatusResponse(reports.status()));
  exchange.Reply(JsonResponse(200, ModelStatsJson(*reports)));
}

void Routes::V2Infer(std::shared_ptr<HttpExchange> exchange, const std::string& model,
                     const std::string& version) {
  const HttpRequest& request = exchange->request();
  auto json_length = JsonLength(request);
  if (!json_length.ok()) return exchange->Reply(StatusResponse(json_length.status()));
  StatusOr<DecodedRequest> decoded = InvalidArgument("unset");
  if (*json_length == std::optional<size_t>(0)) {
    auto config = engine_.Config(model, version);
    if (!config.ok()) return exchange->Reply(StatusResponse(config.status()));
    decoded = DecodeRawInferRequest(request.body, **config);
  } else {
    decoded = DecodeInferRequest(request.body, *json_length);
  }
  if (!decoded.ok()) return exchange->Reply(StatusResponse(decoded.status()));
  decoded->request.model = model;
  decoded->request.version = version;
  RunInfer(std::move(exchange), std::move(decoded->request), std::move(decoded->encoding),
           ResponseFormat::kV2, /*sagemaker=*/false);
}

// SageMaker multi-model endpoints: /models, /models/{name}, /models/{name}/invoke.
void Routes::MultiModelRoute(const std::shared_ptr<HttpExchange>& exchange,
                             const std::vector<std::string>& parts) {
  const HttpRequest& request = exchange->request();
  MultiModel& models = *options_.multi_model;
  auto answer = [exchange](Status status) {
    if (status.ok()) return exchange->Reply(JsonResponse(200, "{}"));
    // SageMaker's contract: an artifact that does not fit in memory is 507, so it loads the
    // model on another instance (or unloads others first).
    if (status.code() == StatusCode::kResourceExhausted) {
      return exchange->Reply(ErrorResponse(507, status.message()));
    }
    exchange->Reply(StatusResponse(status));
  };
  auto method = [&](const char* wanted) {
    if (request.method == wanted) return true;
    exchange->Reply(MethodNotAllowed(request, wanted));
    return false;
  };
  if (parts.size() == 1 && request.method == "POST") {
    rapidjson::Document doc;
    if (Status parsed = ParseJson(*request.body, doc); !parsed.ok()) return answer(parsed);
    if (!doc.IsObject() || !doc.HasMember("model_name") || !doc["model_name"].IsString() ||
        !doc.HasMember("url") || !doc["url"].IsString()) {
      return answer(
          InvalidArgument(R"(the body must be {"model_name": "...", "url": "..."}, both strings)"));
    }
    const std::string name = doc["model_name"].GetString();
    if (name.empty()) return answer(InvalidArgument("model_name is empty"));
    return models.Add(name, doc["url"].GetString(), answer);
  }
  if (parts.size() == 1) {
    if (!method("GET")) return;
    const std::vector<MultiModel::Artifact> all = models.List();
    size_t first = 0;
    if (auto token = QueryParameter(request.target, "next_page_token")) {
      const bool digits =
          !token->empty() && token->size() < 10 &&
          std::all_of(token->begin(), token->end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || std::stoul(*token) > all.size()) {
        return answer(InvalidArgument("next_page_token '" + *token + "' is not one this gave"));
      }
      first = std::stoul(*token);
    }
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    w.Key("models");
    w.StartArray();
    const size_t end = std::min(all.size(), first + kModelsPerPage);
    for (size_t i = first; i < end; ++i) {
      w.StartObject();
      WriteField(w, "modelName", all[i].name);
      WriteField(w, "modelUrl", all[i].url);
      w.EndObject();
    }
    w.EndArray();
    if (end < all.size()) WriteField(w, "nextPageToken", std::to_string(end));
    w.EndObject();
    return exchange->Reply(JsonResponse(200, buffer.GetString()));
  }
  const std::string name = PercentDecoded(parts[1]);
  std::optional<MultiModel::Artifact> artifact = models.Find(name);
  if (parts.size() == 2 && request.method == "DELETE") return models.Remove(name, answer);
  if (!artifact) return answer(NotFound("model '" + name + "' is not loaded"));
  if (parts.size() == 2) {
    if (!method("GET")) return;
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartObject();
    WriteField(w, "modelName", artifact->name);
    WriteField(w, "modelUrl", artifact->url);
    w.EndObject();
    return exchange->Reply(JsonResponse(200, buffer.GetString()));
  }
  if (parts.size() == 3 && parts[2] == "invoke") {
    if (!method("POST")) return;
    auto target = models.InvokeTarget(*artifact,
                                      std::string(request.Header("X-Amzn-SageMaker-Target-Model")));
    if (!target.ok()) return answer(target.status());
    return Invocations(exchange, *target);
  }
  exchange->Reply(NoRoute(request));
}

void Routes::Invocations(std::shared_ptr<HttpExchange> exchange, std::string model) {
  const HttpRequest& request = exchange->request();
  if (model.empty()) model = request.Header("X-Amzn-SageMaker-Target-Model");
  if (model.empty()) model = options_.default_model;
  if (model.empty()) {
    const std::vector<std::string> names = engine_.ModelNames();
    if (names.size() != 1) {
      return exchange->Reply(ErrorResponse(
          400, "the repository serves " + std::to_string(names.size()) +
                   " models; name one with the X-Amzn-SageMaker-Target-Model header or "
                   "--default-model"));
    }
    model = names[0];
  }
  if (Status name = CheckModelAndVersion(model, ""); !name.ok()) {
    return exchange->Reply(StatusResponse(name));
  }

  // Accept may list several types (with q-values, ignored): the first one Tandem can answer.
  std::optional<ResponseFormat> format;
  const std::string_view accept_header = request.Header("Accept");
  const std::vector<std::string_view> accepted = SplitList(accept_header);
  if (accepted.empty()) format = ResponseFormat::kImage;  // no Accept: as */*
  for (std::string_view item : accepted) {
    const std::string type = MediaType(item);
    if (type == "*/*") {
      format = ResponseFormat::kImage;
    } else if (type == kJson || type == kSageMakerBinary || type == "application/*") {
      format = ResponseFormat::kV2;
    } else if (type == kNpy) {
      format = ResponseFormat::kNpy;
    } else if (type == kPng) {
      format = ResponseFormat::kPng;
    } else if (type == "image/*") {
      format = ResponseFormat::kImageOnly;
    }
    if (format) break;
  }
  if (!format) {
    return exchange->Reply(ErrorResponse(
        406, "Accept '" + std::string(accept_header) +
                 "' is not supported; use application/json, application/x-npy, image/png, "
                 "image/* or */*"));
  }

  const std::string content_type = CanonicalImageType(MediaType(request.Header("Content-Type")));
  DecodedRequest decoded;
  if (content_type.empty() || content_type == kJson || content_type == kSageMakerBinary) {
    StatusOr<std::optional<size_t>> json_length = JsonLength(request);
    if (content_type == kSageMakerBinary) {
      auto size = JsonHeaderSize(request.Header("Content-Type"));
      json_length = size.ok() ? StatusOr<std::optional<size_t>>(*size) : size.status();
    }
    if (!json_length.ok()) return exchange->Reply(StatusResponse(json_length.status()));
    auto d = DecodeInferRequest(request.body, *json_length);
    if (!d.ok()) return exchange->Reply(StatusResponse(d.status()));
    decoded = std::move(*d);
  } else if (content_type == kNpy || content_type == "image/jpeg" || content_type == kPng) {
    // One array (npy) or one encoded image for the only input of the model.
    auto config = engine_.Config(model, "");
    if (!config.ok()) return exchange->Reply(StatusResponse(config.status()));
    if ((*config)->inputs.size() != 1) {
      return exchange->Reply(ErrorResponse(
          400, "a " + content_type + " body is one input, but model '" + model + "' takes " +
                   std::to_string((*config)->inputs.size()) + " inputs; send application/json"));
    }
    const TensorConfig& input = (*config)->inputs[0];
    StatusOr<Tensor> tensor = InvalidArgument("unset");
    if (content_type == kNpy) {
      tensor = DecodeNpy(request.body);
    } else if (input.dtype != DataType::kBytes) {
      tensor = InvalidArgument("a " + content_type + " body feeds a BYTES input, but input '" +
                               input.name + "' of model '" + model + "' is " +
                               std::string(DataTypeName(input.dtype)));
    } else {
      // The encoded image is the single element of the input; its shape is the config's
      // ([1], or [1, 1] ...), which holds one element.
      tensor =
          Tensor::FromStrings(input.shape.IsFixed() ? input.shape : Shape({1}), {*request.body});
    }
    if (!tensor.ok()) return exchange->Reply(StatusResponse(tensor.status()));
    decoded.request.inputs.push_back({input.name, std::move(*tensor)});
  } else {
    return exchange->Reply(ErrorResponse(
        415, "Content-Type '" + std::string(request.Header("Content-Type")) +
                 "' is not supported; use application/json, application/x-npy, image/jpeg "
                 "(image/jpg) or image/png (image/x-png)"));
  }
  decoded.request.model = model;
  RunInfer(std::move(exchange), std::move(decoded.request), std::move(decoded.encoding), *format,
           /*sagemaker=*/true);
}

void Routes::RunInfer(std::shared_ptr<HttpExchange> exchange, InferRequest request,
                      OutputEncoding encoding, ResponseFormat format, bool sagemaker) {
  // The inputs decoded as copies of the body (JSON values, say) are request memory too.
  const HttpRequest& http = exchange->request();
  if (http.memory != nullptr) {
    if (Status held = http.memory->AddCopies(http.body.get(), request.inputs); !held.ok()) {
      return exchange->Reply(StatusResponse(held));
    }
  }
  // The request id is the client's X-Request-Id, else the v2 body's "id", else the server's.
  std::string request_id = exchange->request().id;
  if (exchange->request().FindHeader("X-Request-Id") == nullptr && IsUsableRequestId(request.id)) {
    request_id = request.id;
  }
  engine_.Infer(std::move(request), [exchange, encoding = std::move(encoding), format, sagemaker,
                                     request_id](StatusOr<InferResponse> result) mutable {
    // Completion runs on an instance worker; encoding belongs on the connection's I/O thread.
    exchange->Post([exchange, encoding = std::move(encoding), format, sagemaker, request_id,
                    result = std::move(result)]() {
      HttpResponse response;
      if (!result.ok()) {
        if (result.status().code() == StatusCode::kInternal) {
          spdlog::warn("request {}: {} {}: {}", request_id, exchange->request().method,
                       exchange->request().target, result.status().message());
        }
        response = StatusResponse(result.status());
      } else if (format == ResponseFormat::kNpy) {
        response = EncodeNpyResponse(*result);
      } else if (format == ResponseFormat::kPng) {
        response = EncodePngResponse(*result);
      } else if (format == ResponseFormat::kImage || format == ResponseFormat::kImageOnly) {
        if (std::optional<std::string_view> image = SoleImage(*result)) {
          response.content_type = std::string(kPng);
          response.body = std::string(*image);
        } else if (format == ResponseFormat::kImageOnly) {
          response = ErrorResponse(406,
                                   "Accept: image/* needs a model whose only output is an "
                                   "image, and model '" +
                                       result->model +
                                       "' returns other outputs; ask for application/json");
        } else {
          response = EncodeV2(*result, encoding, sagemaker);
        }
      } else {
        response = EncodeV2(*result, encoding, sagemaker);
      }
      response.headers.emplace_back("X-Request-Id", request_id);
      exchange->Reply(std::move(response));
    });
  });
}

}  // namespace tandem
